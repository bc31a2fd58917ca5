"""``order_span``: one order submitted and followed in one place."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import INVALID_SPAN, SpanKind
from opentelemetry.util.types import AttributeValue

from . import semconv as sc
from ._internal import report_internal_error
from ._runtime import STATE
from ._span import TradetelSpan, finish, start

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from .orders import OrderTracker

__all__ = ["OrderHandle", "order_span"]


class OrderHandle:
    """The order of an ``order_span`` block: report its fate with these methods."""

    def __init__(self, tracker: OrderTracker, client_order_id: str, span: Span) -> None:
        self.tracker = tracker
        self.client_order_id = client_order_id
        self.span = span

    def acked(self, order_id: str | None = None, *, ts: float | datetime | None = None) -> None:
        self.tracker.acked(self.client_order_id, order_id=order_id, ts=ts)

    def filled(self, quantity: float, price: float, **kwargs: Any) -> None:
        self.tracker.filled(self.client_order_id, quantity, price, **kwargs)

    def cancel_requested(self, *, ts: float | datetime | None = None) -> None:
        self.tracker.cancel_requested(self.client_order_id, ts=ts)

    def canceled(self, *, ts: float | datetime | None = None) -> None:
        self.tracker.canceled(self.client_order_id, ts=ts)

    def rejected(self, reason: object = None, *, ts: float | datetime | None = None) -> None:
        self.tracker.rejected(self.client_order_id, reason=reason, ts=ts)

    def expired(self, *, ts: float | datetime | None = None) -> None:
        self.tracker.expired(self.client_order_id, ts=ts)

    @property
    def status(self) -> str | None:
        """The order's status while it is open; None once it ended."""
        view = self.tracker.get(self.client_order_id)
        return None if view is None else str(view["status"])


_sequence = 0
_sequence_lock = threading.Lock()


def _new_client_id() -> str:
    global _sequence
    with _sequence_lock:
        _sequence += 1
        return f"tt-{time.time_ns():x}-{_sequence}"


def _refused(exc: BaseException) -> bool:
    """Did the venue refuse the order, as far as the exception tells?

    A timeout, a dropped connection or a cancelled task leaves the outcome unknown: the order
    may well be live at the venue, so it stays open for its reports to find.
    """
    if not isinstance(exc, Exception) or isinstance(exc, (TimeoutError, ConnectionError)):
        return False
    from .orders import normalize_reject_reason

    return normalize_reject_reason(exc) != "timeout"


class order_span:  # lower-case: used like a function, ``with tradetel.order_span(...) as o:``
    """One order submitted and followed in one place: the ``order submit`` span is current
    for the block, and ``o.acked()``, ``o.filled(qty, px)`` ... report its fate.

        with tradetel.order_span(venue="sim", symbol="BTC/USDT", side="buy",
                                 order_type="market", quantity=1.0) as o:
            ack = await client.create_order(...)
            o.acked(ack["id"])
            o.filled(ack["filled"], ack["average"])

    An exception leaving the block is recorded on the span. An order that the venue had not
    acknowledged by then is counted as rejected (the reason taken from the exception) unless
    the exception leaves its fate unknown (a timeout, a dropped connection, a cancelled
    task); then, like an acknowledged one, it stays open. Works as ``async with`` too.
    """

    def __init__(
        self,
        client_order_id: str | None = None,
        *,
        venue: str,
        symbol: str | None = None,
        side: str | None = None,
        order_type: str | None = None,
        quantity: float,
        price: float | None = None,
        arrival_price: float | None = None,
        strategy: str | None = None,
        tracker: OrderTracker | None = None,
    ) -> None:
        if tracker is None:
            from .orders import default_tracker

            tracker = default_tracker
        self._tracker: OrderTracker = tracker
        self._client_id = _new_client_id() if client_order_id is None else str(client_order_id)
        self._order: dict[str, Any] = {
            "venue": venue,
            "symbol": symbol,
            "side": side,
            "order_type": order_type,
            "quantity": quantity,
            "price": price,
            "arrival_price": arrival_price,
            "strategy": strategy,
        }
        self._span: TradetelSpan | None = None
        self._token: Any = None

    def __enter__(self) -> OrderHandle:
        rt = STATE.runtime or STATE.resume()
        span: Span = INVALID_SPAN
        if rt is not None:
            try:
                attrs: dict[str, AttributeValue] = {
                    sc.ORDER_OPERATION: "submit",
                    sc.VENUE: str(self._order["venue"]),
                }
                self._span, self._token = start(
                    rt, "order submit", SpanKind.CLIENT, attrs, rt.root_bound
                )
                if self._span is not None:
                    span = self._span
            except Exception as exc:
                report_internal_error("order_span start", exc)
        self._tracker.submitted(self._client_id, **self._order)
        return OrderHandle(self._tracker, self._client_id, span)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span, token = self._span, self._token
        self._span = self._token = None
        try:
            if exc is not None and not isinstance(exc, GeneratorExit):
                view = self._tracker.get(self._client_id)
                if view is not None and view["status"] == "new" and _refused(exc):
                    self._tracker.rejected(self._client_id, reason=exc)
                if span is not None:
                    span.fail(exc)
            finish(span, token)
            if span is not None:
                span.end()
        except Exception as internal:
            report_internal_error("order_span end", internal)

    async def __aenter__(self) -> OrderHandle:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
