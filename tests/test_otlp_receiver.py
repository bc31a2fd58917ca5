"""The test OTLP receiver against the SDK's real OTLP exporters."""

from __future__ import annotations

import gzip
import http.client
import json
import time
from collections.abc import Iterator

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otlp_receiver import OtlpReceiver

RESOURCE = Resource.create({"service.name": "receiver-test"})


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def _send_span(exporter: SpanExporter, name: str) -> None:
    """End one span through a SimpleSpanProcessor, then shut the exporter down."""
    provider = TracerProvider(resource=RESOURCE, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("tests.receiver").start_as_current_span(name) as span:
        span.set_attribute("order.side", "buy")
    provider.shutdown()


def _finished_span(name: str) -> ReadableSpan:
    """A real finished span, for calling an exporter's export() directly."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("tests.receiver").start_span(name).end()
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    return span


@pytest.mark.parametrize(
    "compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate]
)
def test_http_span_exporter(receiver: OtlpReceiver, compression: Compression) -> None:
    exporter = HttpSpanExporter(
        endpoint=f"{receiver.http_endpoint}/v1/traces", compression=compression
    )
    _send_span(exporter, "place-order")

    assert receiver.wait_for(lambda r: r.span_names() == ["place-order"])
    ((resource, span, scope),) = receiver.spans()
    assert resource["service.name"] == "receiver-test"
    assert scope == "tests.receiver"
    assert len(span.trace_id) == 16
    assert len(span.span_id) == 8
    assert {kv.key: kv.value.string_value for kv in span.attributes} == {"order.side": "buy"}
    assert receiver.requests == {("http", "traces"): 1}


@pytest.mark.parametrize("compression", [grpc.Compression.NoCompression, grpc.Compression.Gzip])
def test_grpc_span_exporter(receiver: OtlpReceiver, compression: grpc.Compression) -> None:
    _send_span(GrpcSpanExporter(endpoint=receiver.grpc_endpoint, compression=compression), "quote")

    assert receiver.wait_for(lambda r: r.span_names() == ["quote"])
    assert receiver.spans()[0].resource["service.name"] == "receiver-test"
    assert receiver.requests == {("grpc", "traces"): 1}


def test_http_metric_exporter(receiver: OtlpReceiver) -> None:
    exporter = OTLPMetricExporter(endpoint=f"{receiver.http_endpoint}/v1/metrics")
    # A long interval so only the explicit flush and the final shutdown export.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=600_000)
    provider = MeterProvider(metric_readers=[reader], resource=RESOURCE, shutdown_on_exit=False)
    provider.get_meter("tests.receiver").create_counter("orders.sent").add(3, {"venue": "X"})
    try:
        assert provider.force_flush()
        assert receiver.wait_for(lambda r: "orders.sent" in r.metric_names())
    finally:
        provider.shutdown()

    received = receiver.metrics()[0]
    assert received.resource["service.name"] == "receiver-test"
    assert received.metric.sum.data_points[0].as_int == 3


def test_http_log_exporter(receiver: OtlpReceiver) -> None:
    exporter = OTLPLogExporter(endpoint=f"{receiver.http_endpoint}/v1/logs")
    provider = LoggerProvider(resource=RESOURCE, shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    provider.get_logger("tests.receiver").emit(body="order filled")
    provider.shutdown()

    assert receiver.wait_for(lambda r: r.log_bodies() == ["order filled"])
    assert receiver.logs()[0].resource["service.name"] == "receiver-test"


def _post(
    receiver: OtlpReceiver, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(receiver.host, receiver.http_port, timeout=5)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def test_otlp_json_with_hex_ids(receiver: OtlpReceiver) -> None:
    trace_id, span_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    payload = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "replay"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "parentSpanId": "",
                                "name": "from-json",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000500000000",
                                "someFutureField": True,
                            }
                        ],
                    }
                ],
            }
        ]
    }
    status, content_type, body = _post(
        receiver,
        "/v1/traces",
        gzip.compress(json.dumps(payload).encode()),
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )

    assert (status, content_type, json.loads(body)) == (200, "application/json", {})
    ((resource, span, scope),) = receiver.spans()
    assert (resource, scope, span.name) == ({"service.name": "json"}, "replay", "from-json")
    assert (span.trace_id.hex(), span.span_id.hex()) == (trace_id, span_id)
    assert span.end_time_unix_nano - span.start_time_unix_nano == 500_000_000


def test_protobuf_reply_and_rejections(receiver: OtlpReceiver) -> None:
    proto = {"Content-Type": "application/x-protobuf"}
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(name="raw")

    status, content_type, body = _post(receiver, "/v1/traces", request.SerializeToString(), proto)
    assert (status, content_type, body) == (200, "application/x-protobuf", b"")
    assert _post(receiver, "/v1/traces", b"\xff\xff\xff", proto)[0] == 400
    bad_id = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}'
    assert _post(receiver, "/v1/traces", bad_id, {"Content-Type": "application/json"})[0] == 400
    assert _post(receiver, "/v1/nothing", b"", proto)[0] == 404
    assert _post(receiver, "/v1/traces", b"", {"Content-Type": "text/plain"})[0] == 415

    assert receiver.span_names() == ["raw"]
    # Rejected requests count as requests but leave no data behind.
    assert receiver.requests == {("http", "traces"): 4}


def test_http_restart_on_same_ports(receiver: OtlpReceiver) -> None:
    ports = (receiver.http_port, receiver.grpc_port)
    # A short timeout bounds the exporter's retry-with-backoff while the receiver is down.
    exporter = HttpSpanExporter(endpoint=f"{receiver.http_endpoint}/v1/traces", timeout=1)
    try:
        assert exporter.export([_finished_span("before")]) is SpanExportResult.SUCCESS

        receiver.stop()
        started = time.monotonic()
        assert exporter.export([_finished_span("while-down")]) is SpanExportResult.FAILURE
        assert time.monotonic() - started < 2.5

        receiver.start()
        assert (receiver.http_port, receiver.grpc_port) == ports
        # The pooled keep-alive connection died with the old server; the exporter
        # has to notice and reconnect.
        assert exporter.export([_finished_span("after")]) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()

    assert receiver.span_names() == ["before", "after"]
    assert receiver.requests == {("http", "traces"): 2}


def test_grpc_restart_on_same_port(receiver: OtlpReceiver) -> None:
    # Above 1 s so one reconnect backoff (1 s +- 20 %) fits after the restart.
    exporter = GrpcSpanExporter(endpoint=receiver.grpc_endpoint, timeout=2)
    try:
        assert exporter.export([_finished_span("before")]) is SpanExportResult.SUCCESS
        receiver.stop()
        assert exporter.export([_finished_span("while-down")]) is SpanExportResult.FAILURE
        receiver.start()
        assert exporter.export([_finished_span("after")]) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()

    assert receiver.span_names() == ["before", "after"]


def test_fail_with_simulates_an_unhealthy_backend(receiver: OtlpReceiver) -> None:
    exporter = HttpSpanExporter(endpoint=f"{receiver.http_endpoint}/v1/traces", timeout=1)
    try:
        receiver.fail_with = 503
        assert exporter.export([_finished_span("rejected")]) is SpanExportResult.FAILURE
        assert receiver.requests[("http", "traces")] >= 1

        receiver.fail_with = None
        assert exporter.export([_finished_span("accepted")]) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()

    assert receiver.span_names() == ["accepted"]


def test_ports_are_not_shared(receiver: OtlpReceiver) -> None:
    clash = OtlpReceiver(port=receiver.http_port)
    with pytest.raises(OSError, match="in use"):
        clash.start()
    clash = OtlpReceiver(grpc_port=receiver.grpc_port)
    with pytest.raises(RuntimeError):
        clash.start()
    assert not clash.running


def test_wait_for_times_out(receiver: OtlpReceiver) -> None:
    started = time.monotonic()
    assert not receiver.wait_for(lambda r: bool(r.span_names()), timeout=0.2)
    assert time.monotonic() - started >= 0.2
