"""``@instrument``, ``@strategy`` and ``@order``: the decorators trading code is written with.

Everything that can be decided when the function is decorated is decided then (the kind of
function, span name and kind, static attributes, which arguments to read and where they sit,
the metric's attribute layout) and kept in a ``_Site``. A call then costs: one look at the
live runtime, a sampling decision, two clock reads and one bound-series record - plus the span
itself when sampled. Before ``configure()`` a call costs an attribute lookup and a no-op call
(an async generator's items are passed through one by one); with ``TRADETEL_DISABLED=1`` the
function is returned untouched.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from time import perf_counter_ns
from typing import Any, TypeVar, cast, overload

from opentelemetry.context import attach, get_current
from opentelemetry.trace import SpanKind, set_span_in_context
from opentelemetry.util.types import AttributeValue

from . import semconv as sc
from ._errors import ConfigError
from ._internal import report_internal_error
from ._metrics import HistogramInstrument, HistogramSeries
from ._runtime import STATE, Runtime, ratio_bound
from ._span import (
    UNSAMPLED,
    TradetelSpan,
    clean_attributes,
    clean_value,
    finish,
    start,
)

__all__ = ["instrument", "order", "strategy"]

F = TypeVar("F", bound=Callable[..., Any])

_MISSING: Any = object()
_PLAIN = (None, None)  # the series key of a call with no argument labels and no error
_CACHE_LIMIT = 4096

#: Call arguments of an ``@order`` function that become span attributes.
ORDER_ARGUMENTS: dict[str, str] = {
    "symbol": sc.SYMBOL,
    "side": sc.SIDE,
    "type": sc.ORDER_TYPE,
    "order_type": sc.ORDER_TYPE,
    "amount": sc.ORDER_QUANTITY,
    "quantity": sc.ORDER_QUANTITY,
    "qty": sc.ORDER_QUANTITY,
    "price": sc.ORDER_PRICE,
    "client_order_id": sc.ORDER_CLIENT_ID,
    "venue": sc.VENUE,
}

#: Venue order states (ccxt's, alpaca's) in SEMCONV's ``trading.order.status`` values.
_STATUS = {
    "open": "acked",
    "accepted": "acked",
    "pending_new": "new",
    "closed": "filled",
    "partially_filled": "partially_filled",
    "cancelled": "canceled",
    "done_for_day": "expired",
}

_METRICS = {
    "instrument": (sc.CALL_DURATION, "Duration of a call to an @instrument-ed function."),
    "strategy": (sc.STRATEGY_DURATION, "Duration of a strategy step."),
    "order": (sc.ORDER_DURATION, "Duration of the client-side order call (submit, cancel, amend)."),
}


def disabled() -> bool:
    """The kill switch: ``TRADETEL_DISABLED=1`` or ``OTEL_SDK_DISABLED=true``."""
    return os.environ.get("TRADETEL_DISABLED", "").strip().lower() in ("1", "true", "yes") or (
        os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    )


class _Arg:
    """Where one argument of the decorated function is found in a call."""

    __slots__ = ("default", "name", "position")

    def __init__(self, name: str, position: int | None, default: Any) -> None:
        self.name = name
        self.position = position
        self.default = default

    def get(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if kwargs:
            value = kwargs.get(self.name, _MISSING)
            if value is not _MISSING:
                return value
        position = self.position
        if position is not None and position < len(args):
            return args[position]
        return self.default


def _locate(func: Callable[..., Any], names: Sequence[str]) -> dict[str, _Arg]:
    """Find the named parameters of ``func``: position and default of each present one."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return {}
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    found: dict[str, _Arg] = {}
    position = 0
    for p in params:
        positional = p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        if p.name in names and p.kind is not p.VAR_POSITIONAL and p.kind is not p.VAR_KEYWORD:
            default = None if p.default is p.empty else p.default
            found[p.name] = _Arg(p.name, position if positional else None, default)
        if positional:
            position += 1
    if takes_kwargs:  # a name passed through **kwargs is still worth reading
        for name in names:
            found.setdefault(name, _Arg(name, None, None))
    return found


def _label(attr: str, value: Any) -> str | None:
    """An argument (a str, an enum) as the text of a trading attribute.

    Sides, order types and statuses are lower-case enums in SEMCONV; symbols are unified
    upper-case pairs; a venue id is kept as given.
    """
    if value is None:
        return None
    text = str(getattr(value, "value", value))
    if attr in _LOWER:
        return text.lower()
    return text.upper() if attr == sc.SYMBOL else text


class _Site:
    """One decorated function: everything about its telemetry that is known in advance."""

    def __init__(
        self,
        func: Callable[..., Any],
        role: str,
        span_name: str,
        span_kind: SpanKind,
        span_attributes: dict[str, AttributeValue],
        metric_attributes: dict[str, AttributeValue],
        sample_rate: float | None,
        record_args: Sequence[str] = (),
        dynamic: Sequence[tuple[str, _Arg]] = (),
        span_args: Sequence[tuple[str, _Arg]] = (),
    ) -> None:
        self.role = role
        self.metric_name, self.metric_description = _METRICS[role]
        self.span_name = span_name
        self.span_kind = span_kind
        self.span_attributes = span_attributes
        self.metric_attributes = metric_attributes
        self.sample_bound = None if sample_rate is None else ratio_bound(sample_rate)
        self.reads_result = role == "order"
        self.record_args = [(n, a) for n, a in _locate(func, record_args).items()]
        # Arguments that are metric labels (venue, order type, symbol): part of the series key.
        self.dynamic = tuple(dynamic)
        # Symbols are metric labels only when configured (SEMCONV): else not even read.
        self.dynamic_no_symbol = tuple(d for d in dynamic if d[0] != sc.SYMBOL)
        self.span_args = tuple(span_args)
        # The runtime this site last recorded into, its histogram and its series by key: one
        # tuple, read once per call, so a call racing a reconfigure never mixes the two.
        self.binding: tuple[Runtime, HistogramInstrument, dict[Any, HistogramSeries]] | None = None

    # -- per call -----------------------------------------------------------------------------
    def begin(
        self, rt: Runtime, args: tuple[Any, ...], kwargs: dict[str, Any], activate: bool = True
    ) -> tuple[TradetelSpan | None, Any, Any]:
        """Decide sampling, start the span when sampled: ``(span, token, metric key)``."""
        try:
            dynamic = self.dynamic if rt.metric_symbols else self.dynamic_no_symbol
            key = (
                tuple([_metric_label(attr, a.get(args, kwargs), rt) for attr, a in dynamic])
                if dynamic
                else None
            )
            bound = rt.root_bound if self.sample_bound is None else self.sample_bound
            span, token = start(
                rt, self.span_name, self.span_kind, self.span_attributes, bound, activate
            )
        except Exception as exc:
            report_internal_error("decorator start", exc)
            return None, None, None
        if span is not None and (self.span_args or self.record_args):
            try:
                attrs = span.attributes
                for attr, arg in self.span_args:
                    value = arg.get(args, kwargs)
                    if value is not None:
                        attrs[attr] = _label(attr, value) if attr in _LOWER else clean_value(value)
                for name, arg in self.record_args:
                    attrs[name] = clean_value(arg.get(args, kwargs))
            except Exception as exc:  # the span is started and current: keep it that way
                report_internal_error("decorator arguments", exc)
        return span, token, key

    def end(
        self,
        rt: Runtime,
        t0: int,
        span: TradetelSpan | None,
        token: Any,
        key: Any,
        exc: BaseException | None,
        result: Any = None,
    ) -> None:
        """Record the call's duration and end its span; restore the caller's context."""
        elapsed = perf_counter_ns() - t0
        try:
            if token is not None:
                finish(span, token)
            cache_key: tuple[Any, str | None]
            if exc is None:
                error = None
                cache_key = _PLAIN if key is None else (key, None)
            else:
                error = None if isinstance(exc, GeneratorExit) else type(exc).__name__
                cache_key = (key, error)
            binding = self.binding
            if binding is None or binding[0] is not rt:  # first call, or configure() ran again
                binding = self.binding = (rt, self._histogram(rt), {})
            series = binding[2].get(cache_key) or self._series(binding, key, error)
            seconds = elapsed / 1e9
            if span is None:
                series.record(seconds)
                return
            if error is not None:
                span.fail(cast(BaseException, exc))
            elif result is not None and self.reads_result:
                _order_result(span, result)
            span.end(span.start_time + elapsed)
            series.record_exemplar(seconds, span.trace_id, span.span_id)
        except Exception as internal:
            report_internal_error("decorator end", internal)

    def _histogram(self, rt: Runtime) -> HistogramInstrument:
        return rt.registry.histogram(
            self.metric_name, "s", self.metric_description, sc.LATENCY_BUCKETS
        )

    def _series(
        self,
        binding: tuple[Runtime, HistogramInstrument, dict[Any, HistogramSeries]],
        key: Any,
        error: str | None,
    ) -> HistogramSeries:
        """The series of one attribute set, made on first use and cached for the site."""
        rt, histogram, cache = binding
        attrs = dict(self.metric_attributes)
        if key is not None:
            dynamic = self.dynamic if rt.metric_symbols else self.dynamic_no_symbol
            for (attr, _), value in zip(dynamic, key, strict=True):
                if value is not None:
                    attrs[attr] = value
        if error is not None:
            attrs[sc.ERROR_TYPE] = error
        series = histogram.series(attrs)
        if len(cache) < _CACHE_LIMIT:
            cache[(key, error)] = series
        return series

    # -- step scopes for generators: the span's context is current only while a step runs -----
    @staticmethod
    def enter_step(span: TradetelSpan | None, token: Any) -> Any:
        if span is not None:
            return attach(set_span_in_context(span, get_current()))
        if token is not None:  # an unsampled root: mark each step as inside it
            return UNSAMPLED.set(token)
        return None


def _metric_label(attr: str, value: Any, rt: Runtime) -> str | None:
    """An argument as a metric label; a symbol only when configured (SEMCONV), else None."""
    label = _label(attr, value)
    if attr is sc.SYMBOL and label not in rt.metric_symbols:
        return None
    return label


#: Span attributes taken from arguments that are normalised to lower case.
_LOWER = frozenset({sc.SIDE, sc.ORDER_TYPE, sc.ORDER_STATUS})


def _order_result(span: TradetelSpan, result: Any) -> None:
    """Take the venue's order id and status from what an ``@order`` function returned."""
    if isinstance(result, Mapping):
        order_id, status = result.get("id"), result.get("status")
    else:
        order_id, status = getattr(result, "id", None), getattr(result, "status", None)
    if order_id is not None:
        span.attributes[sc.ORDER_ID] = str(order_id)
    label = _label(sc.ORDER_STATUS, status)
    if label is not None:
        span.attributes[sc.ORDER_STATUS] = _STATUS.get(label, label)


# -- wrappers for the four kinds of function ---------------------------------------------------
def _wrap(func: Callable[..., Any], site: _Site) -> Callable[..., Any]:
    begin, end, state = site.begin, site.end, STATE

    if inspect.isasyncgenfunction(func):
        return functools.wraps(func)(_wrap_async_generator(func, site))
    if inspect.isgeneratorfunction(func):
        return functools.wraps(func)(_wrap_generator(func, site))
    if inspect.iscoroutinefunction(func):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            rt = state.runtime or state.resume()
            if rt is None:
                return await func(*args, **kwargs)
            span, token, key = begin(rt, args, kwargs)
            t0 = perf_counter_ns()
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                end(rt, t0, span, token, key, exc)
                raise
            end(rt, t0, span, token, key, None, result)
            return result

        return functools.wraps(func)(async_wrapper)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = state.runtime or state.resume()
        if rt is None:
            return func(*args, **kwargs)
        span, token, key = begin(rt, args, kwargs)
        t0 = perf_counter_ns()
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            end(rt, t0, span, token, key, exc)
            raise
        end(rt, t0, span, token, key, None, result)
        return result

    return functools.wraps(func)(wrapper)


def _wrap_generator(func: Callable[..., Any], site: _Site) -> Callable[..., Any]:
    def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        rt = STATE.runtime or STATE.resume()
        if rt is None:
            return (yield from func(*args, **kwargs))
        span, mark, key = site.begin(rt, args, kwargs, activate=False)
        t0 = perf_counter_ns()
        sent: Any = None
        thrown: BaseException | None = None
        try:
            gen = func(*args, **kwargs)
            while True:
                step = site.enter_step(span, mark)
                try:
                    item = gen.send(sent) if thrown is None else gen.throw(thrown)
                finally:
                    finish(span, step)
                thrown = None
                try:
                    sent = yield item
                except GeneratorExit:
                    step = site.enter_step(span, mark)  # its cleanup runs inside its span
                    try:
                        gen.close()
                    finally:
                        finish(span, step)
                    raise
                except BaseException as exc:  # thrown in by the consumer: forward it
                    thrown, sent = exc, None
        except StopIteration as stop:
            site.end(rt, t0, span, None, key, None)
            return stop.value
        except BaseException as exc:
            site.end(rt, t0, span, None, key, exc)
            raise

    return gen_wrapper


def _wrap_async_generator(func: Callable[..., Any], site: _Site) -> Callable[..., Any]:
    # There is no `yield from` for async generators: the wrapper drives the inner one itself,
    # configured or not, so that asend/athrow/aclose always reach it.
    async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        rt = STATE.runtime or STATE.resume()
        span, mark, key = site.begin(rt, args, kwargs, activate=False) if rt else (None, None, None)
        t0 = perf_counter_ns()
        sent: Any = None
        thrown: BaseException | None = None
        try:
            agen = func(*args, **kwargs)
            while True:
                step = site.enter_step(span, mark)
                try:
                    item = await (agen.asend(sent) if thrown is None else agen.athrow(thrown))
                finally:
                    finish(span, step)
                thrown = None
                try:
                    sent = yield item
                except GeneratorExit:
                    step = site.enter_step(span, mark)  # its cleanup runs inside its span
                    try:
                        await agen.aclose()
                    finally:
                        finish(span, step)
                    raise
                except BaseException as exc:  # athrow() from the consumer: forward it
                    thrown, sent = exc, None
        except StopAsyncIteration:
            if rt is not None:
                site.end(rt, t0, span, None, key, None)
        except BaseException as exc:
            if rt is not None:
                site.end(rt, t0, span, None, key, exc)
            raise

    return agen_wrapper


def _decorate(func: Any, make_site: Callable[[Callable[..., Any]], _Site]) -> Any:
    """Apply a site to a function, unwrapping classmethod/staticmethod objects first."""
    if disabled():
        return func
    if isinstance(func, (classmethod, staticmethod)):
        return type(func)(_decorate(func.__func__, make_site))
    if not callable(func):
        raise ConfigError(f"tradetel decorators apply to functions, not {type(func).__name__}")
    return _wrap(func, make_site(func))


def _function_name(func: Callable[..., Any]) -> str:
    """``code.function.name``: the qualified name with its module, as OTel's semconv has it."""
    module = getattr(getattr(func, "func", func), "__module__", None)  # a partial's target
    qualname = _qualname(func)
    return f"{module}.{qualname}" if module and module != "__main__" else qualname


def _qualname(func: Callable[..., Any]) -> str:
    """The qualified name of a function; a partial or a callable object has none of its own."""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if name is None:
        target = getattr(func, "func", None) or type(func)  # functools.partial, or the class
        name = getattr(target, "__qualname__", None) or repr(func)
    return str(name)


def _check_name(name: object, where: str) -> None:
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{where}: the name must be a string, got {name!r}")


def _check_rate(rate: float | None, where: str) -> float | None:
    if rate is not None and not (isinstance(rate, (int, float)) and 0.0 <= rate <= 1.0):
        raise ConfigError(f"{where}: sample_rate must be a number from 0 to 1, got {rate!r}")
    return None if rate is None else float(rate)


# -- the public decorators ---------------------------------------------------------------------
@overload
def instrument(name: F) -> F: ...
@overload
def instrument(
    name: str | None = None,
    *,
    attributes: Mapping[str, Any] | None = None,
    record_args: Sequence[str] = (),
    sample_rate: float | None = None,
) -> Callable[[F], F]: ...
def instrument(
    name: Any = None,
    *,
    attributes: Mapping[str, Any] | None = None,
    record_args: Sequence[str] = (),
    sample_rate: float | None = None,
) -> Any:
    """Trace a function (span named after its qualified name) and time it.

    Args:
        name: the span name; the function's qualified name by default.
        attributes: static span attributes.
        record_args: argument names whose values become span attributes.
        sample_rate: sampling ratio for traces that start here (parents decide otherwise).
    """
    if callable(name) or isinstance(name, (classmethod, staticmethod)):
        return instrument()(name)
    _check_name(name, "@instrument")
    rate = _check_rate(sample_rate, "@instrument")
    if isinstance(record_args, str):
        record_args = (record_args,)

    def make_site(func: Callable[..., Any]) -> _Site:
        qualname = _qualname(func)
        missing = set(record_args) - set(_locate(func, record_args))
        if missing:
            raise ConfigError(
                f"@instrument on {qualname}: record_args names {sorted(missing)}, "
                "which the function does not take"
            )
        function = _function_name(func)
        span_attrs = {sc.CODE_FUNCTION_NAME: function, **clean_attributes(attributes or {})}
        return _Site(
            func, "instrument", name or qualname, SpanKind.INTERNAL, span_attrs,
            {sc.CODE_FUNCTION_NAME: function}, rate, record_args=record_args,
        )  # fmt: skip

    return lambda func: _decorate(func, make_site)


@overload
def strategy(name: F) -> F: ...
@overload
def strategy(name: str | None = None, **attributes: Any) -> Callable[[F], F]: ...
def strategy(name: Any = None, **attributes: Any) -> Any:
    """Trace and time one step of a trading strategy (``strategy <name>`` span).

    Args:
        name: the strategy's name (``trading.strategy.name``); the function's qualified name
            by default.
        attributes: static span attributes (``venue=``, ``symbol=`` ... or dotted keys).
    """
    if callable(name) or isinstance(name, (classmethod, staticmethod)):
        return strategy()(name)
    _check_name(name, "@strategy")

    def make_site(func: Callable[..., Any]) -> _Site:
        qualname = _qualname(func)
        strategy_name = name or qualname
        span_name = f"{sc.SPAN_STRATEGY_PREFIX}{name}" if name else qualname
        static = {sc.STRATEGY_NAME: strategy_name, sc.CODE_FUNCTION_NAME: _function_name(func)}
        span_attrs = {**static, **clean_attributes(attributes)}
        return _Site(func, "strategy", span_name, SpanKind.INTERNAL, span_attrs, static, None)

    return lambda func: _decorate(func, make_site)


@overload
def order(venue: F) -> F: ...
@overload
def order(
    venue: str | None = None, operation: str = "submit", **attributes: Any
) -> Callable[[F], F]: ...
def order(venue: Any = None, operation: str = "submit", **attributes: Any) -> Any:
    """Trace and time a client-side order call (CLIENT span ``order <operation>``).

    Arguments named ``symbol``, ``side``, ``type``/``order_type``, ``amount``/``quantity``/
    ``qty``, ``price`` and ``client_order_id`` become span attributes; a returned mapping or
    object with ``id``/``status`` sets ``trading.order.id``/``trading.order.status``.

    Args:
        venue: the exchange or broker id; read from a ``venue`` argument when not given.
        operation: ``submit``, ``cancel``, ``amend`` or ``query``.
        attributes: static attributes (``order_type="limit"``, ``instrument_kind="spot"`` ...).
    """
    if callable(venue) or isinstance(venue, (classmethod, staticmethod)):
        return order()(venue)
    if venue is not None and not isinstance(venue, str):
        raise ConfigError(f"@order: venue must be a string, got {venue!r}")
    if not isinstance(operation, str) or not operation:
        raise ConfigError(f"@order: operation must be a non-empty string, got {operation!r}")
    static_attrs = clean_attributes(attributes)

    def make_site(func: Callable[..., Any]) -> _Site:
        found = _locate(func, list(ORDER_ARGUMENTS))
        metric: dict[str, AttributeValue] = {sc.ORDER_OPERATION: operation}
        span_attrs: dict[str, AttributeValue] = {
            sc.ORDER_OPERATION: operation,
            sc.CODE_FUNCTION_NAME: _function_name(func),
            **static_attrs,
        }
        dynamic: list[tuple[str, _Arg]] = []
        if venue is not None:
            metric[sc.VENUE] = span_attrs[sc.VENUE] = venue
        elif "venue" in found:
            dynamic.append((sc.VENUE, found["venue"]))
        else:
            metric[sc.VENUE] = span_attrs[sc.VENUE] = "unknown"
        for key in (sc.ORDER_TYPE, sc.INSTRUMENT_KIND):
            if key in static_attrs:
                metric[key] = static_attrs[key]
        if sc.ORDER_TYPE not in static_attrs:
            arg = found.get("type") or found.get("order_type")
            if arg is not None:
                dynamic.append((sc.ORDER_TYPE, arg))
        if "symbol" in found:  # a metric label only for configured symbols (SEMCONV)
            dynamic.append((sc.SYMBOL, found["symbol"]))
        span_args = [
            (ORDER_ARGUMENTS[n], a) for n, a in found.items() if n != "venue" or venue is None
        ]
        return _Site(
            func, "order", f"{sc.SPAN_ORDER_PREFIX}{operation}", SpanKind.CLIENT, span_attrs,
            metric, None, dynamic=dynamic, span_args=span_args,
        )  # fmt: skip

    return lambda func: _decorate(func, make_site)
