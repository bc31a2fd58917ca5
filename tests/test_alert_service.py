"""``tradetel alerts serve``: the service fed by real OTLP exporters, on loopback.

Evaluation is driven by a fake clock and ``AlertService.evaluate_due()``, so no test waits for
the wall clock; the exporters only send on ``force_flush``.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from http_sink import HttpSink, http_sink
from tradetel._errors import ConfigError, RuleError
from tradetel.alerts._http_api import go_float, rfc3339
from tradetel.alerts._service import AlertService

RULES = """\
groups:
  - name: trading
    rules:
      - record: drawdown:max
        expr: max(test_drawdown)
      - alert: DrawdownHigh
        expr: test_drawdown > 0.1
        for: 0s
        labels:
          severity: critical
        annotations:
          summary: "drawdown is {{ $value }}"
      - alert: Collides
        expr: '{__name__=~"test_long|test_short"}'
"""
TOKEN = "s3cret-token"
PROTOBUF = "application/x-protobuf"


class Clock:
    """Epoch seconds that move only when told; each step lands past the real time, so that
    what the exporters sent is in the past of the next evaluation."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def step(self, seconds: float = 1.0) -> None:
        self.now = max(self.now, time.time()) + seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with http_sink() as hook:
        yield hook


@pytest.fixture
def start(tmp_path: Path, clock: Clock, sink: HttpSink) -> Iterator[Callable[..., AlertService]]:
    """Start services on loopback (rules, webhook notify file, tmp data dir); all stopped after."""
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    notify = tmp_path / "notify.yml"
    notify.write_text(
        f"channels:\n  hook:\n    type: webhook\n    url: {sink.url}\ndefault: [hook]\n"
    )
    started: list[AlertService] = []

    def make(**options: Any) -> AlertService:
        settings: dict[str, Any] = {
            "notify": notify,
            "listen": "127.0.0.1:0",
            "data_dir": tmp_path / "data",
            "interval": "1s",
            "clock": clock,
        }
        settings.update(options)
        service = AlertService([rules], **settings)
        service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        service.stop(timeout=10)


@pytest.fixture
def service(start: Callable[..., AlertService]) -> AlertService:
    return start()


def evaluate(service: AlertService, clock: Clock) -> None:
    """Move the clock one interval past now and let the service run what is due."""
    clock.step()
    assert service.evaluate_due()


class Feed:
    """A real SDK MeterProvider exporting over OTLP to the service, only on ``push``."""

    def __init__(self, exporter: Any) -> None:
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        self.provider = MeterProvider(
            metric_readers=[reader],
            resource=Resource.create({"service.name": "bot", "service.instance.id": "bot-1"}),
        )
        self._meter = self.provider.get_meter("test")
        self._gauges: dict[str, Any] = {}
        self._closed = False

    def push(self, **values: float) -> None:
        """Set gauges ``test.<name>`` and export now."""
        for name, value in values.items():
            if name not in self._gauges:
                self._gauges[name] = self._meter.create_gauge(f"test.{name}")
            self._gauges[name].set(value)
        assert self.provider.force_flush(10_000)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.provider.shutdown()


@pytest.fixture
def feeds() -> Iterator[Callable[..., Feed]]:
    """Feeds to a service; shut down (a last export) before the services stop."""
    made: list[Feed] = []

    def make(service: AlertService, *, token: str | None = None, **options: Any) -> Feed:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        endpoint = f"http://127.0.0.1:{service.port}/v1/metrics"
        feed = Feed(OTLPMetricExporter(endpoint=endpoint, headers=headers, timeout=5, **options))
        made.append(feed)
        return feed

    yield make
    for feed in made:
        feed.close()


def call(
    service: AlertService,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """A raw request; the status, headers and body, also for errors."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.port}{path}", data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        try:
            return error.code, dict(error.headers), error.read()
        finally:
            error.close()


def api(service: AlertService, path: str, **options: Any) -> Any:
    status, _, body = call(service, path, **options)
    assert status == 200, body
    payload = json.loads(body)
    assert payload["status"] == "success"
    return payload["data"]


def firing(service: AlertService, name: str = "DrawdownHigh") -> list[dict[str, Any]]:
    alerts = api(service, "/api/v1/alerts")["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]


def metric_values(service: AlertService, headers: dict[str, str] | None = None) -> dict[str, float]:
    status, _, body = call(service, "/metrics", headers=headers)
    assert status == 200
    return {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in body.decode().splitlines()
        if line and not line.startswith("#")
    }


def gauge_request(value: float, name: str = "test.drawdown") -> ExportMetricsServiceRequest:
    point = metrics_pb2.NumberDataPoint(time_unix_nano=time.time_ns(), as_double=value)
    metric = metrics_pb2.Metric(name=name, gauge=metrics_pb2.Gauge(data_points=[point]))
    return _request(metric)


def _request(metric: metrics_pb2.Metric) -> ExportMetricsServiceRequest:
    resource_attribute = KeyValue(key="service.name", value=AnyValue(string_value="bot"))
    return ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource={"attributes": [resource_attribute]},
                scope_metrics=[metrics_pb2.ScopeMetrics(metrics=[metric])],
            )
        ]
    )


# -- end to end ------------------------------------------------------------------------------


def test_alert_over_otlp_fires_and_reaches_the_webhook(
    service: AlertService, clock: Clock, feeds: Callable[..., Feed], sink: HttpSink
) -> None:
    feeds(service).push(drawdown=0.25)
    evaluate(service, clock)

    [alert] = firing(service)
    assert alert["labels"] == {
        "alertname": "DrawdownHigh",
        "severity": "critical",
        "job": "bot",
        "instance": "bot-1",
    }
    assert alert["annotations"] == {"summary": "drawdown is 0.25"}
    assert alert["value"] == "2.5e-01"
    assert alert["activeAt"] == rfc3339(alert_active_at(service))
    [payload] = sink.wait_json()
    assert payload["status"] == "firing"
    assert [a["labels"]["alertname"] for a in payload["alerts"]] == ["DrawdownHigh"]


def alert_active_at(service: AlertService) -> float:
    [(_, _, alert)] = [a for a in service.engine.alerts() if a[2].name == "DrawdownHigh"]
    return alert.active_at


def test_alerts_endpoint_lists_only_pending_and_firing(
    service: AlertService, clock: Clock, feeds: Callable[..., Feed]
) -> None:
    feed = feeds(service)
    feed.push(drawdown=0.25)
    evaluate(service, clock)
    feed.push(drawdown=0.05)
    evaluate(service, clock)

    assert api(service, "/api/v1/alerts") == {"alerts": []}


def test_rules_endpoint_has_prometheus_shape(
    service: AlertService, clock: Clock, feeds: Callable[..., Feed]
) -> None:
    feeds(service).push(drawdown=0.25)
    evaluate(service, clock)

    [group] = api(service, "/api/v1/rules")["groups"]
    assert set(group) == {
        "name", "file", "rules", "interval", "limit", "evaluationTime", "lastEvaluation"
    }  # fmt: skip
    assert (group["name"], group["interval"], group["limit"]) == ("trading", 1.0, 0)
    assert group["file"].endswith("rules.yml")
    record, alert, _ = group["rules"]
    assert record == {
        "name": "drawdown:max",
        "query": "max(test_drawdown)",
        "labels": {},
        "health": "ok",
        "evaluationTime": record["evaluationTime"],
        "lastEvaluation": group["lastEvaluation"],
        "type": "recording",
    }
    assert list(alert) == [
        "state", "name", "query", "duration", "keepFiringFor", "labels", "annotations",
        "alerts", "health", "evaluationTime", "lastEvaluation", "type",
    ]  # fmt: skip
    assert alert["state"] == "firing"
    assert (alert["duration"], alert["keepFiringFor"], alert["type"]) == (0.0, 0.0, "alerting")
    assert alert["labels"] == {"severity": "critical"}
    assert [a["state"] for a in alert["alerts"]] == ["firing"]


def test_rules_endpoint_filters_by_type(service: AlertService, clock: Clock) -> None:
    evaluate(service, clock)

    [group] = api(service, "/api/v1/rules?type=record")["groups"]
    assert [rule["type"] for rule in group["rules"]] == ["recording"]
    [group] = api(service, "/api/v1/rules?type=alert")["groups"]
    assert [rule["name"] for rule in group["rules"]] == ["DrawdownHigh", "Collides"]
    status, _, body = call(service, "/api/v1/rules?type=bogus")
    assert status == 400
    assert json.loads(body)["errorType"] == "bad_data"


def test_a_query_error_in_one_rule_does_not_stop_the_others(
    service: AlertService, clock: Clock, feeds: Callable[..., Feed]
) -> None:
    feeds(service).push(drawdown=0.25, long=1.0, short=2.0)  # one label set, two names
    evaluate(service, clock)

    rules = {rule["name"]: rule for rule in api(service, "/api/v1/rules")["groups"][0]["rules"]}
    assert rules["Collides"]["health"] == "err"
    assert "same labelset" in rules["Collides"]["lastError"]
    assert rules["DrawdownHigh"]["health"] == "ok"
    assert len(firing(service)) == 1


# -- health, readiness, own metrics ----------------------------------------------------------


def test_ready_only_after_the_first_evaluation(service: AlertService, clock: Clock) -> None:
    assert call(service, "/-/healthy")[0] == 200
    assert call(service, "/-/ready")[0] == 503

    evaluate(service, clock)

    assert call(service, "/-/ready")[0] == 200
    assert call(service, "/-/healthy", method="HEAD")[:1] == (200,)


def test_metrics_endpoint_shows_counters_that_moved(
    service: AlertService, clock: Clock, feeds: Callable[..., Feed], sink: HttpSink
) -> None:
    feeds(service).push(drawdown=0.25)
    evaluate(service, clock)
    sink.wait_json()
    assert service.notifier.flush(5)  # the stats follow the delivery

    status, headers, body = call(service, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    assert "# TYPE tradetel_alerts_otlp_requests_total counter" in text
    assert "# HELP tradetel_alerts_alerts Alerts by state." in text
    values = metric_values(service)
    assert values['tradetel_alerts_otlp_requests_total{protocol="http",code="200"}'] == 1
    assert values['tradetel_alerts_data_points_total{outcome="accepted"}'] >= 1
    assert values["tradetel_alerts_evaluations_total"] >= 1
    assert values["tradetel_alerts_series"] >= 1
    assert values['tradetel_alerts_alerts{state="firing"}'] == 1
    assert values['tradetel_alerts_notifications_total{channel="hook",outcome="sent"}'] == 1
    assert values['tradetel_alerts_notification_breaker_open{channel="hook"}'] == 0
    group = 'rule_group="trading",file="' + service.engine.groups[0].file + '"'
    assert f"tradetel_alerts_group_last_evaluation_duration_seconds{{{group}}}" in values


# -- authentication --------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/rules"),
    ("GET", "/-/healthy"),
    ("GET", "/-/ready"),
    ("GET", "/metrics"),
    ("POST", "/v1/metrics"),
    ("GET", "/no/such/path"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_every_endpoint_refuses_a_missing_or_wrong_token(
    start: Callable[..., AlertService], method: str, path: str, authorization: str | None
) -> None:
    service = start(token=TOKEN)
    headers = {"Content-Type": PROTOBUF}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = gauge_request(0.5).SerializeToString() if method == "POST" else None

    status, reply_headers, reply = call(service, path, method=method, body=body, headers=headers)

    assert status == 401
    assert reply_headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN.encode() not in reply
    assert len(service.engine.store) == 0


@pytest.mark.parametrize(("method", "path"), ENDPOINTS[:-1])
def test_every_endpoint_accepts_the_right_token(
    start: Callable[..., AlertService], clock: Clock, method: str, path: str
) -> None:
    service = start(token=TOKEN)
    evaluate(service, clock)
    headers = {"Content-Type": PROTOBUF, "Authorization": f"Bearer {TOKEN}"}
    body = gauge_request(0.5).SerializeToString() if method == "POST" else None

    assert call(service, path, method=method, body=body, headers=headers)[0] == 200


def test_exporter_sending_the_token_feeds_the_alert(
    start: Callable[..., AlertService], clock: Clock, feeds: Callable[..., Feed]
) -> None:
    service = start(token=TOKEN)
    feeds(service, token=TOKEN).push(drawdown=0.25)
    evaluate(service, clock)

    [alert] = api(service, "/api/v1/alerts", headers={"Authorization": f"Bearer {TOKEN}"})["alerts"]
    assert alert["labels"]["alertname"] == "DrawdownHigh"


# -- OTLP/HTTP payloads ----------------------------------------------------------------------


def raw_post(service: AlertService, headers: str) -> bytes:
    """Send a request head (and no body) on a socket; the whole reply, up to the close."""
    head = f"POST /v1/metrics HTTP/1.1\r\nHost: x\r\n{headers}\r\n"
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as connection:
        connection.sendall(head.encode())
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
    return reply


def test_oversized_body_is_refused_before_it_is_read(start: Callable[..., AlertService]) -> None:
    service = start(max_body_bytes=1024)

    # the body never comes: the reply must not wait for it
    reply = raw_post(
        service, "Content-Type: application/x-protobuf\r\nContent-Length: 100000000\r\n"
    )

    assert reply.startswith(b"HTTP/1.1 413")
    status = status_pb2.Status.FromString(reply.partition(b"\r\n\r\n")[2])
    assert "over the limit of 1024 bytes" in status.message
    assert len(service.engine.store) == 0


def test_body_without_a_length_is_refused_with_411(service: AlertService) -> None:
    reply = raw_post(
        service, "Content-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n"
    )

    assert reply.startswith(b"HTTP/1.1 411")


def test_body_that_inflates_past_the_limit_is_refused(start: Callable[..., AlertService]) -> None:
    service = start(max_body_bytes=4096)
    bomb = gzip.compress(gauge_request(0.5).SerializeToString() + b"\0" * 100_000)
    headers = {"Content-Type": PROTOBUF, "Content-Encoding": "gzip"}

    status, _, body = call(service, "/v1/metrics", method="POST", body=bomb, headers=headers)

    assert status == 400
    assert "inflates past 4096 bytes" in status_pb2.Status.FromString(body).message
    assert len(service.engine.store) == 0


def test_garbage_protobuf_is_refused_and_nothing_is_ingested(service: AlertService) -> None:
    headers = {"Content-Type": PROTOBUF}
    body = b"\xff\xff\xff not a protobuf"

    status, reply_headers, reply = call(
        service, "/v1/metrics", method="POST", body=body, headers=headers
    )

    assert status == 400
    assert reply_headers["Content-Type"] == PROTOBUF
    error = status_pb2.Status.FromString(reply)
    assert error.code == code_pb2.INVALID_ARGUMENT
    assert "malformed OTLP metrics" in error.message
    assert len(service.engine.store) == 0
    assert metric_values(service)['tradetel_alerts_data_points_total{outcome="accepted"}'] == 0


def test_request_with_one_malformed_metric_ingests_none_of_it(service: AlertService) -> None:
    request = gauge_request(0.5)
    nameless = metrics_pb2.Metric(
        gauge=gauge_request(0.5).resource_metrics[0].scope_metrics[0].metrics[0].gauge
    )
    request.resource_metrics[0].scope_metrics[0].metrics.append(nameless)

    status, _, reply = call(
        service,
        "/v1/metrics",
        method="POST",
        body=request.SerializeToString(),
        headers={"Content-Type": PROTOBUF},
    )

    assert status == 400
    assert "no name" in status_pb2.Status.FromString(reply).message
    assert len(service.engine.store) == 0


def test_garbage_json_is_refused_and_nothing_is_ingested(service: AlertService) -> None:
    headers = {"Content-Type": "application/json"}

    status, _, reply = call(
        service, "/v1/metrics", method="POST", body=b'{"resourceMetrics": [', headers=headers
    )

    assert status == 400
    assert "malformed OTLP metrics" in json.loads(reply)["message"]
    assert len(service.engine.store) == 0


def test_other_content_types_are_refused_with_415(service: AlertService) -> None:
    status, _, reply = call(
        service, "/v1/metrics", method="POST", body=b"x=1", headers={"Content-Type": "text/plain"}
    )

    assert status == 415
    assert b"application/x-protobuf" in reply


def test_wrong_method_is_405_and_unknown_path_is_404(service: AlertService) -> None:
    status, headers, _ = call(service, "/v1/metrics")
    assert (status, headers["Allow"]) == (405, "POST")
    assert call(service, "/api/v1/alerts", method="POST", body=b"")[0] == 405
    assert call(service, "/api/v1/nothing")[0] == 404


def test_json_payload_is_accepted(service: AlertService, clock: Clock) -> None:
    body = json.dumps(
        {
            "resourceMetrics": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]
                    },
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {
                                    "name": "test.drawdown",
                                    "gauge": {
                                        "dataPoints": [
                                            {"timeUnixNano": str(time.time_ns()), "asDouble": 0.5}
                                        ]
                                    },
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    ).encode()

    status, headers, reply = call(
        service,
        "/v1/metrics",
        method="POST",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    evaluate(service, clock)

    assert (status, headers["Content-Type"], json.loads(reply)) == (200, "application/json", {})
    assert [a["value"] for a in firing(service)] == ["5e-01"]


def test_gzip_export_from_the_exporter_is_accepted(
    service: AlertService, clock: Clock, feeds: Callable[..., Feed]
) -> None:
    feeds(service, compression=Compression.Gzip).push(drawdown=0.25)
    evaluate(service, clock)

    assert len(firing(service)) == 1


def test_delta_metric_is_a_partial_success_when_delta_is_refused(
    start: Callable[..., AlertService],
) -> None:
    service = start(delta="refuse")
    point = metrics_pb2.NumberDataPoint(
        start_time_unix_nano=time.time_ns() - 10**9, time_unix_nano=time.time_ns(), as_int=3
    )
    fills = metrics_pb2.Sum(
        data_points=[point],
        aggregation_temporality=metrics_pb2.AGGREGATION_TEMPORALITY_DELTA,
        is_monotonic=True,
    )
    request = _request(metrics_pb2.Metric(name="test.fills", sum=fills))

    status, _, reply = call(
        service,
        "/v1/metrics",
        method="POST",
        body=request.SerializeToString(),
        headers={"Content-Type": PROTOBUF},
    )

    assert status == 200
    partial = ExportMetricsServiceResponse.FromString(reply).partial_success
    assert partial.rejected_data_points == 1
    assert "delta temporality refused" in partial.error_message
    assert metric_values(service)['tradetel_alerts_data_points_total{outcome="rejected"}'] == 1


# -- state across restarts, gRPC, signals ----------------------------------------------------


def test_firing_alert_keeps_its_active_at_across_a_restart(
    start: Callable[..., AlertService], clock: Clock, feeds: Callable[..., Feed]
) -> None:
    first = start()
    feed = feeds(first)
    feed.push(drawdown=0.25)
    evaluate(first, clock)
    [before] = firing(first)
    feed.close()
    first.stop()

    second = start()
    feeds(second).push(drawdown=0.25)
    evaluate(second, clock)

    [after] = firing(second)
    assert after["activeAt"] == before["activeAt"]
    data = first.data_dir
    assert (data / "alerts-state.db").exists()
    assert (data / "alerts-history.db").exists()


def test_grpc_export_with_the_token_feeds_the_alert(
    start: Callable[..., AlertService], clock: Clock
) -> None:
    service = start(grpc_listen="127.0.0.1:0", token=TOKEN)
    exporter = GrpcMetricExporter(
        endpoint=f"http://127.0.0.1:{service.grpc_port}",
        insecure=True,
        headers={"authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    feed = Feed(exporter)
    try:
        feed.push(drawdown=0.25)
        evaluate(service, clock)
    finally:
        feed.close()

    assert (
        metric_values(service, {"Authorization": f"Bearer {TOKEN}"})[
            'tradetel_alerts_otlp_requests_total{protocol="grpc",code="OK"}'
        ]
        >= 1
    )
    assert service.engine.alerts()[0][2].state == "firing"


def test_grpc_export_without_the_token_is_unauthenticated(
    start: Callable[..., AlertService],
) -> None:
    service = start(grpc_listen="127.0.0.1:0", token=TOKEN)
    with grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            request_serializer=ExportMetricsServiceRequest.SerializeToString,
            response_deserializer=ExportMetricsServiceResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as raised:
            export(gauge_request(0.5), timeout=5)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert len(service.engine.store) == 0


def test_sigterm_stops_the_service_cleanly(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    script = textwrap.dedent(
        f"""
        from tradetel.alerts._service import AlertService
        service = AlertService([{str(rules)!r}], listen="127.0.0.1:0", data_dir={str(tmp_path)!r})
        service.start()
        print(service.port, flush=True)
        service.serve_forever()
        print("stopped", flush=True)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "TRADETEL_RAISE_INTERNAL_ERRORS"}
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy", timeout=5) as reply:
            assert reply.status == 200
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)

    assert process.returncode == 0
    assert out.strip() == "stopped"
    assert (tmp_path / "alerts-state.db").exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


# -- construction errors and formats ---------------------------------------------------------


def test_a_bad_rule_file_fails_at_construction(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(\n")

    with pytest.raises(RuleError, match=r"rules\.yml"):
        AlertService([rules], data_dir=tmp_path)


@pytest.mark.parametrize(
    "options",
    [{"listen": "localhost"}, {"interval": "soon"}, {"max_body_bytes": 0}, {"token": " "}],
)
def test_bad_settings_fail_at_construction(tmp_path: Path, options: dict[str, Any]) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)

    with pytest.raises(ConfigError) as raised:
        AlertService([rules], data_dir=tmp_path, **options)
    assert TOKEN not in str(raised.value)


def test_a_taken_port_is_a_config_error(
    service: AlertService, start: Callable[..., AlertService]
) -> None:
    with pytest.raises(ConfigError, match="cannot listen"):
        start(listen=f"127.0.0.1:{service.port}")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1e+00"),
        (0.25, "2.5e-01"),
        (123456.0, "1.23456e+05"),
        (1e-7, "1e-07"),
        (0.0, "0e+00"),
        (-2.0, "-2e+00"),
        (float("inf"), "+Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_alert_values_are_written_as_prometheus_writes_them(value: float, text: str) -> None:
    assert go_float(value) == text


def test_times_are_written_as_go_rfc3339nano() -> None:
    assert rfc3339(1714564800.0) == "2024-05-01T12:00:00Z"
    assert rfc3339(1714564800.125) == "2024-05-01T12:00:00.125Z"
    assert rfc3339(None) == "0001-01-01T00:00:00Z"


SHIPPED = Path(__file__).parents[1] / "collector" / "rules" / "trading.rules.yml"


def test_the_shipped_rules_fire_through_the_service_fed_by_a_tradetel_process(
    tmp_path: Path, clock: Clock, sink: HttpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tradetel
    from tradetel import performance

    notify = tmp_path / "notify.yml"
    notify.write_text(f"channels:\n  hook: {{type: webhook, url: '{sink.url}'}}\ndefault: [hook]\n")
    service = AlertService(
        [SHIPPED], notify=notify, listen="127.0.0.1:0", data_dir=tmp_path / "data", clock=clock
    ).start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{service.port}")
        tradetel.configure(
            service_name="bot", exporter="otlp", data_dir=tmp_path, system_metrics=False
        )
        perf = performance.tracker("momentum")
        perf.update_equity(10_000.0)
        perf.update_equity(8_500.0)  # 15 % below the peak
        assert tradetel.force_flush()
        clock.step(15)  # the service's warm-up
        assert service.evaluate_due()
        clock.step(60)  # the rules' `for: 1m`
        assert service.evaluate_due()
        assert {a["labels"]["alertname"] for a in firing(service, "DrawdownCritical")} == {
            "DrawdownCritical"
        }
        [payload] = sink.wait_json()
    finally:
        tradetel.shutdown()
        service.stop(timeout=10)
    names = {a["labels"]["alertname"] for a in payload["alerts"]}
    assert names == {"DrawdownWarning", "DrawdownCritical"}
    assert {a["labels"]["trading_strategy_name"] for a in payload["alerts"]} == {"momentum"}
