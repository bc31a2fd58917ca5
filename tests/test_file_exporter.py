"""The OTLP/JSON file exporters, fed by the real OpenTelemetry SDK."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import (
    encode_metrics as official_encode_metrics,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind

from tradetel.exporters._file import (
    FileLogExporter,
    FileMetricExporter,
    FileSpanExporter,
    RotatingLineWriter,
)
from tradetel.exporters._otlpjson import MalformedLine, decode_line, encode_metrics, read_file

AGGREGATION_TEMPORALITY_CUMULATIVE = 2
SPAN_KIND_CLIENT = 3


@pytest.fixture
def tracer_provider() -> Iterator[TracerProvider]:
    provider = TracerProvider(shutdown_on_exit=False)
    yield provider
    provider.shutdown()


def export_spans_to(provider: TracerProvider, exporter: SpanExporter) -> None:
    provider.add_span_processor(SimpleSpanProcessor(exporter))


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def only_span(document: dict[str, Any]) -> dict[str, Any]:
    (span,) = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    return span  # type: ignore[no-any-return]


def finished_spans(provider: TracerProvider, count: int = 1) -> tuple[ReadableSpan, ...]:
    memory = InMemorySpanExporter()
    export_spans_to(provider, memory)
    for index in range(count):
        with provider.get_tracer("test").start_as_current_span(f"span-{index}"):
            pass
    return memory.get_finished_spans()


def test_span_line_has_hex_ids_camel_case_keys_integer_kind_and_attributes(
    tmp_path: Path, tracer_provider: TracerProvider
) -> None:
    export_spans_to(tracer_provider, FileSpanExporter(tmp_path))
    tracer = tracer_provider.get_tracer("test")
    with tracer.start_as_current_span(
        "send_order", kind=SpanKind.CLIENT, attributes={"order.id": "o-1", "order.qty": 5}
    ) as span:
        context = span.get_span_context()

    (document,) = json_lines(tmp_path / "traces.jsonl")
    line = only_span(document)
    assert line["traceId"] == f"{context.trace_id:032x}"
    assert line["spanId"] == f"{context.span_id:016x}"
    assert "parentSpanId" not in line
    assert line["kind"] == SPAN_KIND_CLIENT
    assert line["name"] == "send_order"
    assert isinstance(line["startTimeUnixNano"], str)
    assert {"key": "order.id", "value": {"stringValue": "o-1"}} in line["attributes"]
    assert {"key": "order.qty", "value": {"intValue": "5"}} in line["attributes"]
    assert document["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"] == "test"


def test_child_span_line_has_hex_parent_span_id_and_hex_link_ids(
    tmp_path: Path, tracer_provider: TracerProvider
) -> None:
    export_spans_to(tracer_provider, FileSpanExporter(tmp_path))
    tracer = tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("quote") as quote:
        pass
    with tracer.start_as_current_span("order") as parent:
        link = Link(quote.get_span_context(), {"link.reason": "priced by"})
        with tracer.start_as_current_span("fill", links=[link]):
            pass

    child = only_span(json_lines(tmp_path / "traces.jsonl")[1])
    assert child["parentSpanId"] == f"{parent.get_span_context().span_id:016x}"
    (link_line,) = child["links"]
    assert link_line["traceId"] == f"{quote.get_span_context().trace_id:032x}"
    assert link_line["spanId"] == f"{quote.get_span_context().span_id:016x}"


def test_bytes_attribute_stays_base64_while_ids_become_hex(
    tmp_path: Path, tracer_provider: TracerProvider
) -> None:
    export_spans_to(tracer_provider, FileSpanExporter(tmp_path))
    with tracer_provider.get_tracer("test").start_as_current_span(
        "raw", attributes={"payload": b"\x00\xff"}
    ):
        pass

    (attribute,) = only_span(json_lines(tmp_path / "traces.jsonl")[0])["attributes"]
    assert attribute["value"] == {"bytesValue": "AP8="}
    (message,), _ = read_file(tmp_path / "traces.jsonl", "traces")
    value = message.resource_spans[0].scope_spans[0].spans[0].attributes[0].value
    assert value.bytes_value == b"\x00\xff"


def test_histogram_and_counter_round_trip_through_decode_line_with_same_values(
    tracer_provider: TracerProvider,
) -> None:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    meter = meter_provider.get_meter("test")
    latency = meter.create_histogram("order.latency", unit="ms")
    orders = meter.create_counter("orders")
    with tracer_provider.get_tracer("test").start_as_current_span("order") as span:
        latency.record(1.5, {"venue": "XNAS"})
        latency.record(12.0, {"venue": "XNAS"})
        orders.add(3, {"side": "buy"})
    data = reader.get_metrics_data()
    meter_provider.shutdown()
    assert data is not None

    decoded = decode_line("metrics", encode_metrics(data))

    assert decoded == official_encode_metrics(data)
    metrics = {m.name: m for m in decoded.resource_metrics[0].scope_metrics[0].metrics}
    (histogram,) = metrics["order.latency"].histogram.data_points
    assert (histogram.count, histogram.sum, histogram.min, histogram.max) == (2, 13.5, 1.5, 12.0)
    assert sum(histogram.bucket_counts) == 2
    exemplar = histogram.exemplars[0]
    assert exemplar.trace_id == span.get_span_context().trace_id.to_bytes(16, "big")
    assert exemplar.span_id == span.get_span_context().span_id.to_bytes(8, "big")
    counter = metrics["orders"].sum
    assert counter.is_monotonic
    assert counter.aggregation_temporality == AGGREGATION_TEMPORALITY_CUMULATIVE
    assert counter.data_points[0].as_int == 3


def test_metric_exporter_writes_cumulative_lines_through_a_periodic_reader(
    tmp_path: Path,
) -> None:
    reader = PeriodicExportingMetricReader(
        FileMetricExporter(tmp_path), export_interval_millis=math.inf
    )
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    meter = meter_provider.get_meter("test")
    meter.create_counter("orders").add(2)
    meter.create_histogram("order.latency").record(4.0)
    meter_provider.force_flush()
    meter.create_counter("orders").add(5)
    # With an infinite interval the reader exports only when flushed, not at shutdown.
    meter_provider.force_flush()
    meter_provider.shutdown()

    lines = json_lines(tmp_path / "metrics.jsonl")
    assert len(lines) == 2
    metrics = {m["name"]: m for m in lines[-1]["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]}
    assert metrics["orders"]["sum"]["aggregationTemporality"] == AGGREGATION_TEMPORALITY_CUMULATIVE
    assert metrics["orders"]["sum"]["dataPoints"][0]["asInt"] == "7"
    histogram = metrics["order.latency"]["histogram"]
    assert histogram["aggregationTemporality"] == AGGREGATION_TEMPORALITY_CUMULATIVE


def test_log_line_carries_hex_trace_and_span_id_of_the_active_span(
    tmp_path: Path, tracer_provider: TracerProvider
) -> None:
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(FileLogExporter(tmp_path)))
    logger = logger_provider.get_logger("test")
    with tracer_provider.get_tracer("test").start_as_current_span("order") as span:
        logger.emit(body="order rejected", severity_number=SeverityNumber.WARN)
    logger_provider.shutdown()

    (document,) = json_lines(tmp_path / "logs.jsonl")
    (record,) = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    assert record["traceId"] == f"{span.get_span_context().trace_id:032x}"
    assert record["spanId"] == f"{span.get_span_context().span_id:016x}"
    assert record["severityNumber"] == SeverityNumber.WARN.value
    assert record["body"] == {"stringValue": "order rejected"}
    (message,), skipped = read_file(tmp_path / "logs.jsonl", "logs")
    assert skipped == 0
    decoded = message.resource_logs[0].scope_logs[0].log_records[0]
    assert decoded.trace_id == span.get_span_context().trace_id.to_bytes(16, "big")


def test_rotation_keeps_at_most_backups_plus_one_files_and_newest_data_in_traces_jsonl(
    tmp_path: Path, tracer_provider: TracerProvider
) -> None:
    exporter = FileSpanExporter(tmp_path, max_bytes=2_000, backups=2)
    for span in finished_spans(tracer_provider, count=20):
        assert exporter.export([span]) is SpanExportResult.SUCCESS
    exporter.shutdown()

    names = ["traces.2.jsonl", "traces.1.jsonl", "traces.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    assert all((tmp_path / name).stat().st_size <= 2_000 for name in names)
    kept = [only_span(doc)["name"] for name in names for doc in json_lines(tmp_path / name)]
    # Oldest file first: the kept spans are the newest ones, in order, ending in traces.jsonl.
    assert kept == [f"span-{i}" for i in range(20 - len(kept), 20)]
    assert only_span(json_lines(tmp_path / "traces.jsonl")[-1])["name"] == "span-19"


def test_line_larger_than_max_bytes_is_written_whole_and_rotated_away_next(
    tmp_path: Path,
) -> None:
    writer = RotatingLineWriter(tmp_path / "traces.jsonl", max_bytes=10, backups=1)
    writer.write_line('{"big":"' + "x" * 100 + '"}')
    assert json.loads((tmp_path / "traces.jsonl").read_text())["big"] == "x" * 100
    writer.write_line("{}")
    writer.close()
    assert (tmp_path / "traces.jsonl").read_text() == "{}\n"
    assert len((tmp_path / "traces.1.jsonl").read_text()) == 111


def test_truncated_final_line_and_garbage_line_are_skipped_and_counted(
    tmp_path: Path, tracer_provider: TracerProvider
) -> None:
    exporter = FileSpanExporter(tmp_path)
    spans = finished_spans(tracer_provider, count=3)
    exporter.export(spans[:2])
    exporter.shutdown()
    path = tmp_path / "traces.jsonl"
    good_line = path.read_text().splitlines()[0]
    with path.open("a") as file:
        file.write("this is not json\n")
        file.write(good_line[: len(good_line) // 2])  # a writer killed mid-line

    messages, skipped = read_file(path, "traces")

    assert skipped == 2
    assert [m.resource_spans[0].scope_spans[0].spans[0].name for m in messages] == ["span-0"]


def test_new_writer_does_not_glue_its_line_onto_a_crashed_writers_half_line(
    tmp_path: Path, tracer_provider: TracerProvider
) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text('{"resourceSpans":[{"scopeSp')
    exporter = FileSpanExporter(tmp_path)
    exporter.export(finished_spans(tracer_provider))
    exporter.shutdown()

    messages, skipped = read_file(path, "traces")

    assert (len(messages), skipped) == (1, 1)


def test_export_to_unwritable_directory_returns_failure_and_does_not_raise(
    tmp_path: Path, tracer_provider: TracerProvider, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data directory should be")
    data_dir = blocker / "data"
    spans = finished_spans(tracer_provider)
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    meter_provider.get_meter("test").create_counter("orders").add(1)
    metrics = reader.get_metrics_data()
    meter_provider.shutdown()
    assert metrics is not None
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    logger_provider.get_logger("test").emit(body="hello")

    span_exporter = FileSpanExporter(data_dir)
    assert span_exporter.export(spans) is SpanExportResult.FAILURE
    assert span_exporter.export(spans) is SpanExportResult.FAILURE
    assert FileMetricExporter(data_dir).export(metrics) is MetricExportResult.FAILURE
    log_result = FileLogExporter(data_dir).export(logs.get_finished_logs())
    assert log_result is LogRecordExportResult.FAILURE
    span_exporter.shutdown()
    warnings = [r for r in caplog.records if "traces.jsonl" in r.getMessage()]
    assert len(warnings) == 1  # a lasting failure is logged once, not on every export


def test_exporter_creates_data_directory_on_first_export_only(
    tmp_path: Path, tracer_provider: TracerProvider
) -> None:
    data_dir = tmp_path / "nested" / "data"
    exporter = FileSpanExporter(data_dir)
    assert not data_dir.exists()
    assert exporter.export(finished_spans(tracer_provider)) is SpanExportResult.SUCCESS
    assert exporter.force_flush()
    exporter.shutdown()
    assert (data_dir / "traces.jsonl").is_file()


def test_export_after_shutdown_returns_failure(
    tmp_path: Path, tracer_provider: TracerProvider
) -> None:
    exporter = FileSpanExporter(tmp_path)
    exporter.shutdown()
    assert exporter.export(finished_spans(tracer_provider)) is SpanExportResult.FAILURE


def test_concurrent_writes_with_rotation_never_interleave_lines(tmp_path: Path) -> None:
    writer = RotatingLineWriter(tmp_path / "traces.jsonl", max_bytes=4_096, backups=100)

    def write(thread: int) -> None:
        for index in range(200):
            writer.write_line(json.dumps({"thread": thread, "index": index, "pad": "x" * index}))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()

    written = [doc for path in tmp_path.iterdir() for doc in json_lines(path)]
    assert sorted((d["thread"], d["index"]) for d in written) == [
        (t, i) for t in range(8) for i in range(200)
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "not valid JSON"),
        ('{"resourceSpans": [', "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"resourceSpans": [7]}', "expected a JSON object"),
        ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "abc"}]}]}]}', "32 hex"),
        ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": 7}]}]}]}', "hex string"),
        ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 7}]}]}]}', "not a valid"),
        ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": 1e400}]}]}]}', "not a valid"),
    ],
)
def test_decode_line_rejects_malformed_input_with_a_clear_message(line: str, reason: str) -> None:
    with pytest.raises(MalformedLine, match=reason):
        decode_line("traces", line)
    assert issubclass(MalformedLine, ValueError)


def test_decode_line_accepts_uppercase_hex_and_ignores_unknown_fields() -> None:
    trace_id = "00112233445566778899AABBCCDDEEFF"
    line = json.dumps(
        {"resourceSpans": [{"future": 1, "scopeSpans": [{"spans": [{"traceId": trace_id}]}]}]}
    )
    message = decode_line("traces", line)
    assert message.resource_spans[0].scope_spans[0].spans[0].trace_id == bytes.fromhex(trace_id)


def test_unknown_signal_is_a_programming_error_not_a_malformed_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown signal") as raised:
        decode_line("profiles", "{}")  # type: ignore[call-overload]
    assert not isinstance(raised.value, MalformedLine)
