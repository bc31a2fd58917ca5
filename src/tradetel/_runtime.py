"""The live configuration that the hot path reads: one object, swapped whole by configure().

The decorators look at ``STATE.runtime`` on every call; ``None`` means tradetel is not
configured (or was shut down) and the call costs one attribute lookup. Nothing here imports
an exporter, the CLI or the alert evaluator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._metrics import Registry

if TYPE_CHECKING:  # the SDK is loaded by configure(), not by the decorators
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from ._span import TradetelSpan

_MASK64 = (1 << 64) - 1


def ratio_bound(rate: float) -> int:
    """The bound on a trace id's low 64 bits below which a root span is sampled.

    The same rule as OTel's ``TraceIdRatioBased``, so tradetel's spans and the SDK's agree.
    """
    return round(rate * (_MASK64 + 1))


class Runtime:
    """What one ``configure()`` produced and the hot path needs."""

    def __init__(
        self,
        *,
        resource: Resource,
        scope: InstrumentationScope,
        sample_rate: float,
        registry: Registry,
        span_sink: Callable[[TradetelSpan], Any],
        span_processors: Sequence[SpanProcessor] = (),
        metric_symbols: frozenset[str] = frozenset(),
    ) -> None:
        self.resource = resource
        self.scope = scope
        self.root_bound = ratio_bound(sample_rate)
        self.registry = registry
        self.span_sink = span_sink
        self.span_processors = tuple(span_processors)
        self.metric_symbols = metric_symbols


def _nothing_to_resume() -> Runtime | None:
    return None


class _State:
    __slots__ = ("resume", "runtime")

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        # Called when there is no runtime: after a fork, builds the child's (see _setup).
        self.resume: Callable[[], Runtime | None] = _nothing_to_resume


STATE = _State()
