"""What the exchange-client instrumentors share: the base class that patches a client's
classes on import, and one client call as a span and a metric point.

One call is an ``exchange <method>`` CLIENT span and a point of
``trading.exchange.request.duration``. (``trading.order.duration`` stays the ``@order``
decorator's: a declared or decorated order function around a client call would otherwise
count the same order twice.) The orders that calls place, cancel and report go to the order
tracker through ``_order_feed``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextvars import ContextVar
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


class CallState:
    """An instrumented call in progress: its method, arguments by name, ``Call`` and start
    (wall clock, for the order tracker)."""

    __slots__ = ("arguments", "call", "method", "t0")

    def __init__(self, method: str, arguments: dict[str, Any], call: Call) -> None:
        self.method, self.arguments, self.call = method, arguments, call
        self.t0 = time.time()


def bind(names: tuple[str, ...], args: Any, kwargs: Any) -> dict[str, Any]:
    """A call's arguments by parameter name (``names``: the positional parameters)."""
    arguments = dict(zip(names, args, strict=False))
    arguments.update(kwargs)
    return arguments


def nested(client: object) -> bool:
    """Is ``client`` already inside one of its instrumented calls?"""
    return _IN_CALL.get() is client


def record_wait(venue: str, seconds: float) -> None:
    """A wait in a client-side rate limiter."""
    rt = STATE.runtime
    if rt is not None:
        RATELIMIT_WAIT.series(rt.registry, (venue,)).record(seconds)


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
