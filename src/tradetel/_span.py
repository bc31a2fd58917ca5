"""tradetel's spans: the OTel ``Span`` API at a fraction of the SDK span's cost.

A ``TradetelSpan`` holds what the span needs and nothing else; it becomes an SDK
``ReadableSpan`` only on the export thread. It is made current in the OTel context, so spans
that other instrumentations start inside it (HTTP clients, the SDK's own tracer) are its
children, and log records emitted inside it carry its ids.

Sampling follows OTel's ``ParentBased(TraceIdRatioBased(rate))``. A root span that is not
sampled attaches no OTel context (that costs a context copy); instead it marks the current
execution context as "inside an unsampled root", and both tradetel's spans and the SDK sampler (see
``_setup``) treat that mark as an unsampled parent.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from contextvars import ContextVar, Token
from enum import Enum
from random import getrandbits
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import attach, detach, get_current
from opentelemetry.trace import INVALID_SPAN, Link, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation import _SPAN_KEY as SPAN_KEY
from opentelemetry.util.types import AttributeValue

from ._internal import report_internal_error
from ._runtime import _MASK64, STATE, Runtime
from ._scrub import scrub

if TYPE_CHECKING:  # the SDK is loaded by configure(); a span exists only after it ran
    from opentelemetry.sdk.trace import Event, ReadableSpan

__all__ = ["ROOT_MARK", "SPAN_KEY", "UNSAMPLED", "TradetelSpan", "get_context", "span"]

# The current OTel context, read straight from its ContextVar when the runtime context is
# the default one (get_current() is two Python calls on top): this runs on every call.
_current_context = getattr(
    getattr(otel_context, "_RUNTIME_CONTEXT", None), "_current_context", None
)
get_context: Any = _current_context.get if _current_context is not None else get_current


class Unsampled:
    """The mark of an unsampled root (see module doc), and what it propagates downstream.

    Other processes must learn that the trace was not sampled (W3C ``traceparent`` with
    flags 00), or they would start sampled traces of their own. Roots set the shared,
    id-less ``ROOT_MARK`` (no allocation per call); the first injection within a root makes
    the ids and sets a mark that carries them, for the rest of that root.
    """

    __slots__ = ("context",)

    def __init__(self, context: SpanContext | None = None) -> None:
        self.context = context


ROOT_MARK = Unsampled()


def unsampled_context() -> SpanContext | None:
    """The not-sampled span context to propagate from inside an unsampled root, if any."""
    mark = UNSAMPLED.get()
    if mark is None:
        return None
    if mark.context is None:
        # Reset with the root's own token when the root ends, like every other mark.
        mark = Unsampled(SpanContext(getrandbits(128) or 1, getrandbits(64) or 1, False))
        UNSAMPLED.set(mark)
    return mark.context


#: Set inside an unsampled root span: only a span in the OTel context (a sampled parent
#: attached later, e.g. a remote one) overrides it.
UNSAMPLED: ContextVar[Unsampled | None] = ContextVar("tradetel_unsampled", default=None)

_SAMPLED_FLAGS = trace.TraceFlags(trace.TraceFlags.SAMPLED)
_PRIMITIVES = (str, bool, int, float)
_INT_LIMIT = 1 << 63

#: Short keyword names accepted for the trading attributes (``span("x", venue="binance")``).
ALIASES: dict[str, str] = {
    "venue": "trading.venue",
    "symbol": "trading.symbol",
    "side": "trading.side",
    "order_type": "trading.order.type",
    "instrument_kind": "trading.instrument.kind",
    "strategy": "trading.strategy.name",
    "operation": "trading.order.operation",
}


def clean_value(value: Any) -> AttributeValue:
    """An attribute value OTLP can encode; anything else becomes its (bounded) ``repr``."""
    kind = type(value)
    if kind is str:
        # A lone surrogate cannot be encoded as UTF-8 and would lose the attribute at export.
        return value if value.isascii() else _utf8(value)
    if kind is bool or kind is float or (kind is int and -_INT_LIMIT <= value < _INT_LIMIT):
        return value  # type: ignore[no-any-return]
    if kind in (list, tuple) and value:
        cleaned = tuple(clean_value(v) for v in value)
        if all(type(v) is type(cleaned[0]) and type(v) is not tuple for v in cleaned):
            return cleaned  # a list of primitives of one type
    try:
        if isinstance(value, Enum):  # an order side or type as an enum: its value
            return clean_value(value.value)
        if kind is not int and isinstance(value, _PRIMITIVES):  # str, int, float subclasses
            text = str(value)
        else:
            text = str(value) if kind is int else repr(value)
    except Exception:  # a __repr__ that raises is the user's bug, not a reason to fail a call
        return f"<{kind.__name__} that cannot be shown>"
    return _utf8(text) if len(text) <= 256 else _utf8(text[:255]) + "…"


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def clean_attributes(attributes: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Resolve short names and make every value encodable."""
    return {ALIASES.get(k, k): clean_value(v) for k, v in attributes.items() if v is not None}


class TradetelSpan(trace.Span):
    """A recording, sampled span started by tradetel."""

    __slots__ = (
        "_context",
        "_ended",
        "_rt",
        "attributes",
        "end_time",
        "events",
        "kind",
        "links",
        "name",
        "parent",
        "span_id",
        "start_time",
        "status",
        "trace_id",
    )

    def __init__(
        self,
        rt: Runtime,
        name: str,
        kind: SpanKind,
        trace_id: int,
        parent: SpanContext | None,
        attributes: dict[str, AttributeValue],
        start_time: int,
    ) -> None:
        self._rt = rt
        self.name = name
        self.kind = kind
        self.trace_id = trace_id
        self.span_id = getrandbits(64) or 1
        self.parent = parent
        self.attributes = attributes
        self.start_time = start_time
        self.end_time: int | None = None
        self.events: list[Event] | None = None
        self.links: list[Link] | None = None
        self.status: Status | None = None
        self._context: SpanContext | None = None
        self._ended = False

    # -- the OTel Span API ------------------------------------------------------------------
    def get_span_context(self) -> SpanContext:
        sc = self._context
        if sc is None:
            sc = self._context = SpanContext(
                self.trace_id, self.span_id, is_remote=False, trace_flags=_SAMPLED_FLAGS
            )
        return sc

    def is_recording(self) -> bool:
        return not self._ended

    def set_attribute(self, key: str, value: Any) -> None:
        if not self._ended and value is not None:
            self.attributes[key] = clean_value(value)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(
        self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None
    ) -> None:
        if self._ended:
            return
        from opentelemetry.sdk.trace import Event

        if self.events is None:
            self.events = []
        attrs = clean_attributes(attributes) if attributes else None
        self.events.append(Event(name, attrs, timestamp or time.time_ns()))

    def add_link(self, context: SpanContext, attributes: Mapping[str, Any] | None = None) -> None:
        if self._ended or not context.is_valid:
            return
        if self.links is None:
            self.links = []
        self.links.append(Link(context, clean_attributes(attributes) if attributes else None))

    def update_name(self, name: str) -> None:
        if not self._ended:
            self.name = str(name)

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self._ended:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        # As in the SDK: OK is final, and UNSET never overrides a set status.
        if self.status is not None and self.status.status_code is StatusCode.OK:
            return
        if status.status_code is StatusCode.UNSET and self.status is not None:
            return
        self.status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        cls = type(exception)
        qualified = (
            cls.__qualname__
            if cls.__module__ == "builtins"
            else (f"{cls.__module__}.{cls.__qualname__}")
        )
        # An HTTP client's error names the URL, and a signed request's URL its API key and
        # signature: scrubbed before anything leaves the process.
        attrs: dict[str, Any] = {
            "exception.type": qualified,
            "exception.message": scrub(str(exception)),
            "exception.stacktrace": scrub(
                "".join(traceback.format_exception(cls, exception, exception.__traceback__))
            ),
        }
        if attributes:
            attrs.update(attributes)
        self.add_event("exception", attrs, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._ended:
            return
        self.end_time = end_time or time.time_ns()
        self._ended = True
        rt = self._rt
        rt.span_sink(self)
        if rt.span_processors:
            readable = self.to_readable()
            for processor in rt.span_processors:
                try:
                    processor.on_end(readable)
                except Exception as exc:  # a user's processor must not break the call
                    report_internal_error("span processor", exc)

    # -- tradetel's own -----------------------------------------------------------------------
    def fail(self, exc: BaseException) -> None:
        """Record an exception that escapes the span: event, ERROR status, ``error.type``."""
        self.record_exception(exc, escaped=True)
        self.attributes["error.type"] = type(exc).__name__
        self.status = Status(StatusCode.ERROR, f"{type(exc).__name__}: {scrub(str(exc))}")

    def to_readable(self) -> ReadableSpan:
        """The SDK's view of this span, as exporters and span processors take it."""
        from opentelemetry.sdk.trace import ReadableSpan

        rt = self._rt
        return ReadableSpan(
            self.name,
            context=self.get_span_context(),
            parent=self.parent,
            resource=rt.resource,
            attributes=self.attributes,
            events=self.events or (),
            links=self.links or (),
            kind=self.kind,
            status=self.status or Status(StatusCode.UNSET),
            start_time=self.start_time,
            end_time=self.end_time,
            instrumentation_scope=rt.scope,
        )

    def __repr__(self) -> str:
        return f"TradetelSpan({self.name!r}, trace_id={self.trace_id:032x})"


def start(
    rt: Runtime,
    name: str,
    kind: SpanKind,
    attributes: Mapping[str, AttributeValue],
    bound: int,
    activate: bool = True,
) -> tuple[TradetelSpan | None, Any]:
    """Start a span and make it current: ``(span, token)``; span is None when not sampled.

    ``bound`` is the root sampling bound (``ratio_bound``); ``attributes`` is copied. Pass the
    pair to ``finish``. With ``activate=False`` (generators, whose context is made current
    one step at a time) nothing is attached, and the token is the ``Unsampled`` mark to set
    at each step for an unsampled root, else None.
    """
    ctx = get_context()
    parent: Any = ctx.get(SPAN_KEY)
    if type(parent) is TradetelSpan:
        trace_id = parent.trace_id
        parent_sc: SpanContext | None = parent.get_span_context()
    else:
        parent_sc = parent.get_span_context() if parent is not None else None
        if parent_sc is not None and parent_sc.is_valid:
            if not parent_sc.trace_flags.sampled:
                return None, None
            trace_id = parent_sc.trace_id
        else:
            if UNSAMPLED.get() is not None:
                return None, None  # inside an unsampled root: every descendant is unsampled
            trace_id = getrandbits(128) if bound else 0
            if not trace_id or (trace_id & _MASK64) >= bound:
                return None, (UNSAMPLED.set(ROOT_MARK) if activate else ROOT_MARK)
            parent_sc = None
    span = TradetelSpan(rt, name, kind, trace_id, parent_sc, dict(attributes), time.time_ns())
    if rt.span_processors:
        for processor in rt.span_processors:
            try:
                processor.on_start(span, parent_context=ctx)  # type: ignore[arg-type]
            except Exception as exc:
                report_internal_error("span processor", exc)
    return span, (attach(trace.set_span_in_context(span, ctx)) if activate else None)


def new_root(rt: Runtime, name: str, kind: SpanKind) -> TradetelSpan:
    """A sampled root span, whatever the context says (an order's report, whose submit was
    sampled, handled where no sampled span is current). Nothing is made current."""
    span = TradetelSpan(rt, name, kind, getrandbits(128) or 1, None, {}, time.time_ns())
    for processor in rt.span_processors:
        try:
            processor.on_start(span, parent_context=None)  # type: ignore[arg-type]
        except Exception as exc:
            report_internal_error("span processor", exc)
    return span


def finish(span: TradetelSpan | None, token: Token[Any] | None) -> None:
    """Restore the context that ``start`` replaced."""
    if token is None:
        return
    if span is None:
        UNSAMPLED.reset(token)
    else:
        detach(token)


class span:  # lower-case: a function to its users, ``with tradetel.span("name"):``
    """``with tradetel.span(name, **attributes) as s:`` (or ``async with``): one INTERNAL span.

    Yields the span (a non-recording one when not sampled or not configured); an exception
    leaving the block is recorded on the span and propagates unchanged.
    """

    __slots__ = ("_attributes", "_kind", "_name", "_span", "_token")

    def __init__(self, name: str, *, kind: SpanKind = SpanKind.INTERNAL, **attributes: Any) -> None:
        self._name = str(name)
        self._kind = kind
        self._attributes = attributes
        self._span: TradetelSpan | None = None
        self._token: Token[Any] | None = None

    def __enter__(self) -> trace.Span:
        rt = STATE.runtime or STATE.resume()
        if rt is None:
            return INVALID_SPAN
        try:
            attrs = clean_attributes(self._attributes)
            self._span, self._token = start(rt, self._name, self._kind, attrs, rt.root_bound)
        except Exception as exc:
            report_internal_error("span start", exc)
            return INVALID_SPAN
        return self._span if self._span is not None else INVALID_SPAN

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        s, token = self._span, self._token
        self._span = self._token = None
        try:
            finish(s, token)
            if s is not None:
                if exc is not None and not isinstance(exc, GeneratorExit):
                    s.fail(exc)
                s.end()
        except Exception as internal:
            report_internal_error("span end", internal)

    async def __aenter__(self) -> trace.Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
