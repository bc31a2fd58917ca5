"""Read back what the file exporter wrote, as the tests look at it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otlp_receiver import any_value, attributes
from tradetel.exporters._otlpjson import read_file


def file_spans(data_dir: Path) -> list[tuple[dict[str, Any], Span]]:
    """Every span in ``traces.jsonl`` with the resource attributes it was written under."""
    requests, malformed = read_file(data_dir / "traces.jsonl", "traces")
    assert malformed == 0
    return [
        (attributes(rs.resource.attributes), span)
        for request in requests
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def file_span_names(data_dir: Path) -> list[str]:
    return [span.name for _, span in file_spans(data_dir)]


def file_metrics(data_dir: Path, name: str) -> list[Metric]:
    """Every export of metric ``name`` in ``metrics.jsonl``, oldest first."""
    requests, malformed = read_file(data_dir / "metrics.jsonl", "metrics")
    assert malformed == 0
    return [
        metric
        for request in requests
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
    ]


def file_log_bodies(data_dir: Path) -> list[Any]:
    requests, malformed = read_file(data_dir / "logs.jsonl", "logs")
    assert malformed == 0
    return [
        any_value(record.body)
        for request in requests
        for rl in request.resource_logs
        for sl in rl.scope_logs
        for record in sl.log_records
    ]
