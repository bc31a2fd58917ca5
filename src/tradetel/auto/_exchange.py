"""What the exchange-client instrumentors share.

One client call is an ``exchange <method>`` CLIENT span and a point of
``trading.exchange.request.duration``. (``trading.order.duration`` stays the ``@order``
decorator's: a declared or decorated order function around a client call would otherwise
count the same order twice.) The orders that calls place, cancel and report are fed to the order
tracker (``tradetel.orders``), so an uninstrumented bot gets the order metrics too: a placed
order is submitted at the call's start and acknowledged (or refused) at its end, and later
reports - fetched orders, trades - move it on. Only orders placed through the instrumented
client in this process are followed; others' ids are ignored, not counted as anomalies.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,  # the module is marked untyped
)
from opentelemetry.trace import SpanKind

from .. import semconv as sc
from .._config import _flag
from .._errors import ConfigError
from .._internal import logger, report_internal_error
from .._metrics import Bound
from .._runtime import STATE
from .._span import TradetelSpan, clean_value, finish, start

REQUEST_DURATION = Bound(
    "histogram",
    sc.EXCHANGE_REQUEST_DURATION,
    "s",
    "Duration of an exchange client call.",
    (sc.VENUE, sc.CODE_FUNCTION_NAME, sc.ERROR_TYPE),
    sc.LATENCY_BUCKETS,
)
RATELIMIT_WAIT = Bound(
    "histogram",
    sc.EXCHANGE_RATELIMIT_WAIT,
    "s",
    "Time spent waiting in an exchange client's rate limiter.",
    (sc.VENUE,),
    sc.LATENCY_BUCKETS,
)

#: The client whose instrumented call is in progress: a call it makes to its own instrumented
#: methods (a subclass calling ``super()``, ``create_orders`` calling ``create_order``) is
#: part of that call, not another one.
_IN_CALL: ContextVar[object] = ContextVar("tradetel_exchange_call", default=None)

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


class ClientInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # the base class is untyped
    """Base of the exchange-client instrumentors: classes patched when their module is
    imported (``hooks()``), restored by ``uninstrument()``.

    ``instrument(track_orders=False)`` (or ``TRADETEL_TRACK_EXCHANGE_ORDERS=0``) keeps the
    orders out of the order tracker, for programs that report them to it themselves.
    """

    active = False
    track_orders = True
    _patched: list[tuple[type, str, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._patched = []

    def hooks(self) -> dict[str, Callable[[Any], None]]:
        """Module name -> what to patch when it is imported."""
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        cls = type(self)
        track = kwargs.get("track_orders")
        if track is None:
            try:
                track = _flag("TRADETEL_TRACK_EXCHANGE_ORDERS", True)
            except ConfigError as exc:  # must not stop the instrumentors loaded after this one
                logger.error("tradetel: %s; orders are tracked", exc)
                track = True
        cls.track_orders = bool(track)
        cls.active = True
        for module, hook in self.hooks().items():  # import hooks stay; inactive, they do nothing
            wrapt.register_post_import_hook(hook, module)

    def _uninstrument(self, **kwargs: Any) -> None:
        cls = type(self)
        cls.active = False
        while cls._patched:
            target, name, original = cls._patched.pop()
            setattr(target, name, original)

    @classmethod
    def patch(cls, target: type, name: str, wrapper: Callable[[Any], Any]) -> None:
        """Wrap ``target.name`` (its own, not inherited) with ``wrapper(original)``, once."""
        original = target.__dict__.get(name)
        if (
            original is None
            or not callable(original)
            or isinstance(original, wrapt.FunctionWrapper)
        ):
            return
        setattr(target, name, wrapt.FunctionWrapper(original, wrapper(original)))
        cls._patched.append((target, name, original))


class Call:
    """One instrumented client call: its span, its duration, its outcome."""

    __slots__ = ("_outer", "_span", "_t0", "_token", "method", "venue")

    def __init__(
        self,
        client: object,
        venue: str,
        method: str,
        operation: str | None,
        attributes: dict[str, Any],
    ) -> None:
        self.venue, self.method = venue, method
        self._span: TradetelSpan | None = None
        self._token: Any = None
        rt = STATE.runtime or STATE.resume()
        if rt is not None:
            attrs = {k: clean_value(v) for k, v in attributes.items() if v is not None}
            attrs[sc.VENUE] = venue
            attrs[sc.CODE_FUNCTION_NAME] = method
            if operation is not None:
                attrs[sc.ORDER_OPERATION] = operation
            self._span, self._token = start(
                rt, sc.SPAN_EXCHANGE_PREFIX + method, SpanKind.CLIENT, attrs, rt.root_bound
            )
        self._outer = _IN_CALL.set(client)  # last: nothing above may leave it set
        self._t0 = perf_counter_ns()

    @property
    def span(self) -> TradetelSpan | None:
        return self._span

    def end(
        self,
        exc: BaseException | None = None,
        error_type: str | None = None,
        reject_reason: str | None = None,
    ) -> None:
        """Record the call's duration and end its span (with ``exc`` recorded, if any)."""
        seconds = (perf_counter_ns() - self._t0) / 1e9
        span, token = self._span, self._token
        try:
            rt = STATE.runtime
            if exc is not None and error_type is None:
                error_type = type(exc).__name__
            if rt is not None:
                key = (self.venue, self.method, error_type)
                REQUEST_DURATION.series(rt.registry, key).record(seconds)
            finish(span, token)
            if span is not None:
                if exc is not None:
                    span.fail(exc)
                    span.attributes[sc.ERROR_TYPE] = error_type or type(exc).__name__
                if reject_reason is not None:
                    span.attributes[sc.REJECT_REASON] = reject_reason
                span.end()
        finally:
            _IN_CALL.reset(self._outer)


def nested(client: object) -> bool:
    """Is ``client`` already inside one of its instrumented calls?"""
    return _IN_CALL.get() is client


def record_wait(venue: str, seconds: float) -> None:
    """A wait in a client-side rate limiter."""
    rt = STATE.runtime
    if rt is not None:
        RATELIMIT_WAIT.series(rt.registry, (venue,)).record(seconds)


class OrderFeed:
    """Feeds one client's orders to the order tracker (``tradetel.orders.default_tracker``)."""

    def __init__(self) -> None:
        from ..orders import default_tracker

        self.tracker = default_tracker
        self._keys: OrderedDict[str, str] = OrderedDict()  # venue order id -> tracker key
        self._lock = threading.Lock()  # a sync client may be shared by threads
        # per tracker key: the trade ids seen and the quantity they add up to
        self._trades: OrderedDict[str, tuple[set[str], float]] = OrderedDict()

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
        self.tracker.submitted(
            key, venue=intent.venue, symbol=intent.symbol, side=intent.side,
            order_type=intent.order_type, quantity=intent.quantity, price=intent.price,
            order_id=report.order_id, ts=t0,
        )  # fmt: skip
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
        self.tracker.submitted(  # for an id already open: counted as a duplicate, no more
            key, venue=intent.venue, symbol=intent.symbol, side=intent.side,
            order_type=intent.order_type, quantity=intent.quantity, price=intent.price, ts=t0,
        )  # fmt: skip
        if not already_open:  # a refused resend (after a timeout) must not end the live order
            self.tracker.rejected(key, reason=reason, ts=t1)

    def unknown(self, intent: Intent, t0: float) -> None:
        """A new order whose fate the call could not tell (a timeout): open, if findable."""
        if intent.client_id is None or intent.quantity is None or intent.quantity <= 0:
            return  # without an id no later report could find it: it would look stuck
        self.tracker.submitted(
            intent.client_id, venue=intent.venue, symbol=intent.symbol, side=intent.side,
            order_type=intent.order_type, quantity=intent.quantity, price=intent.price, ts=t0,
        )  # fmt: skip

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


def guarded(what: str, step: Any, *args: Any) -> Any:
    """Run a telemetry step; an error in it is tradetel's, never the program's."""
    try:
        return step(*args)
    except Exception as exc:
        report_internal_error(what, exc)
        return None


def call_wrapper(
    what: str,
    is_async: bool,
    begin: Callable[[Any, Any, Any], Any],
    failed: Callable[[Any, BaseException], None],
    succeeded: Callable[[Any, Any], None],
) -> Any:
    """A ``wrapt`` wrapper around a client method: ``begin(instance, args, kwargs)`` gives a
    state (None: call straight through), then ``failed(state, exc)`` or
    ``succeeded(state, result)``; none of them can break the call."""
    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            state = guarded(what, begin, instance, args, kwargs)
            if state is None:
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                guarded(what, failed, state, exc)
                raise
            guarded(what, succeeded, state, result)
            return result

        return async_wrapper

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        state = guarded(what, begin, instance, args, kwargs)
        if state is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            guarded(what, failed, state, exc)
            raise
        guarded(what, succeeded, state, result)
        return result

    return wrapper


def lower(value: Any) -> str | None:
    """A str (or an enum's str value) in lower case, else None."""
    value = getattr(value, "value", value)
    return value.lower() if isinstance(value, str) else None


def text(value: Any) -> str | None:
    return None if value is None else str(value)


def number(value: Any) -> float | None:
    """A finite number from a number or numeric text (venues send both), else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(result) or math.isinf(result) else result
