"""The export path: bounded queues drained by background threads, drops counted.

Nothing here runs on the caller's thread except ``put`` (a length check and a deque append):
exporting, encoding, converting tradetel's spans to SDK spans and scrubbing secrets out of
spans and log records (``_scrub``) happen on the worker. When
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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
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
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Status

from ._internal import report_internal_error
from ._scrub import scrub, scrub_attributes
from ._span import TradetelSpan

T = TypeVar("T")
logger = logging.getLogger("tradetel")

_workers: weakref.WeakSet[Worker] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The parent's queued items are the parent's to export; the child starts empty and the
    # dead threads are not restarted - the child builds its own pipeline (see _setup).
    for worker in list(_workers):
        worker.abandon()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Worker:
    """A thread that runs ``job`` every ``delay`` seconds, on request, and once more at stop.

    Callers never run the job themselves: they ask and wait, with a timeout, so a slow or
    hanging backend can hold up the worker but never a flush or shutdown past its timeout.
    """

    def __init__(self, name: str, job: Callable[[], object], delay: float) -> None:
        self._job = job
        self._delay = delay
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._requested = 0  # flush generations asked for / done
        self._done = 0
        self._stopping = False
        self.dead = False
        self._thread = threading.Thread(target=self._run, name=f"tradetel-{name}", daemon=True)
        self._thread.start()
        _workers.add(self)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            with self._cond:
                generation = self._requested
            if not self.dead:
                with suppress_instrumentation():  # exporting is not the program's activity
                    try:
                        self._job()
                    except Exception as exc:
                        report_internal_error("export worker", exc)
            with self._cond:
                self._done = max(self._done, generation)
                self._cond.notify_all()
                if self._stopping:
                    return

    def run_now(self, timeout: float) -> bool:
        """Run the job once more and wait for it; False when it did not finish in time."""
        if self.dead or not self._thread.is_alive():
            return False
        with self._cond:
            self._requested += 1
            target = self._requested
            self._wake.set()
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def stop(self, timeout: float) -> bool:
        """Run the job a last time and end the thread; False when it did not finish in time."""
        with self._cond:
            self._stopping = True
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.dead = True
        return not self._thread.is_alive()

    def abandon(self) -> None:
        """In a forked child: this thread does not exist here; never run the job."""
        self.dead = True


class BatchWorker(Generic[T]):
    """A bounded queue and the worker that exports it in batches."""

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
        self._queue: deque[T] = deque()
        self._failed = 0  # items whose export failed, ever
        self._worker = Worker(name, self._drain, delay)

    def put(self, item: T) -> None:
        queue = self._queue
        if len(queue) >= self._max_queue or self._worker.dead:
            self._on_drop(1)
            return
        queue.append(item)
        if len(queue) >= self._max_batch:
            self._worker.wake()

    def _drain(self) -> None:
        queue = self._queue
        while queue and not self._worker.dead:
            batch: list[T] = []
            while queue and len(batch) < self._max_batch:
                try:
                    batch.append(queue.popleft())
                except IndexError:  # emptied by a shutdown that ran out of time
                    break
            try:
                ok = self._export(batch)
            except Exception as exc:
                report_internal_error("exporter", exc)
                ok = False
            if not ok:
                self._failed += len(batch)
                self._on_drop(len(batch))

    def force_flush(self, timeout: float) -> bool:
        """Export what is queued now; False when some of it failed or time ran out."""
        failed = self._failed
        return self._worker.run_now(timeout) and self._failed == failed

    def shutdown(self, timeout: float) -> bool:
        """Export what is queued and stop; False when some of it was not exported."""
        failed = self._failed
        finished = self._worker.stop(timeout)
        left = len(self._queue)
        self._queue.clear()
        if left:
            self._on_drop(left)
        if self._close is not None:
            self._close()  # also cuts short an export still retrying
        return finished and not left and self._failed == failed


def scrub_span(span: ReadableSpan) -> ReadableSpan:
    """``span``, or a copy without the secrets in its name, attributes, events and status."""
    attributes = scrub_attributes(span.attributes)
    events: list[Event] | None = None
    for i, event in enumerate(span.events):
        clean = scrub_attributes(event.attributes)
        if clean is not None:
            events = events or list(span.events)
            events[i] = Event(event.name, clean, event.timestamp)
    name = scrub(span.name)
    status = span.status
    if status.description and scrub(status.description) != status.description:
        status = Status(status.status_code, scrub(status.description))
    if attributes is None and events is None and name == span.name and status is span.status:
        return span
    return ReadableSpan(
        name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes if attributes is None else attributes,
        events=span.events if events is None else events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def scrub_log(record: ReadableLogRecord) -> ReadableLogRecord:
    """``record``, or a copy without the secrets in its body and attributes."""
    inner = record.log_record
    body = _scrub_body(inner.body)
    attributes = scrub_attributes(inner.attributes)
    if attributes is None and body == inner.body:
        return record
    inner = copy.copy(inner)
    inner.body = body
    if attributes is not None:
        inner.attributes = attributes
    return ReadableLogRecord(
        log_record=inner,
        resource=record.resource,
        instrumentation_scope=record.instrumentation_scope,
        limits=record.limits,
    )


def _scrub_body(body: Any) -> Any:
    """A log body without secrets: text, or a mapping (structured logs) one level deep."""
    if isinstance(body, str):
        return scrub(body)
    if isinstance(body, Mapping):
        clean = scrub_attributes(body)
        return body if clean is None else clean
    return body


def span_worker(exporter: SpanExporter, on_drop: Callable[[int], None]) -> BatchWorker[Any]:
    def export(batch: list[Any]) -> bool:
        spans = [scrub_span(s.to_readable() if type(s) is TradetelSpan else s) for s in batch]
        return exporter.export(spans) is SpanExportResult.SUCCESS

    delay = _env_seconds("OTEL_BSP_SCHEDULE_DELAY", 1.0)
    return BatchWorker("spans", export, on_drop, delay=delay, close=exporter.shutdown)


def log_worker(exporter: LogRecordExporter, on_drop: Callable[[int], None]) -> BatchWorker[Any]:
    def export(batch: list[ReadableLogRecord]) -> bool:
        return exporter.export([scrub_log(r) for r in batch]) is LogRecordExportResult.SUCCESS

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


class ScrubbingSpanProcessor(SpanProcessor):
    """A user's span processor, given spans without secrets at their end (as exporters are)."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self.inner.on_end(scrub_span(span))

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class ScrubbingLogProcessor(LogRecordProcessor):
    """A user's log processor, given records without secrets (as exporters are)."""

    def __init__(self, inner: LogRecordProcessor) -> None:
        self.inner = inner

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        record.body = _scrub_body(record.body)
        attributes = scrub_attributes(record.attributes)
        if attributes is not None:
            record.attributes = attributes
        self.inner.on_emit(log_record)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


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

    Unlike the SDK's periodic reader, it does not restart in a forked child (the child
    exports its own, fresh metrics, never the parent's inherited totals under the parent's
    identity), and flush and shutdown wait for the thread with a timeout instead of
    exporting on the caller's thread behind an export that hangs.
    """

    def __init__(
        self, exporter: MetricExporter, interval: float, on_drop: Callable[[int], None]
    ) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self._exporter = exporter
        self._on_drop = on_drop
        self.last_export_ok = True
        self._pid = os.getpid()
        self._worker = Worker("metrics", self._tick, interval)

    def _tick(self) -> None:
        if os.getpid() == self._pid:  # forked children never export the parent's totals
            self.collect()

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        try:
            result = self._exporter.export(metrics_data, timeout_millis=timeout_millis)
        except Exception as exc:
            report_internal_error("metric exporter", exc)
            result = MetricExportResult.FAILURE
        self.last_export_ok = result is MetricExportResult.SUCCESS
        if not self.last_export_ok:
            self._on_drop(count_points(metrics_data))

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._worker.run_now(timeout_millis / 1000) and self.last_export_ok

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        if self._worker.dead:
            return
        if not self._worker.stop(timeout_millis / 1000):
            self.last_export_ok = False  # the last collection did not go out in time
        self._exporter.shutdown(timeout_millis=0)  # also cuts short an export still retrying


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
