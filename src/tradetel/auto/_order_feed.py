"""Orders that an instrumented exchange client places, cancels and reports, fed to the
order tracker (``tradetel.orders.default_tracker``).

A placed order is submitted at the call's start and acknowledged (or refused) at its end;
later reports - fetched orders, trades - move it on. Only orders placed through the
instrumented client in this process are followed; others' ids are ignored, not counted as
anomalies.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

#: Order ids remembered per client, to find the tracker's order from a report by venue id.
MAX_REMEMBERED = 100_000


@dataclass
class Intent:
    """An order as the program asked for it."""

    venue: str
    symbol: str | None
    side: str | None
    order_type: str | None
    quantity: float | None
    price: float | None
    client_id: str | None


@dataclass
class Report:
    """An order as the venue reported it; ``status`` is one of SEMCONV's order statuses."""

    order_id: str | None
    client_id: str | None
    status: str | None
    filled: float | None = None  # cumulative
    average: float | None = None


class OrderFeed:
    """Feeds one client's orders to the order tracker (``tradetel.orders.default_tracker``)."""

    def __init__(self) -> None:
        from ..orders import default_tracker

        self.tracker = default_tracker
        self._keys: OrderedDict[str, str] = OrderedDict()  # venue order id -> tracker key
        self._lock = threading.Lock()  # a sync client may be shared by threads
        # per tracker key: the trade ids seen and the quantity they add up to
        self._trades: OrderedDict[str, tuple[set[str], float]] = OrderedDict()

    def _submit(self, key: str, intent: Intent, t0: float, order_id: str | None = None) -> None:
        self.tracker.submitted(
            key, venue=intent.venue, symbol=intent.symbol, side=intent.side,
            order_type=intent.order_type, quantity=intent.quantity or 0.0, price=intent.price,
            order_id=order_id, ts=t0,
        )  # fmt: skip

    def _remember(self, order_id: str | None, key: str) -> None:
        if order_id is None:
            return
        with self._lock:
            self._keys[order_id] = key
            self._keys.move_to_end(order_id)
            while len(self._keys) > MAX_REMEMBERED:
                self._keys.popitem(last=False)

    def key_for(self, report: Report) -> str | None:
        """The tracker's key for a reported order placed here, else None."""
        if report.order_id is not None:
            with self._lock:
                key = self._keys.get(report.order_id)
            if key is not None:
                return key
        if report.client_id is not None and self.tracker.get(report.client_id) is not None:
            return report.client_id
        return None

    def placed(self, intent: Intent, report: Report, t0: float, t1: float) -> None:
        """The venue answered a new order (``t0``/``t1``: the call's start and end)."""
        key = report.client_id or intent.client_id or report.order_id
        if key is None or intent.quantity is None or intent.quantity <= 0:
            return
        self._submit(key, intent, t0, report.order_id)
        self._remember(report.order_id, key)
        if report.status in (None, "new"):
            report.status = "acked"  # the answer to a REST order is its acknowledgement
        self.reported(report, t1, key)

    def refused(self, intent: Intent, reason: object, t0: float, t1: float) -> None:
        """The venue refused a new order."""
        key = intent.client_id or f"refused-{time.time_ns():x}"
        # the tracker follows no order without a positive quantity (it would count a bad input
        # and then an unknown order): one the venue refused for it is only the call's error
        if intent.quantity is None or intent.quantity <= 0:
            return
        already_open = self.tracker.get(key) is not None
        self._submit(key, intent, t0)  # for an id already open: counted as a duplicate, no more
        if not already_open:  # a refused resend (after a timeout) must not end the live order
            self.tracker.rejected(key, reason=reason, ts=t1)

    def unknown(self, intent: Intent, t0: float) -> None:
        """A new order whose fate the call could not tell (a timeout): open, if findable."""
        if intent.client_id is None or intent.quantity is None or intent.quantity <= 0:
            return  # without an id no later report could find it: it would look stuck
        self._submit(intent.client_id, intent, t0)

    def canceled(self, report: Report, t0: float, t1: float) -> None:
        """A cancel that the venue confirmed."""
        key = self.key_for(report)
        if key is None:
            return
        self.tracker.cancel_requested(key, ts=t0)
        if report.status in (None, "canceled"):
            report.status = "canceled"
        self.reported(report, t1, key)

    def replaced(
        self,
        old_id: str | None,
        report: Report,
        t0: float,
        t1: float,
        quantity: float | None = None,
        price: float | None = None,
    ) -> None:
        """An amend: a venue that made it a new order (a new id) ended the old one, and the
        new one is followed from here (with the old one's symbol, side and type)."""
        key = self.key_for(Report(old_id, None, None))
        view = self.tracker.get(key) if key is not None else None
        if view is None:
            return
        if report.order_id is None or report.order_id == old_id:
            self.reported(report, t1, key)
            return
        self.canceled(Report(old_id, None, "canceled"), t0, t1)
        intent = Intent(
            venue=view["venue"], symbol=view["symbol"], side=view["side"],
            order_type=view["order_type"], quantity=quantity or view["quantity"], price=price,
            client_id=None,
        )  # fmt: skip
        self.placed(intent, report, t0, t1)

    def cancel_requested(self, report: Report, t0: float) -> None:
        """A cancel that the venue accepted, to be confirmed by a later report."""
        key = self.key_for(report)
        if key is not None:
            self.tracker.cancel_requested(key, ts=t0)

    def reported(self, report: Report, ts: float, key: str | None = None) -> None:
        """A report of an order placed here: ack, fills up to ``filled``, end."""
        key = key or self.key_for(report)
        if key is None:
            return
        view = self.tracker.get(key)
        if view is None:
            return  # it ended already: an old report, nothing new
        if view["status"] == "new" and report.status not in (None, "new", "rejected"):
            self.tracker.acked(key, order_id=report.order_id, ts=ts)
        filled = report.filled
        if report.status == "filled" and filled is None:
            filled = view["quantity"]
        if filled is not None and filled > view["filled_quantity"]:
            self.tracker.filled(
                key, filled - view["filled_quantity"], _fill_price(view, filled, report.average),
                cumulative_quantity=filled, ts=ts,
            )  # fmt: skip
        if report.status == "canceled":
            self.tracker.canceled(key, ts=ts)
        elif report.status == "expired":
            self.tracker.expired(key, ts=ts)
        elif report.status == "rejected":
            self.tracker.rejected(key, reason="rejected by the venue", ts=ts)

    def trade(
        self, order_id: str | None, quantity: float, price: float, exec_id: Any, ts: float
    ) -> None:
        """A trade (execution) of an order placed here that is still open.

        Its quantity goes to the tracker as the order's running total of the trades seen, so
        that trades and cumulative reports (``reported``) of the same fills count them once.
        """
        key = self.key_for(Report(order_id, None, None))
        if key is None:
            return
        view = self.tracker.get(key)
        with self._lock:
            if view is None:  # ended: its trades are old news, not late reports
                self._trades.pop(key, None)
                return
            seen, total = self._trades.pop(key, (set(), 0.0))
            new = exec_id is None or str(exec_id) not in seen
            if new:
                if exec_id is not None:
                    seen.add(str(exec_id))
                total += quantity
            self._trades[key] = (seen, total)
            while len(self._trades) > MAX_REMEMBERED:
                self._trades.popitem(last=False)
        if new and total > view["filled_quantity"]:  # else a report counted these fills
            self.tracker.filled(key, quantity, price, cumulative_quantity=total, ts=ts)


def _fill_price(view: dict[str, Any], filled: float, average: float | None) -> Any:
    """The price of the newly filled part, from the order's average before and after it;
    None when the venue gave none (the tracker counts the quantity, and the bad input)."""
    before, before_avg = view["filled_quantity"], view["average_price"]
    if average is None:
        return None
    if not before or before_avg is None:
        return average
    price = (average * filled - before_avg * before) / (filled - before)
    return price if price > 0 else average
