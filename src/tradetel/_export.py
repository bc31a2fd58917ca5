"""The export path: bounded queues drained by background threads, drops counted.

Nothing here runs on the caller's thread except ``put`` (a length check and a deque append):
exporting, encoding and converting tradetel's spans to SDK spans happen on the worker. When
the exporter is slow or down, the queue fills and further items are dropped and counted in
``tradetel.telemetry.dropped``; the program never waits for the network.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from opentelemetry.context import Context, attach, detach, set_value
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from ._internal import report_internal_error
from ._span import TradetelSpan

T = TypeVar("T")
logger = logging.getLogger("tradetel")

# The key OTel instrumentations check so that exporting (an HTTP call) is not itself traced.
_SUPPRESS = "suppress_instrumentation"

_workers: weakref.WeakSet[BatchWorker[Any]] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The parent's queued items are the parent's to export; the child starts empty and the
    # dead threads are not restarted - configure() builds the child its own pipeline.
    for worker in list(_workers):
        worker.abandon()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class BatchWorker(Generic[T]):
    """A bounded queue and the thread that exports it in batches."""

    def __init__(
        self,
        name: str,
        export: Callable[[list[T]], bool],
        on_drop: Callable[[int], None],
        *,
        max_queue: int = 4096,
        max_batch: int = 512,
        delay: float = 1.0,
        close: Callable[[], object] | None = None,
    ) -> None:
        self._export = export
        self._close = close  # the exporter's shutdown: after the last batch
        self._on_drop = on_drop
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._delay = delay
        self._queue: deque[T] = deque()
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._requested = 0  # flush generations asked for / done
        self._done = 0
        self._failed = 0  # items whose export failed, ever
        self._stopping = False
        self._dead = False
        self._thread = threading.Thread(target=self._run, name=f"tradetel-{name}", daemon=True)
        self._thread.start()
        _workers.add(self)

    def put(self, item: T) -> None:
        queue = self._queue
        if len(queue) >= self._max_queue or self._dead:
            self._on_drop(1)
            return
        queue.append(item)
        if len(queue) >= self._max_batch:
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            with self._cond:
                generation = self._requested
            self._drain()
            with self._cond:
                self._done = max(self._done, generation)
                self._cond.notify_all()
                if self._stopping:
                    return

    def _drain(self) -> None:
        queue = self._queue
        token = attach(set_value(_SUPPRESS, True))
        try:
            while queue and not self._dead:
                batch = [queue.popleft() for _ in range(min(self._max_batch, len(queue)))]
                try:
                    ok = self._export(batch)
                except Exception as exc:
                    report_internal_error("exporter", exc)
                    ok = False
                if not ok:
                    self._failed += len(batch)
                    self._on_drop(len(batch))
        finally:
            detach(token)

    def force_flush(self, timeout: float) -> bool:
        """Export what is queued now; False when some of it failed or time ran out."""
        if self._dead or not self._thread.is_alive():
            return False
        failed = self._failed
        with self._cond:
            self._requested += 1
            target = self._requested
            self._wake.set()
            done = self._cond.wait_for(lambda: self._done >= target, timeout)
        return done and self._failed == failed

    def shutdown(self, timeout: float) -> bool:
        """Export what is queued and stop the thread; False when some of it was not exported."""
        failed = self._failed
        with self._cond:
            self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        left = len(self._queue)
        if left:
            self._on_drop(left)
            self._queue.clear()
        self._dead = True
        if self._close is not None:
            self._close()
        return not left and not self._thread.is_alive() and self._failed == failed

    def abandon(self) -> None:
        """In a forked child: drop the parent's queue and accept nothing more."""
        self._dead = True
        self._queue.clear()


def span_worker(exporter: SpanExporter, on_drop: Callable[[int], None]) -> BatchWorker[Any]:
    def export(batch: list[Any]) -> bool:
        spans = [s.to_readable() if type(s) is TradetelSpan else s for s in batch]
        return exporter.export(spans) is SpanExportResult.SUCCESS

    delay = _env_seconds("OTEL_BSP_SCHEDULE_DELAY", 1.0)
    return BatchWorker("spans", export, on_drop, delay=delay, close=exporter.shutdown)


def log_worker(exporter: LogRecordExporter, on_drop: Callable[[int], None]) -> BatchWorker[Any]:
    def export(batch: list[ReadableLogRecord]) -> bool:
        return exporter.export(batch) is LogRecordExportResult.SUCCESS

    delay = _env_seconds("OTEL_BLRP_SCHEDULE_DELAY", 1.0)
    return BatchWorker("logs", export, on_drop, delay=delay, close=exporter.shutdown)


def _env_seconds(name: str, default: float) -> float:
    """A delay variable in milliseconds; at least 10 ms, so the worker never spins."""
    try:
        return max(0.01, float(os.environ[name]) / 1000.0)
    except (KeyError, ValueError):
        return default


class SinkSpanProcessor(SpanProcessor):
    """Feeds spans that the SDK's tracer made (other instrumentations) to tradetel's workers."""

    def __init__(self, sink: Callable[[Any], None]) -> None:
        self._sink = sink

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self._sink(span)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass


class SinkLogProcessor(LogRecordProcessor):
    """Feeds log records to tradetel's workers, detached from the context they carry."""

    def __init__(self, workers: Sequence[BatchWorker[Any]]) -> None:
        self._workers = workers

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = copy.copy(log_record.log_record)
        record.context = Context()  # the record keeps its ids; the context could be large
        readable = ReadableLogRecord(
            log_record=record,
            resource=log_record.resource,  # type: ignore[arg-type]
            instrumentation_scope=log_record.instrumentation_scope,
            limits=log_record.limits,
        )
        for worker in self._workers:
            worker.put(readable)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class PeriodicReader(MetricReader):
    """Collects and exports metrics every ``interval`` seconds on its own thread.

    Unlike the SDK's periodic reader, it does not restart in a forked child: the child
    exports its own, fresh metrics from the pipeline configure() builds for it, never the
    parent's inherited totals under the parent's identity.
    """

    def __init__(
        self, exporter: MetricExporter, interval: float, on_drop: Callable[[int], None]
    ) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self._exporter = exporter
        self._interval = interval
        self._on_drop = on_drop
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.last_export_ok = True
        self._thread = threading.Thread(target=self._run, name="tradetel-metrics", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._collect_guarded()

    def _collect_guarded(self, timeout_millis: float = 10_000) -> None:
        if os.getpid() != self._pid:
            return
        try:
            self.collect(timeout_millis=timeout_millis)
        except Exception as exc:
            report_internal_error("metric collection", exc)

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        token = attach(set_value(_SUPPRESS, True))
        try:
            with self._lock:
                result = self._exporter.export(metrics_data, timeout_millis=timeout_millis)
        except Exception as exc:
            report_internal_error("metric exporter", exc)
            result = MetricExportResult.FAILURE
        finally:
            detach(token)
        self.last_export_ok = result is MetricExportResult.SUCCESS
        if not self.last_export_ok:
            self._on_drop(count_points(metrics_data))

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        self._collect_guarded(timeout_millis)
        flushed = self._exporter.force_flush(timeout_millis=timeout_millis)
        return self.last_export_ok and flushed

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_millis / 1000)
        self._collect_guarded(timeout_millis)
        self._exporter.shutdown(timeout_millis=timeout_millis)


def count_points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    )


def add_metric_source(
    reader: MetricReader,
    resource: Resource,
    scope: InstrumentationScope,
    produce: Callable[[], list[Any]],
) -> None:
    """Make ``reader`` collect tradetel's own instruments along with the SDK's.

    The SDK registers its collect callback on every reader when the MeterProvider is made;
    this wraps that callback (the SDK has no public metric-producer hook in Python).
    """
    sdk_collect: Any = reader._collect  # typed loosely by the SDK; returns MetricsData

    def collect(r: MetricReader, timeout_millis: float = 10_000) -> MetricsData | None:
        data = sdk_collect(r, timeout_millis=timeout_millis) if sdk_collect else None
        try:
            metrics = produce()
        except Exception as exc:
            report_internal_error("metric collection", exc)
            return data
        if not metrics:
            return data
        ours = ScopeMetrics(scope, metrics, "")
        if data is None or not data.resource_metrics:
            return MetricsData([ResourceMetrics(resource, [ours], "")])
        first, *rest = data.resource_metrics
        merged = ResourceMetrics(first.resource, [*first.scope_metrics, ours], first.schema_url)
        return MetricsData([merged, *rest])

    reader._set_collect_callback(collect)  # type: ignore[arg-type]


__all__ = [
    "BatchWorker",
    "PeriodicReader",
    "SinkLogProcessor",
    "SinkSpanProcessor",
    "add_metric_source",
    "count_points",
    "log_worker",
    "span_worker",
]
