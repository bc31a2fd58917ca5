"""The order lifecycle: one tracker, fed the venue's execution reports as they arrive.

    from tradetel import orders

    orders.submitted("c-42", venue="binance", symbol="BTC/USDT", side="buy",
                     order_type="limit", quantity=0.5, price=64_000, arrival_price=64_010)
    ...                                     # later, from a websocket or a poll:
    orders.acked("c-42", order_id="8123")
    orders.filled("c-42", 0.2, 64_000)      # partial
    orders.filled("c-42", 0.3, 63_990)      # complete: the order leaves the tracker

Each event is counted (``trading.order.events``) and timed against the submit
(``trading.order.latency`` by stage); a completed order gives its fill ratio and slippage.
The submit is a short CLIENT span, and each later report a short span *linked* to it, so
nothing stays open while an order rests on the book. Venues send reports late, twice and out
of order: such events are counted in ``tradetel.order.anomalies``, never raised, and never
make a negative latency. Terminal orders leave the tracker, and the number of open orders it
keeps is capped (evictions are counted).

``orders.submitted`` and the other functions of this module use the process's default
tracker; ``OrderTracker()`` makes another (with its own cap, or for tests). Every tracker
records into the same metrics.
"""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import semconv as sc
from . import tick_to_trade
from ._decorators import _label as label
from ._internal import report_internal_error
from ._metrics import add_source, gauge_metric, sum_metric
from ._order_events import ANOMALIES as ANOMALIES_COUNTER
from ._order_events import EVICTED, Emitter, Order
from ._order_span import OrderHandle, order_span
from ._runtime import STATE
from ._scrub import scrub_message
from .tick_to_trade import to_ns

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric

__all__ = [
    "REJECT_REASONS",
    "OrderHandle",
    "OrderTracker",
    "acked",
    "cancel_requested",
    "canceled",
    "default_tracker",
    "expired",
    "filled",
    "normalize_reject_reason",
    "order_span",
    "rejected",
    "submitted",
]

#: ``trading.reject_reason`` values (SEMCONV): a short enum, never the venue's free text.
REJECT_REASONS = ("insufficient_funds", "invalid_order", "rate_limited", "timeout", "other")

#: Words in a venue's reject text (or an exception's class name) and the reason they mean,
#: matched as whole words (``min`` is not in "administrator") in the lower-cased text.
_REASON_PATTERNS = tuple(
    (re.compile(pattern), reason)
    for pattern, reason in (
        (r"insufficient|\bbalance\b|\bmargin\b", "insufficient_funds"),
        (r"rate ?limit|ratelimit|too many|\bddos", "rate_limited"),
        (r"time ?out|timed out", "timeout"),
        (r"invalid|precision|notional|lot ?size|\bmin(imum)?\b|price filter", "invalid_order"),
    )
)

#: Kinds of irregular event counted in ``tradetel.order.anomalies``.
ANOMALIES = (
    "unknown_order",  # an event for an id never submitted here
    "late",  # an event for an order that already ended (or was evicted)
    "duplicate",  # a second submit, ack or cancel, or a fill already counted
    "out_of_order",  # a fill before the ack
    "negative_latency",  # an event timed before its submit (clock skew): no latency recorded
    "overfill",  # fills adding up to more than the order's quantity
    "bad_input",  # a quantity, price or timestamp that is not a finite number
)

_EPSILON = 1e-9  # relative tolerance on quantities (venues round them)


def normalize_reject_reason(reason: object) -> str:
    """A venue's reject text, code or exception as one of ``REJECT_REASONS``."""
    if reason is None:
        return "other"
    if isinstance(reason, BaseException):
        text = f"{type(reason).__name__} {reason}"
    else:
        text = str(getattr(reason, "value", reason))
    text = text.strip().lower()
    if text in REJECT_REASONS:
        return text
    text = text.replace("_", " ")
    for pattern, meaning in _REASON_PATTERNS:
        if pattern.search(text):
            return meaning
    return "other"


def _positive(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 < number < float("inf") else None


class OrderTracker:
    """Follows orders by client order id, from submit to their end. Thread-safe.

    Args:
        max_open: open orders followed at most; past it the oldest is evicted (counted in
            ``tradetel.orders.evicted``) and its later reports count as ``late``.
        remember_closed: ids of ended orders remembered, to tell a late report from one for
            an order never seen.
    """

    def __init__(self, *, max_open: int = 100_000, remember_closed: int = 10_000) -> None:
        if max_open < 1 or remember_closed < 0:
            from ._errors import ConfigError

            raise ConfigError(
                f"OrderTracker(max_open={max_open}, remember_closed={remember_closed}): "
                "max_open must be at least 1 and remember_closed at least 0"
            )
        self.max_open = max_open
        self.remember_closed = remember_closed
        self._open: dict[str, Order] = {}
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._open_counts: dict[tuple[str, str | None], int] = {}
        self._venues: set[str] = set()
        self._anomalies = dict.fromkeys(ANOMALIES, 0)
        self._evicted = 0
        self._start_ns = time.time_ns()
        self._clock_ns: int | None = None  # the latest time given with an event
        self._emit = Emitter()
        _TRACKERS.add(self)

    # -- introspection ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._open)

    def get(self, client_order_id: str) -> dict[str, Any] | None:
        """The state of an open order, or None."""
        with self._lock:
            order = self._open.get(str(client_order_id))
            return order.view() if order is not None else None

    def open_orders(self) -> list[dict[str, Any]]:
        """The open orders, oldest first."""
        with self._lock:
            return [o.view() for o in self._open.values()]

    def stats(self) -> dict[str, int]:
        """Counts of anomalies by kind, ``evicted`` and ``open``."""
        with self._lock:
            return {**self._anomalies, "evicted": self._evicted, "open": len(self._open)}

    def clear(self) -> None:
        """Forget every order and count (for tests and notebooks)."""
        with self._lock:
            self._open.clear()
            self._closed.clear()
            self._open_counts.clear()
            self._venues.clear()
            self._anomalies = dict.fromkeys(ANOMALIES, 0)
            self._evicted = 0
            self._clock_ns = None

    # -- events -----------------------------------------------------------------------------
    def submitted(
        self,
        client_order_id: str,
        *,
        venue: str,
        symbol: str | None = None,
        side: str | None = None,
        order_type: str | None = None,
        quantity: float,
        price: float | None = None,
        arrival_price: float | None = None,
        strategy: str | None = None,
        order_id: str | None = None,
        ts: float | datetime | None = None,
    ) -> None:
        """An order was sent to the venue (at ``ts``: seconds since the epoch, or a datetime).

        ``arrival_price`` (the market price when the order was decided) is what slippage is
        measured against; without it no slippage is recorded.
        """
        try:
            self._submitted(
                str(client_order_id), venue, symbol, side, order_type, quantity, price,
                arrival_price, strategy, order_id, ts,
            )  # fmt: skip
        except Exception as exc:
            report_internal_error("order tracker", exc)

    def acked(
        self,
        client_order_id: str,
        *,
        order_id: str | None = None,
        ts: float | datetime | None = None,
    ) -> None:
        """The venue accepted the order (``order_id``: the venue's id for it)."""
        try:
            self._acked(str(client_order_id), order_id, ts)
        except Exception as exc:
            report_internal_error("order tracker", exc)

    def filled(
        self,
        client_order_id: str,
        quantity: float,
        price: float,
        *,
        exec_id: str | None = None,
        cumulative_quantity: float | None = None,
        ts: float | datetime | None = None,
    ) -> None:
        """A fill (partial or complete, from what remains of the order).

        ``exec_id`` (the venue's trade or execution id) or ``cumulative_quantity`` (the
        order's filled quantity so far, as most venues report it) let a repeated report be
        recognised as a duplicate; without either, every report counts as a new fill.
        """
        try:
            self._filled(str(client_order_id), quantity, price, exec_id, cumulative_quantity, ts)
        except Exception as exc:
            report_internal_error("order tracker", exc)

    def cancel_requested(self, client_order_id: str, *, ts: float | datetime | None = None) -> None:
        """A cancel was sent: ``canceled()`` then gives the ``cancel`` latency."""
        try:
            self._cancel_requested(str(client_order_id), ts)
        except Exception as exc:
            report_internal_error("order tracker", exc)

    def canceled(self, client_order_id: str, *, ts: float | datetime | None = None) -> None:
        """The venue confirmed the cancel; what was filled stays filled."""
        self._end(client_order_id, "canceled", None, ts)

    def rejected(
        self, client_order_id: str, *, reason: object = None, ts: float | datetime | None = None
    ) -> None:
        """The venue rejected the order; ``reason`` (text, code or exception) is normalised."""
        self._end(client_order_id, "rejected", reason, ts)

    def expired(self, client_order_id: str, *, ts: float | datetime | None = None) -> None:
        """The order expired (its time in force ran out)."""
        self._end(client_order_id, "expired", None, ts)

    # -- the work ---------------------------------------------------------------------------
    def _now(self, ts: float | datetime | None) -> int:
        if ts is None:
            return time.time_ns()
        ns = to_ns(ts)
        if ns is None:
            self._anomaly("bad_input")
            return time.time_ns()
        if self._clock_ns is None or ns > self._clock_ns:
            self._clock_ns = ns
        return ns

    def _clock(self, backtest: bool) -> int:
        """Now: the latest event time given in a backtest, else the wall clock."""
        if backtest and self._clock_ns is not None:
            return self._clock_ns
        return time.time_ns()

    def _anomaly(self, kind: str) -> None:
        self._anomalies[kind] += 1
        rt = STATE.runtime or STATE.resume()
        if rt is not None:
            ANOMALIES_COUNTER.series(rt.registry, (kind,)).add(1)

    def _find(self, client_id: str) -> Order | None:
        """The open order, or None having counted the event as late or unknown."""
        order = self._open.get(client_id)
        if order is None:
            self._anomaly("late" if client_id in self._closed else "unknown_order")
        return order

    def _submitted(
        self,
        client_id: str,
        venue: Any,
        symbol: Any,
        side: Any,
        order_type: Any,
        quantity: Any,
        price: Any,
        arrival_price: Any,
        strategy: Any,
        order_id: Any,
        ts: Any,
    ) -> None:
        qty = _positive(quantity)
        rt = STATE.runtime or STATE.resume()
        with self._lock:
            if qty is None:
                self._anomaly("bad_input")
                return
            if client_id in self._open:
                self._anomaly("duplicate")
                return
            ns = self._now(ts)
        order = Order(
            client_id,
            label(sc.VENUE, venue) or "unknown",
            label(sc.SYMBOL, symbol),
            label(sc.SIDE, side),
            label(sc.ORDER_TYPE, order_type),
            qty,
            ns,
        )
        order.price = _positive(price)
        order.arrival_price = _positive(arrival_price)
        order.strategy = None if strategy is None else str(strategy)
        order.order_id = None if order_id is None else str(order_id)
        if rt is not None:  # before the order is visible: its reports find the link
            order.link, order.sampled = self._emit.submit_span(rt, order, ns, ts is not None)
        with self._lock:
            if client_id in self._open:  # submitted twice at once, from two threads
                self._anomaly("duplicate")
                return
            self._closed.pop(client_id, None)  # an id used again: a new order
            evicted = None
            if len(self._open) >= self.max_open:
                evicted = self._open.pop(next(iter(self._open)))
                self._count_open(evicted, -1)
                self._remember(evicted.client_id)
                self._evicted += 1
            self._open[client_id] = order
            self._count_open(order, 1)
        if rt is None:
            return
        if evicted is not None:
            EVICTED.series(rt.registry, ()).add(1)
        self._emit.profile(rt, order).event("new").add(1)
        tick_to_trade.record(order.venue, order.strategy, ns if ts is not None else None)

    def _acked(self, client_id: str, order_id: Any, ts: Any) -> None:
        rt = STATE.runtime or STATE.resume()
        with self._lock:
            order = self._find(client_id)
            if order is None:
                return
            if order.acked_ns is not None:
                self._anomaly("duplicate")
                return
            ns = self._now(ts)
            order.acked_ns = ns
            if order_id is not None:
                order.order_id = str(order_id)
            if order.status == "new":  # an ack after fills (counted then) changes nothing
                order.status = "acked"
            latency = self._since(order.submit_ns, ns)
        if rt is not None:
            span = self._emit.report(rt, order, "acked", ns)
            self._emit.latency(rt, order, "ack", latency, span)

    def _filled(
        self, client_id: str, quantity: Any, price: Any, exec_id: Any, cumulative: Any, ts: Any
    ) -> None:
        rt = STATE.runtime or STATE.resume()
        qty, px = _positive(quantity), _positive(price)
        with self._lock:
            order = self._find(client_id)
            if order is None:
                return
            if qty is None and cumulative is None:
                self._anomaly("bad_input")
                return
            if px is None:  # the quantity still counts: the order must be able to complete
                self._anomaly("bad_input")
            qty = self._new_quantity(order, qty, exec_id, cumulative)
            if qty is None:
                return
            ns = self._now(ts)
            if order.acked_ns is None and order.status == "new":
                self._anomaly("out_of_order")  # a fill implies the ack we have not seen
            first = order.first_fill_ns is None
            if first:
                order.first_fill_ns = ns
            order.filled += qty
            if px is not None:
                order.priced += qty
                order.notional += qty * px
            remaining = order.quantity - order.filled
            if remaining < -_EPSILON * order.quantity:
                self._anomaly("overfill")
            complete = remaining <= _EPSILON * order.quantity
            status = order.status = "filled" if complete else "partially_filled"
            since_submit = self._since(order.submit_ns, ns) if first or complete else None
            if complete:
                self._close(order)
        if rt is None:
            return
        span = self._emit.report(rt, order, status, ns, qty, px, exec_id)
        if first:
            self._emit.latency(rt, order, "first_fill", since_submit, span)
        if complete:
            self._emit.latency(rt, order, "fill", since_submit, span)
            self._emit.outcome(rt, order)

    def _new_quantity(
        self, order: Order, qty: float | None, exec_id: Any, cumulative: Any
    ) -> float | None:
        """The quantity a fill report adds; None (counted) when it was seen already."""
        if exec_id is not None:
            exec_id = str(exec_id)
            if order.exec_ids is not None and exec_id in order.exec_ids:
                self._anomaly("duplicate")
                return None
        if cumulative is not None:  # the venue's running total is authoritative
            total = _positive(cumulative)
            if total is None or total <= order.filled * (1 + _EPSILON):
                self._anomaly("duplicate" if total is not None else "bad_input")
                return None
            qty = total - order.filled
        if exec_id is not None:
            if order.exec_ids is None:
                order.exec_ids = set()
            order.exec_ids.add(exec_id)
        return qty

    def _cancel_requested(self, client_id: str, ts: Any) -> None:
        with self._lock:
            order = self._find(client_id)
            if order is None:
                return
            if order.cancel_ns is not None:
                self._anomaly("duplicate")
                return
            order.cancel_ns = self._now(ts)

    def _end(self, client_order_id: object, status: str, reason: object, ts: Any) -> None:
        try:
            rt = STATE.runtime or STATE.resume()
            with self._lock:
                order = self._find(str(client_order_id))
                if order is None:
                    return
                ns = self._now(ts)
                order.status = status
                cancel = None
                if status == "canceled" and order.cancel_ns is not None:
                    cancel = self._since(order.cancel_ns, ns)
                self._close(order)
            if rt is None:
                return
            code = normalize_reject_reason(reason) if status == "rejected" else None
            text = None if reason is None or code is None else scrub_message(str(reason))[:256]
            span = self._emit.report(rt, order, status, ns, reason=code, reason_text=text)
            if cancel is not None:
                self._emit.latency(rt, order, "cancel", cancel, span)
            if status != "rejected":
                self._emit.outcome(rt, order)
        except Exception as exc:
            report_internal_error("order tracker", exc)

    def _since(self, start_ns: int, ns: int) -> float | None:
        """Seconds from ``start_ns`` to ``ns``; None (counted) when the clocks disagree."""
        if ns < start_ns:
            self._anomaly("negative_latency")
            return None
        return (ns - start_ns) / 1e9

    def _close(self, order: Order) -> None:
        del self._open[order.client_id]
        self._count_open(order, -1)
        self._remember(order.client_id)

    def _remember(self, client_id: str) -> None:
        if self.remember_closed:
            self._closed[client_id] = None
            if len(self._closed) > self.remember_closed:
                self._closed.popitem(last=False)

    def _count_open(self, order: Order, delta: int) -> None:
        key = (order.venue, order.strategy)
        self._open_counts[key] = self._open_counts.get(key, 0) + delta
        self._venues.add(order.venue)


_TRACKERS: weakref.WeakSet[OrderTracker] = weakref.WeakSet()


def _observe(now_ns: int) -> list[Metric]:
    """``trading.orders.open`` and ``trading.order.open.max_age`` of every tracker."""
    counts: dict[tuple[str, str | None], int] = {}
    ages: dict[str, float] = {}
    start_ns = now_ns
    rt = STATE.runtime
    backtest = rt is not None and rt.resource.attributes.get(sc.TRADING_MODE) == "backtest"
    for tracker in list(_TRACKERS):
        with tracker._lock:  # copied under the lock, scanned outside it: events go on
            start_ns = min(start_ns, tracker._start_ns)
            for key, count in tracker._open_counts.items():
                counts[key] = counts.get(key, 0) + count
            clock = tracker._clock(backtest)
            orders = list(tracker._open.values())
            venues = list(tracker._venues)
        oldest: dict[str, int] = {}
        for order in orders:
            if order.submit_ns < oldest.get(order.venue, clock):
                oldest[order.venue] = order.submit_ns
        for venue in venues:
            age = max(0.0, (clock - oldest.get(venue, clock)) / 1e9)
            ages[venue] = max(ages.get(venue, 0.0), age)
    open_points = [
        ({sc.VENUE: venue} if strategy is None else {sc.VENUE: venue, sc.STRATEGY_NAME: strategy},
         float(count), start_ns)
        for (venue, strategy), count in counts.items()
    ]  # fmt: skip
    age_points = [({sc.VENUE: venue}, age) for venue, age in ages.items()]
    found = [
        sum_metric(
            sc.ORDERS_OPEN, "{order}", "Orders sent and not yet ended.", open_points,
            now_ns, monotonic=False,
        ),
        gauge_metric(
            sc.ORDER_OPEN_MAX_AGE, "s", "Age of the oldest open order (stuck orders).",
            age_points, now_ns,
        ),
    ]  # fmt: skip
    return [m for m in found if m is not None]


add_source(_observe)


def _forget_in_child() -> None:
    """After a fork: the parent's orders are the parent's to follow (and report as open).

    A lock held by another thread of the parent at the fork would never be released here.
    """
    for tracker in list(_TRACKERS):
        tracker._lock = threading.Lock()
        tracker.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)

#: The tracker behind this module's functions.
default_tracker = OrderTracker()
submitted = default_tracker.submitted
acked = default_tracker.acked
filled = default_tracker.filled
cancel_requested = default_tracker.cancel_requested
canceled = default_tracker.canceled
rejected = default_tracker.rejected
expired = default_tracker.expired
