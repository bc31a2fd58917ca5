"""Capture tradetel's telemetry in memory, for your own tests.

    from tradetel.testing import capture

    def test_order_is_traced():
        with capture() as cap:
            place_order("BTC/USDT", "buy", 1.0)
        assert cap.span("order submit").attributes["trading.symbol"] == "BTC/USDT"
        assert cap.points("trading.order.duration")[0].count == 1

Under pytest the same is the ``tradetel_capture`` fixture (registered as a pytest plugin).
``capture()`` configures tradetel (every trace sampled, nothing exported elsewhere) and shuts
it down on exit, replacing any configuration the program had made.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ._setup import configure, shutdown

__all__ = ["Capture", "capture"]


class Capture:
    """What tradetel recorded while the capture was open."""

    def __init__(self) -> None:
        self._spans = InMemorySpanExporter()
        self._logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.reader = InMemoryMetricReader()

    @property
    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self._spans.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called ``name``."""
        found = [s for s in self.spans if s.name == name]
        if len(found) != 1:
            seen = sorted({s.name for s in self.spans})
            raise AssertionError(f"expected one span {name!r}, found {len(found)}; spans: {seen}")
        return found[0]

    @property
    def logs(self) -> list[ReadableLogRecord]:
        """Log records, in the order they were emitted."""
        return list(self._logs.get_finished_logs())

    def metrics(self) -> dict[str, list[Any]]:
        """Every metric collected now: name -> its data points."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found

    def points(self, name: str, attributes: Mapping[str, Any] | None = None) -> list[Any]:
        """The data points of metric ``name`` whose attributes include ``attributes``.

        cap.points("trading.order.duration", {"trading.venue": "sim"})
        """
        wanted = dict(attributes or {})
        return [
            p
            for p in self.metrics().get(name, [])
            if all(p.attributes.get(k) == v for k, v in wanted.items())
        ]

    def clear(self) -> None:
        """Forget the spans and logs captured so far (metrics are cumulative)."""
        self._spans.clear()
        self._logs.clear()


@contextmanager
def capture(**configure_kwargs: Any) -> Iterator[Capture]:
    """Configure tradetel to record into memory for the duration of the block."""
    cap = Capture()
    configure_kwargs.setdefault("exporter", "none")
    configure_kwargs.setdefault("trace_sample_rate", 1.0)
    configure(
        additional_span_processors=[SimpleSpanProcessor(cap._spans)],
        additional_metric_readers=[cap.reader],
        additional_log_processors=[SimpleLogRecordProcessor(cap._logs)],
        **configure_kwargs,
    )
    try:
        yield cap
    finally:
        shutdown()


try:
    import pytest
except ImportError:  # pytest is optional: capture() works without it
    pass
else:

    @pytest.fixture
    def tradetel_capture() -> Iterator[Capture]:
        """tradetel configured to record into memory for one test."""
        with capture() as cap:
            yield cap
