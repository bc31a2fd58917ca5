"""Consecutive recorded lines of one signal merged into one export request.

A file exporter writes one line per SDK export, often a handful of spans each; sending them
one by one would cost a round trip per line. Merging concatenates the lines'
``resource_*`` lists in order, so nothing is rewritten: ids, timestamps and resources stay
exactly as recorded. A batch also knows how many items it carries (spans, data points, log
records) and the time range they cover, for the summary.
"""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ..exporters._otlpjson import Request, Signal
from ..exporters._recorded import RecordedLine

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_LINES", "Batch"]

#: Well under the 4 MiB that gRPC servers (the Collector among them) accept by default.
MAX_BATCH_BYTES = 1 << 20
MAX_BATCH_LINES = 512
_METRIC_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


class Batch:
    """Lines of one signal, merged into the first line's request as they are added."""

    def __init__(self, first: RecordedLine) -> None:
        self.signal: Signal = first.signal
        # The decoded request belongs to this replay alone, so it can be the accumulator.
        self.request: Request = first.request
        self.lines = 0
        self.items = 0
        self.size = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.start = f"{first.path}:{first.line}"  # where its first line was read
        self._account(first)

    def fits(self, line: RecordedLine, max_bytes: int, max_lines: int) -> bool:
        """Whether ``line`` can join without breaking the caps or the order of signals."""
        return (
            line.signal == self.signal
            and self.lines < max_lines
            and self.size + line.request.ByteSize() <= max_bytes
        )

    def add(self, line: RecordedLine) -> None:
        """Append ``line``'s request to the batch (its signal must match)."""
        self.request.MergeFrom(line.request)
        self._account(line)

    def _account(self, line: RecordedLine) -> None:
        self.lines += 1
        self.size += line.request.ByteSize()
        for start, end in _time_ranges(line.signal, line.request):
            self.items += 1
            if start and (self.first_ns is None or start < self.first_ns):
                self.first_ns = start
            if end and (self.last_ns is None or end > self.last_ns):
                self.last_ns = end


def _time_ranges(signal: Signal, request: Request) -> Iterator[tuple[int, int]]:
    """``(start, end)`` in Unix nanoseconds per item of the request (0 when unset)."""
    if isinstance(request, ExportTraceServiceRequest):
        return _span_times(request)
    if isinstance(request, ExportMetricsServiceRequest):
        return _point_times(request)
    if isinstance(request, ExportLogsServiceRequest):
        return _log_times(request)
    raise TypeError(f"not an OTLP export request for {signal}: {type(request).__name__}")


def _span_times(request: ExportTraceServiceRequest) -> Iterator[tuple[int, int]]:
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield span.start_time_unix_nano, span.end_time_unix_nano


def _point_times(request: ExportMetricsServiceRequest) -> Iterator[tuple[int, int]]:
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind not in _METRIC_KINDS:
                    continue
                # A cumulative point's start is when the process began counting, not when
                # it was observed: the range is of observation times.
                for point in getattr(metric, kind).data_points:
                    yield point.time_unix_nano, point.time_unix_nano


def _log_times(request: ExportLogsServiceRequest) -> Iterator[tuple[int, int]]:
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                when = record.time_unix_nano or record.observed_time_unix_nano
                yield when, when
