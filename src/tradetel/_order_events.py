"""What an order's events emit: their metric series and their short spans.

``orders.OrderTracker`` keeps the state of each order and decides what an event means; an
``Emitter`` (one per tracker) turns that into telemetry in the live configuration. Series
are found once per kind of order (venue, side, type, symbol) and configuration, and span
attributes are built only for sampled events.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from . import semconv as sc
from ._metrics import Bound, Registry
from ._runtime import Runtime
from ._span import SPAN_KEY, TradetelSpan, clean_value, get_context, new_root, start

EVENTS = Bound(
    "counter",
    sc.ORDER_EVENTS,
    "{event}",
    "Order events: submits and the venue's execution reports, by resulting status.",
    (sc.VENUE, sc.ORDER_STATUS, sc.SIDE, sc.ORDER_TYPE, sc.REJECT_REASON),
)
LATENCY = Bound(
    "histogram",
    sc.ORDER_LATENCY,
    "s",
    "Order sent to venue ack, first fill, complete fill; cancel request to cancel confirmed.",
    (sc.VENUE, sc.ORDER_STAGE, sc.ORDER_TYPE, sc.SYMBOL),
    sc.LATENCY_BUCKETS,
)
SLIPPAGE = Bound(
    "histogram",
    sc.ORDER_SLIPPAGE,
    "{bp}",
    "Average fill price against the arrival price, in basis points; positive is a cost.",
    (sc.VENUE, sc.SIDE, sc.ORDER_TYPE, sc.SYMBOL),
    sc.SLIPPAGE_BUCKETS,
)
FILL_RATIO = Bound(
    "histogram",
    sc.ORDER_FILL_RATIO,
    "1",
    "Filled quantity over ordered quantity, when an order ends.",
    (sc.VENUE, sc.ORDER_TYPE, sc.SYMBOL),
    sc.FILL_RATIO_BUCKETS,
)
ANOMALIES = Bound(
    "counter",
    sc.ORDER_ANOMALIES,
    "{event}",
    "Order events that were late, duplicated, out of order or for an unknown order.",
    (sc.ANOMALY,),
)
EVICTED = Bound(
    "counter",
    sc.ORDERS_EVICTED,
    "{order}",
    "Open orders the tracker stopped following because it holds its maximum.",
    (),
)

PROFILE_LIMIT = 4096  # kinds of order whose series are kept at hand


class Order:
    """One open order."""

    __slots__ = (
        "acked_ns",
        "arrival_price",
        "cancel_ns",
        "client_id",
        "exec_ids",
        "filled",
        "first_fill_ns",
        "identity",
        "link",
        "notional",
        "order_id",
        "order_type",
        "price",
        "priced",
        "profile",
        "quantity",
        "sampled",
        "side",
        "status",
        "strategy",
        "submit_ns",
        "symbol",
        "venue",
    )

    def __init__(
        self,
        client_id: str,
        venue: str,
        symbol: str | None,
        side: str | None,
        order_type: str | None,
        quantity: float,
        submit_ns: int,
    ) -> None:
        self.client_id = client_id
        self.venue = venue
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.quantity = quantity
        self.submit_ns = submit_ns
        self.price: float | None = None
        self.arrival_price: float | None = None
        self.strategy: str | None = None
        self.order_id: str | None = None
        self.status = "new"
        self.acked_ns: int | None = None
        self.first_fill_ns: int | None = None
        self.cancel_ns: int | None = None
        self.filled = 0.0
        self.notional = 0.0  # of the fills that came with a valid price
        self.priced = 0.0  # their quantity
        self.exec_ids: set[str] | None = None
        self.link: Link | None = None  # to the submit span
        self.identity: dict[str, AttributeValue] | None = None  # its spans' attributes
        self.sampled: bool | None = None  # the submit's sampling decision; None: unknown
        self.profile: Profile | None = None

    def view(self) -> dict[str, Any]:
        return {
            "client_order_id": self.client_id,
            "order_id": self.order_id,
            "venue": self.venue,
            "symbol": self.symbol,
            "side": self.side,
            "order_type": self.order_type,
            "status": self.status,
            "quantity": self.quantity,
            "filled_quantity": self.filled,
            "average_price": self.notional / self.priced if self.priced else None,
            "submitted_at": self.submit_ns / 1e9,
            "strategy": self.strategy,
        }


class Emitter:
    """The telemetry of one tracker's orders."""

    def __init__(self) -> None:
        self._profiles: tuple[Registry | None, dict[Any, Profile]] = (None, {})

    def profile(self, rt: Runtime, order: Order) -> Profile:
        profile = order.profile
        if profile is None or profile.registry is not rt.registry:  # first use, or configure()
            symbol = order.symbol if order.symbol in rt.metric_symbols else None
            key = (order.venue, order.side, order.order_type, symbol)
            registry, profiles = self._profiles
            if registry is not rt.registry:
                self._profiles = (rt.registry, {})
                profiles = self._profiles[1]
            profile = profiles.get(key)
            if profile is None:
                profile = Profile(rt.registry, key)
                if len(profiles) < PROFILE_LIMIT:
                    profiles[key] = profile
            order.profile = profile
        return profile

    def latency(
        self, rt: Runtime, order: Order, stage: str, seconds: float | None, span: Any
    ) -> None:
        if seconds is None:
            return
        series = self.profile(rt, order).latency(stage)
        if span is not None:
            series.record_exemplar(seconds, span.trace_id, span.span_id)
        else:
            series.record(seconds)

    def outcome(self, rt: Runtime, order: Order) -> None:
        """Fill ratio and slippage of an order that ended (filled, canceled or expired)."""
        profile = self.profile(rt, order)
        profile.fill_ratio().record(min(order.filled / order.quantity, 1.0))
        # slippage needs the side's sign, the arrival price and fills with a price
        if order.priced and order.arrival_price and order.side in ("buy", "sell"):
            average = order.notional / order.priced
            sign = -1.0 if order.side == "sell" else 1.0
            profile.slippage().record(
                sign * (average - order.arrival_price) / order.arrival_price * 1e4
            )

    @staticmethod
    def identity(order: Order) -> dict[str, AttributeValue]:
        """The order's identity, as span attributes (made once per order)."""
        identity = order.identity
        if identity is None:
            identity = order.identity = {
                sc.VENUE: order.venue,
                sc.ORDER_CLIENT_ID: clean_value(order.client_id),
            }
            for key, value in (
                (sc.SYMBOL, order.symbol),
                (sc.SIDE, order.side),
                (sc.ORDER_TYPE, order.order_type),
                (sc.STRATEGY_NAME, order.strategy),
            ):
                if value is not None:
                    identity[key] = clean_value(value)
        return identity

    def submit_span(
        self, rt: Runtime, order: Order, ns: int, explicit: bool
    ) -> tuple[Link | None, bool]:
        """Use the ``order submit`` span in progress (``@order``, ``order_span``), or make one."""
        current = get_context().get(SPAN_KEY)
        if (
            type(current) is TradetelSpan
            and current.kind is SpanKind.CLIENT
            and current.attributes.get(sc.ORDER_OPERATION) == "submit"
            and current.is_recording()
        ):
            span: TradetelSpan = current
        else:
            made, _ = start(rt, "order submit", SpanKind.CLIENT, _SUBMIT, rt.root_bound, False)
            if made is None:
                parent = current.get_span_context() if current is not None else None
                sampled = parent is not None and parent.is_valid and parent.trace_flags.sampled
                return None, sampled
            span = made
            if explicit:
                span.start_time = ns
            span.end_time = ns if explicit else None  # ended below, once it has its attributes
        attrs = span.attributes
        for key, value in self.identity(order).items():
            attrs.setdefault(key, value)  # a batch submit keeps its first order's
        if order.order_id is not None:
            attrs.setdefault(sc.ORDER_ID, clean_value(order.order_id))
        attrs.setdefault(sc.ORDER_QUANTITY, order.quantity)
        if order.price is not None:
            attrs.setdefault(sc.ORDER_PRICE, order.price)
        if span is not current:
            span.end(span.end_time)
        return Link(span.get_span_context()), True

    def report(
        self,
        rt: Runtime,
        order: Order,
        status: str,
        ns: int,
        quantity: float | None = None,
        price: float | None = None,
        exec_id: str | None = None,
        reason: str | None = None,
        reason_text: str | None = None,
    ) -> TradetelSpan | None:
        """Count the event, and make its short span linked to the submit (when sampled)."""
        self.profile(rt, order).event(status, reason).add(1)
        # A report follows its submit's sampling decision, so that the link of a sampled order
        # leads somewhere and an unsampled order stays unsampled: it is a child of the span
        # around it when that one is sampled, else a root of its own.
        if order.sampled is False:
            return None
        name = f"order {status}"
        span, _ = start(rt, name, SpanKind.INTERNAL, _NO_ATTRIBUTES, rt.root_bound, False)
        if span is None:
            if order.sampled is None:  # its submit was never seen traced: the usual rules
                return None
            span = new_root(rt, name, SpanKind.INTERNAL)
        attrs = span.attributes
        attrs.update(self.identity(order))
        if order.order_id is not None:
            attrs[sc.ORDER_ID] = clean_value(order.order_id)
        attrs[sc.ORDER_STATUS] = status
        if quantity is not None and price is not None:
            attrs[sc.FILL_QUANTITY] = quantity
            attrs[sc.FILL_PRICE] = price
        if exec_id is not None:
            attrs[sc.EXEC_ID] = clean_value(exec_id)
        if reason is not None:
            attrs[sc.REJECT_REASON] = attrs[sc.ERROR_TYPE] = reason
            span.status = Status(StatusCode.ERROR, reason_text or reason)
        if order.link is not None:
            span.links = [order.link]
        span.start_time = ns
        span.end(ns)
        return span


_SUBMIT: dict[str, AttributeValue] = {sc.ORDER_OPERATION: "submit"}
_NO_ATTRIBUTES: dict[str, AttributeValue] = {}


class Profile:
    """The series one kind of order (venue, side, type, symbol) records into, in one
    configuration: found once per order rather than once per event."""

    __slots__ = ("_events", "_fill_ratio", "_latency", "_slippage", "key", "registry")

    def __init__(
        self, registry: Registry, key: tuple[str, str | None, str | None, str | None]
    ) -> None:
        self.registry = registry
        self.key = key
        self._events: dict[tuple[str, str | None], Any] = {}
        self._latency: dict[str, Any] = {}
        self._fill_ratio: Any = None
        self._slippage: Any = None

    def event(self, status: str, reason: str | None = None) -> Any:
        series = self._events.get((status, reason))
        if series is None:
            venue, side, order_type, _ = self.key
            key = (venue, status, side, order_type, reason)
            series = self._events[(status, reason)] = EVENTS.series(self.registry, key)
        return series

    def latency(self, stage: str) -> Any:
        series = self._latency.get(stage)
        if series is None:
            venue, _, order_type, symbol = self.key
            key = (venue, stage, order_type, symbol)
            series = self._latency[stage] = LATENCY.series(self.registry, key)
        return series

    def fill_ratio(self) -> Any:
        if self._fill_ratio is None:
            venue, _, order_type, symbol = self.key
            self._fill_ratio = FILL_RATIO.series(self.registry, (venue, order_type, symbol))
        return self._fill_ratio

    def slippage(self) -> Any:
        if self._slippage is None:
            self._slippage = SLIPPAGE.series(self.registry, self.key)
        return self._slippage
