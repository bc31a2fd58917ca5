"""The exporters that ``configure(exporter=...)`` names, made for each signal.

Imported by configure() only, never by the decorators: the OTLP exporters pull in protobuf,
gRPC and HTTP clients.
"""

from __future__ import annotations

from opentelemetry.sdk import metrics as sdk_metrics
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricExporter
from opentelemetry.sdk.trace.export import SpanExporter

from .._config import Settings, otlp_protocol

__all__ = ["CUMULATIVE", "log_exporter", "metric_exporter", "span_exporter"]

#: tradetel exports cumulative temporality for every instrument kind: Prometheus drops delta.
CUMULATIVE: dict[type, AggregationTemporality] = dict.fromkeys(
    (
        sdk_metrics.Counter,
        sdk_metrics.UpDownCounter,
        sdk_metrics.Histogram,
        sdk_metrics._Gauge,
        sdk_metrics.ObservableCounter,
        sdk_metrics.ObservableUpDownCounter,
        sdk_metrics.ObservableGauge,
    ),
    AggregationTemporality.CUMULATIVE,
)


def span_exporter(name: str, settings: Settings) -> SpanExporter:
    if name == "file":
        from ._file import FileSpanExporter

        return FileSpanExporter(
            settings.data_dir, max_bytes=settings.file_max_bytes, backups=settings.file_backups
        )
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if otlp_protocol("traces") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter()


def metric_exporter(name: str, settings: Settings) -> MetricExporter:
    if name == "file":
        from ._file import FileMetricExporter

        return FileMetricExporter(
            settings.data_dir, max_bytes=settings.file_max_bytes, backups=settings.file_backups
        )
    if name == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter(preferred_temporality=CUMULATIVE)
    if otlp_protocol("metrics") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
    return OTLPMetricExporter(preferred_temporality=CUMULATIVE)


def log_exporter(name: str, settings: Settings) -> LogRecordExporter:
    if name == "file":
        from ._file import FileLogExporter

        return FileLogExporter(
            settings.data_dir, max_bytes=settings.file_max_bytes, backups=settings.file_backups
        )
    if name == "console":
        from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

        return ConsoleLogRecordExporter()
    if otlp_protocol("logs") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # type: ignore[assignment]
            OTLPLogExporter,
        )
    return OTLPLogExporter()
