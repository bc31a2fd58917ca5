"""``tradetel replay``: recorded files sent to a real OTLP receiver, as a user would run it."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from click.testing import CliRunner, Result
from google.rpc.error_details_pb2 import RetryInfo

import tradetel
from otlp_receiver import OtlpReceiver, any_value
from tradetel import ConfigError
from tradetel.cli import cli
from tradetel.exporters._otlpjson import read_file
from tradetel.replay import Backoff, Replay, replay
from tradetel.replay._retry import retry_after
from tradetel.replay._target import resolve_target

API_KEY = "k3y-Th4t-MUST-n0t-leak"
TOKEN = "t0ken-1n-th3-ENV"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture
def dead_receiver() -> OtlpReceiver:
    """A receiver started once for its ports, then stopped: nothing listens there."""
    receiver = OtlpReceiver().start()
    receiver.stop()
    return receiver


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A backtest recorded by the SDK's file exporter: spans, metrics and logs over 3 fills."""
    path = tmp_path / "data"

    @tradetel.instrument("fill")
    def fill(number: int) -> None:
        logging.getLogger("tests.backtest").warning("fill %d", number)

    tradetel.configure(
        service_name="backtest", exporter="file", data_dir=path, system_metrics=False
    )
    with tradetel.span("backtest"):
        for number in range(3):
            fill(number)
            tradetel.force_flush()  # a line per flush: the files hold several lines each
    assert tradetel.shutdown() is True
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["replay", *args])


def json_summary(result: Result) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def requests_in(path: Path, signal: Any) -> list[Any]:
    requests, malformed = read_file(path, signal)
    assert malformed == 0
    return requests


def span_keys(requests: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (
            span.name,
            span.trace_id.hex(),
            span.span_id.hex(),
            span.parent_span_id.hex(),
            span.start_time_unix_nano,
            span.end_time_unix_nano,
        )
        for request in requests
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]


def point_keys(requests: list[Any]) -> list[tuple[Any, ...]]:
    keys = []
    for request in requests:
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    data = getattr(metric, metric.WhichOneof("data"))
                    keys += [
                        (metric.name, point.start_time_unix_nano, point.time_unix_nano)
                        for point in data.data_points
                    ]
    return keys


def log_keys(requests: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (
            any_value(record.body),
            record.trace_id.hex(),
            record.span_id.hex(),
            record.time_unix_nano,
        )
        for request in requests
        for resource_logs in request.resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
    ]


def endpoint_of(receiver: OtlpReceiver, protocol: str) -> str:
    return receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint


# -- what arrives is what was recorded -----------------------------------------------------


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json", "grpc"])
def test_spans_arrive_with_the_recorded_ids_parents_and_timestamps(
    data_dir: Path, receiver: OtlpReceiver, protocol: str
) -> None:
    result = invoke(
        str(data_dir), "--endpoint", endpoint_of(receiver, protocol), "--protocol", protocol
    )

    assert result.exit_code == 0, result.output
    recorded = span_keys(requests_in(data_dir / "traces.jsonl", "traces"))
    assert [key[0] for key in recorded] == ["fill", "fill", "fill", "backtest"]
    assert span_keys(receiver.received("traces")) == recorded
    # the fills are children of the backtest span, as recorded
    (root,) = [key for key in recorded if key[0] == "backtest"]
    assert {key[3] for key in recorded if key[0] == "fill"} == {root[2]}
    assert {span.resource["service.name"] for span in receiver.spans()} == {"backtest"}


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_metric_points_arrive_with_their_recorded_timestamps(
    data_dir: Path, receiver: OtlpReceiver, protocol: str
) -> None:
    result = invoke(
        str(data_dir), "--endpoint", endpoint_of(receiver, protocol), "--protocol", protocol
    )

    assert result.exit_code == 0, result.output
    recorded = point_keys(requests_in(data_dir / "metrics.jsonl", "metrics"))
    assert len(recorded) >= 3
    assert point_keys(receiver.received("metrics")) == recorded


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_log_records_arrive_with_the_trace_ids_of_their_spans(
    data_dir: Path, receiver: OtlpReceiver, protocol: str
) -> None:
    result = invoke(
        str(data_dir), "--endpoint", endpoint_of(receiver, protocol), "--protocol", protocol
    )

    assert result.exit_code == 0, result.output
    recorded = log_keys(requests_in(data_dir / "logs.jsonl", "logs"))
    assert [key[0] for key in recorded] == ["fill 0", "fill 1", "fill 2"]
    assert log_keys(receiver.received("logs")) == recorded
    traces = {key[1] for key in span_keys(requests_in(data_dir / "traces.jsonl", "traces"))}
    assert {key[1] for key in recorded} == traces


def test_consecutive_lines_of_a_signal_go_out_as_one_request(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    lines = len((data_dir / "traces.jsonl").read_text().splitlines())
    assert lines >= 3

    result = invoke(str(data_dir), "--endpoint", receiver.http_endpoint, "--format", "json")

    assert result.exit_code == 0, result.output
    assert receiver.requests[("http", "traces")] == 1
    traces = json_summary(result)["signals"]["traces"]
    assert (traces["lines"], traces["requests"], traces["sent"]) == (lines, 1, 4)


def test_a_batch_holds_at_most_max_batch_lines_lines(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    job = Replay([data_dir / "traces.jsonl"], endpoint=receiver.http_endpoint, max_batch_lines=2)
    summary = job.run()

    lines = summary.signals["traces"].lines
    assert receiver.requests[("http", "traces")] == summary.signals["traces"].requests
    assert summary.signals["traces"].requests == (lines + 1) // 2
    assert span_keys(receiver.received("traces")) == span_keys(
        requests_in(data_dir / "traces.jsonl", "traces")
    )


def test_summary_gives_counts_and_the_time_range_of_what_was_sent(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    result = invoke(str(data_dir), "--endpoint", receiver.http_endpoint, "--format", "json")

    summary = json_summary(result)
    spans = span_keys(requests_in(data_dir / "traces.jsonl", "traces"))
    traces = summary["signals"]["traces"]
    assert traces["first_unix_nano"] == min(key[4] for key in spans)
    assert traces["last_unix_nano"] == max(key[5] for key in spans)
    assert (traces["sent"], traces["refused"], traces["retries"]) == (4, 0, 0)
    assert summary["signals"]["logs"]["sent"] == 3
    assert summary["ok"] is True
    assert summary["malformed"] == {"lines": 0, "examples": []}


def test_text_summary_names_the_endpoint_and_each_signal(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    result = invoke(str(data_dir), "--endpoint", receiver.http_endpoint)

    assert result.exit_code == 0, result.output
    assert f"to {receiver.http_endpoint} (http/protobuf)" in result.stdout
    rows = {line.split()[0]: line.split()[1:7] for line in result.stdout.splitlines()[3:6]}
    assert rows["traces"][2:] == ["4", "0", "0", "0"]  # sent, refused, unsent, retries
    assert rows["logs"][2:] == ["3", "0", "0", "0"]
    assert "OK: all" in result.stdout


def test_signal_option_sends_only_that_signal(data_dir: Path, receiver: OtlpReceiver) -> None:
    result = invoke(str(data_dir), "--endpoint", receiver.http_endpoint, "--signal", "logs")

    assert result.exit_code == 0, result.output
    assert set(receiver.requests) == {("http", "logs")}


def test_defaults_come_from_the_otel_and_tradetel_environment(
    data_dir: Path, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADETEL_DATA_DIR", str(data_dir))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")

    result = invoke()

    assert result.exit_code == 0, result.output
    assert set(receiver.requests) == {("grpc", "traces"), ("grpc", "metrics"), ("grpc", "logs")}


def test_a_per_signal_endpoint_url_still_sends_each_signal_to_its_path(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    result = invoke(str(data_dir), "--endpoint", f"{receiver.http_endpoint}/v1/traces")

    assert result.exit_code == 0, result.output
    assert set(receiver.requests) == {("http", "traces"), ("http", "metrics"), ("http", "logs")}


def test_a_file_named_twice_is_sent_once(data_dir: Path, receiver: OtlpReceiver) -> None:
    result = invoke(
        str(data_dir), str(data_dir / "traces.jsonl"), "--endpoint", receiver.http_endpoint
    )

    assert result.exit_code == 0, result.output
    assert len(receiver.spans()) == 4


# -- retries, refusals, partial success ----------------------------------------------------


def test_503_with_retry_after_is_retried_counted_and_delivered(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    receiver.fail_with, receiver.fail_times = 503, 2
    receiver.error_headers = {"Retry-After": "0"}

    result = invoke(
        str(data_dir),
        "--signal",
        "traces",
        "--endpoint",
        receiver.http_endpoint,
        "--format",
        "json",
    )

    assert result.exit_code == 0, result.output
    assert receiver.requests[("http", "traces")] == 3
    assert len(receiver.spans()) == 4
    traces = json_summary(result)["signals"]["traces"]
    assert (traces["retries"], traces["requests"], traces["sent"]) == (2, 1, 4)


def test_retry_after_seconds_are_waited_before_the_retry(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    receiver.fail_with, receiver.fail_times = 429, 1
    receiver.error_headers = {"Retry-After": "7"}
    waits: list[float] = []

    job = Replay(
        [data_dir],
        endpoint=receiver.http_endpoint,
        signals=["traces"],
        backoff=Backoff(sleep=waits.append),
    )
    summary = job.run()

    assert waits == [7.0]
    assert summary.ok
    assert summary.signals["traces"].retries == 1


def test_retry_after_takes_seconds_or_an_http_date() -> None:
    from datetime import datetime, timezone

    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after("3") == 3.0
    assert retry_after("Sun, 01 Jun 2025 12:00:30 GMT", now) == 30.0
    assert retry_after("Sun, 01 Jun 2025 11:00:00 GMT", now) == 0.0
    assert retry_after("soon") is None


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    backoff = Backoff(base=1.0, cap=5.0)
    for retry, ceiling in enumerate([1.0, 2.0, 4.0, 5.0, 5.0]):
        assert ceiling / 2 <= backoff.delay(retry) <= ceiling
    assert backoff.delay(0, hint=120.0) == 5.0  # a server's hint is capped too


def test_grpc_unavailable_is_retried_with_backoff(data_dir: Path, receiver: OtlpReceiver) -> None:
    receiver.grpc_fail_with, receiver.fail_times = grpc.StatusCode.UNAVAILABLE, 2
    waits: list[float] = []

    summary = Replay(
        [data_dir],
        endpoint=receiver.grpc_endpoint,
        protocol="grpc",
        signals=["traces"],
        backoff=Backoff(base=1.0, sleep=waits.append),
    ).run()

    assert summary.ok
    assert summary.signals["traces"].retries == 2
    assert 0.5 <= waits[0] <= 1.0
    assert 1.0 <= waits[1] <= 2.0
    assert len(receiver.spans()) == 4


def retry_info(seconds: int) -> tuple[tuple[str, bytes], ...]:
    info = RetryInfo()
    info.retry_delay.seconds = seconds
    return (("google.rpc.retryinfo-bin", info.SerializeToString()),)


def test_grpc_resource_exhausted_with_retry_info_is_retried_after_its_delay(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    receiver.grpc_fail_with, receiver.fail_times = grpc.StatusCode.RESOURCE_EXHAUSTED, 1
    receiver.grpc_error_metadata = retry_info(3)
    waits: list[float] = []

    summary = Replay(
        [data_dir],
        endpoint=receiver.grpc_endpoint,
        protocol="grpc",
        signals=["traces"],
        backoff=Backoff(sleep=waits.append),
    ).run()

    assert waits == [3.0]
    assert summary.ok
    assert len(receiver.spans()) == 4


def test_grpc_resource_exhausted_without_retry_info_is_refused_at_once(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    receiver.grpc_fail_with = grpc.StatusCode.RESOURCE_EXHAUSTED
    receiver.fail_message = "message larger than max"

    result = invoke(
        str(data_dir / "traces.jsonl"), "--endpoint", receiver.grpc_endpoint, "--protocol", "grpc"
    )

    assert result.exit_code == 1
    assert receiver.requests[("grpc", "traces")] == 1
    assert "traces: gRPC RESOURCE_EXHAUSTED: message larger than max" in result.stdout


def test_http_400_is_refused_with_the_servers_message_and_exit_code_1(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    receiver.fail_with = 400
    receiver.fail_message = "span name too long"

    result = invoke(str(data_dir), "--signal", "traces", "--endpoint", receiver.http_endpoint)

    assert result.exit_code == 1
    assert receiver.requests[("http", "traces")] == 1  # not retried
    assert "traces: HTTP 400 Bad Request: span name too long" in result.stdout
    assert "FAILED: 0 items accepted, 4 refused." in result.stdout


def test_grpc_invalid_argument_is_refused_with_the_servers_message(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    receiver.grpc_fail_with = grpc.StatusCode.INVALID_ARGUMENT
    receiver.fail_message = "bad resource"

    result = invoke(
        str(data_dir),
        "--endpoint",
        receiver.grpc_endpoint,
        "--protocol",
        "grpc",
        "--format",
        "json",
    )

    assert result.exit_code == 1
    signals = json_summary(result)["signals"]
    assert signals["logs"]["refusals"] == ["gRPC INVALID_ARGUMENT: bad resource"]
    assert [signals[s]["refused"] for s in ("traces", "logs")] == [4, 3]


def test_a_wrong_path_stops_the_replay_at_the_first_refusal(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    result = invoke(
        str(data_dir), "--endpoint", f"{receiver.http_endpoint}/otlp", "--format", "json"
    )

    assert result.exit_code == 1
    summary = json_summary(result)
    assert summary["stopped"].startswith("HTTP 404 Not Found: no OTLP route /otlp/v1/logs")
    signals = summary["signals"]
    assert [signals[s]["requests"] for s in ("logs", "metrics", "traces")] == [1, 0, 0]
    assert signals["logs"]["refused"] == 3


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_partial_success_counts_the_rejected_items_with_the_reason(
    data_dir: Path, receiver: OtlpReceiver, protocol: str
) -> None:
    receiver.partial_success = (1, "1 span is too old")

    result = invoke(
        str(data_dir / "traces.jsonl"),
        *("--endpoint", endpoint_of(receiver, protocol), "--protocol", protocol),
        "--format",
        "json",
    )

    assert result.exit_code == 1
    summary = json_summary(result)
    traces = summary["signals"]["traces"]
    assert (traces["sent"], traces["refused"], traces["refusals"]) == (3, 1, ["1 span is too old"])
    assert summary["ok"] is False


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_unreachable_endpoint_stops_with_the_summary_and_exit_code_1(
    data_dir: Path, dead_receiver: OtlpReceiver, protocol: str
) -> None:
    result = invoke(
        str(data_dir), "--endpoint", endpoint_of(dead_receiver, protocol), "--protocol", protocol,
        "--retries", "0",
    )  # fmt: skip

    assert result.exit_code == 1
    assert "Stopped early: gave up after 1 attempt: cannot reach" in result.stdout
    assert f"(nothing from {data_dir / 'logs.jsonl'}:1 on was sent)" in result.stdout
    assert "FAILED: 0 items accepted, " in result.stdout


def test_unreachable_endpoint_is_retried_with_growing_waits(
    data_dir: Path, dead_receiver: OtlpReceiver
) -> None:
    waits: list[float] = []
    summary = Replay(
        [data_dir],
        endpoint=dead_receiver.http_endpoint,
        retries=3,
        backoff=Backoff(base=1.0, sleep=waits.append),
    ).run()

    assert len(waits) == 3
    assert 0.5 <= waits[0] <= 1.0 <= waits[1] <= 2.0 <= waits[2] <= 4.0
    assert summary.signals["logs"].retries == 3
    assert summary.stopped is not None
    assert not summary.ok


def test_what_was_sent_before_the_endpoint_went_away_is_summarised(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    def stop_receiver_at_the_first_span(line: Any) -> None:
        if line.signal == "traces" and receiver.running:
            receiver.stop()  # before the metrics batch read so far goes out

    job = Replay([data_dir], endpoint=receiver.http_endpoint, retries=0)
    summary = job.run(stop_receiver_at_the_first_span)

    points = len(point_keys(requests_in(data_dir / "metrics.jsonl", "metrics")))
    assert (summary.signals["logs"].sent, summary.signals["logs"].unsent) == (3, 0)
    assert (summary.signals["metrics"].sent, summary.signals["metrics"].unsent) == (0, points)
    first_line = requests_in(data_dir / "traces.jsonl", "traces")[:1]
    assert summary.signals["traces"].lines == 1  # read, then the replay stopped
    assert summary.signals["traces"].unsent == len(span_keys(first_line))
    assert summary.stopped is not None
    assert "cannot reach" in summary.stopped
    assert f"nothing from {data_dir / 'metrics.jsonl'}:1 on was sent" in summary.stopped


# -- malformed lines -----------------------------------------------------------------------


def test_a_truncated_last_line_is_skipped_counted_and_located(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    traces = data_dir / "traces.jsonl"
    complete = traces.read_text().splitlines()
    with traces.open("a") as file:
        file.write(complete[0][: len(complete[0]) // 2])  # a crash mid-write

    result = invoke(str(data_dir), "--endpoint", receiver.http_endpoint)

    assert result.exit_code == 0, result.output
    assert len(receiver.spans()) == 4
    assert "Skipped 1 malformed line:" in result.stdout
    assert f"traces.jsonl:{len(complete) + 1}: not valid JSON" in result.stdout


def test_a_replay_runs_once(data_dir: Path, receiver: OtlpReceiver) -> None:
    job = Replay([data_dir], endpoint=receiver.http_endpoint)
    job.run()

    with pytest.raises(RuntimeError, match="a Replay runs once"):
        job.run()
    assert job.summary.signals["traces"].sent == 4


def test_a_file_gone_before_it_is_read_is_reported_and_fails_the_replay(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    job = Replay([data_dir], endpoint=receiver.http_endpoint)
    (data_dir / "metrics.jsonl").unlink()  # rotated away between finding and reading
    summary = job.run()

    assert len(summary.unreadable) == 1
    assert "metrics.jsonl: cannot read it" in summary.unreadable[0]
    assert (summary.signals["logs"].sent, summary.signals["traces"].sent) == (3, 4)
    assert not summary.ok


# -- secrets -------------------------------------------------------------------------------


def test_headers_reach_the_server_but_never_the_output(
    data_dir: Path, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{TOKEN}")
    receiver.fail_with, receiver.fail_times = 400, 1  # an error reply is printed too
    receiver.fail_message = f"bad key {API_KEY}"  # a server that echoes what it got

    result = invoke(
        str(data_dir), "--endpoint", receiver.http_endpoint, "--header", f"x-api-key={API_KEY}"
    )

    assert result.exit_code == 1
    assert {(h["x-api-key"], h["authorization"]) for h in receiver.headers} == {
        (API_KEY, f"Bearer {TOKEN}")
    }
    assert "bad key ***" in result.output
    assert API_KEY not in result.output
    assert TOKEN not in result.output


def test_grpc_metadata_reaches_the_server_but_never_the_output(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    receiver.grpc_fail_with = grpc.StatusCode.UNAUTHENTICATED
    receiver.fail_message = f"unknown key {API_KEY}"

    result = invoke(
        str(data_dir), "--endpoint", receiver.grpc_endpoint, "--protocol", "grpc",
        "--header", f"X-Api-Key={API_KEY}",
    )  # fmt: skip

    assert result.exit_code == 1
    assert receiver.headers[0]["x-api-key"] == API_KEY
    assert "Stopped early: gRPC UNAUTHENTICATED: unknown key ***" in result.stdout
    assert API_KEY not in result.output


def test_endpoint_credentials_and_query_are_used_but_never_printed(
    data_dir: Path, dead_receiver: OtlpReceiver, receiver: OtlpReceiver
) -> None:
    for target in (receiver, dead_receiver):
        endpoint = f"http://replayer:{API_KEY}@{target.host}:{target.http_port}/?token={TOKEN}"
        result = invoke(str(data_dir), "--endpoint", endpoint, "--retries", "0")

        assert f"to {target.http_endpoint} (http/protobuf)" in result.stdout
        assert API_KEY not in result.output
        assert TOKEN not in result.output
    assert all(h["authorization"].startswith("Basic ") for h in receiver.headers)
    assert len(receiver.spans()) == 4  # the query did not get in the way of the route


@pytest.mark.parametrize("cut", ["/", "?", "#"])
def test_a_password_holding_a_url_delimiter_is_never_printed(data_dir: Path, cut: str) -> None:
    """Generated tokens hold `/`; the URL parser then sees a port made of the password."""
    password = f"s3cr{cut}etP4ss"
    result = invoke(str(data_dir), "--endpoint", f"https://apikey:{password}@otlp.example.com")

    assert result.exit_code != 0
    assert "s3cr" not in result.output
    assert "etP4ss" not in result.output


def test_a_server_message_is_shown_without_control_characters() -> None:
    target = resolve_target(endpoint="http://localhost:4318", environ={})
    assert target.redact("refused \x1b[2J\x1b]0;owned\x07") == "refused \\x1b[2J\\x1b]0;owned\\x07"


def test_a_malformed_header_is_a_usage_error_that_does_not_show_it(data_dir: Path) -> None:
    result = invoke(str(data_dir), "--header", API_KEY)

    assert result.exit_code == 2
    assert "--header" in result.output
    assert API_KEY not in result.output


def test_a_header_value_with_a_newline_is_refused_by_name_only(data_dir: Path) -> None:
    result = invoke(str(data_dir), "--header", f"x-api-key={API_KEY}\r\nx-evil: 1")

    assert result.exit_code == 2
    assert "'x-api-key'" in result.output
    assert API_KEY not in result.output


def test_headers_env_uses_otel_format_with_url_encoded_values() -> None:
    target = resolve_target(
        environ={"OTEL_EXPORTER_OTLP_HEADERS": "a=1, Authorization = Basic%20eDp5 ,b=x%3Dy"},
        headers={"A": "2"},
    )
    assert dict(target.headers) == {"A": "2", "Authorization": "Basic eDp5", "b": "x=y"}
    assert "Basic eDp5" not in repr(target)


# -- the terminal --------------------------------------------------------------------------


def test_output_has_no_control_characters_when_not_a_terminal(
    data_dir: Path, receiver: OtlpReceiver
) -> None:
    result = invoke(str(data_dir), "--endpoint", receiver.http_endpoint)

    assert result.exit_code == 0, result.output
    assert not any(ord(char) < 32 and char != "\n" for char in result.output)
    assert "replay: reading" in result.stderr  # a plain line per file instead of a bar


def test_the_cli_module_imports_neither_grpc_nor_the_replay_machinery() -> None:
    code = (
        "import sys, tradetel.cli._replay; "
        "print(sorted(m for m in ('grpc', 'tradetel.replay') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# -- bad input -----------------------------------------------------------------------------


def test_a_missing_path_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "nowhere"))

    assert result.exit_code == 2
    assert "nowhere: no such file or folder" in result.output


def test_a_data_dir_without_telemetry_files_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    result = invoke("--data-dir", str(tmp_path))

    assert result.exit_code == 2
    assert "'--data-dir'" in result.output
    assert "no telemetry files" in result.output


@pytest.mark.parametrize(
    "endpoint", ["localhost:4318", "ftp://localhost/", "http://:4318", "http://h:port"]
)
def test_a_non_url_endpoint_is_a_usage_error_naming_endpoint(data_dir: Path, endpoint: str) -> None:
    result = invoke(str(data_dir), "--endpoint", endpoint)

    assert result.exit_code == 2
    assert "Invalid value for '--endpoint'" in result.output


def test_a_grpc_endpoint_without_scheme_is_tls_unless_insecure() -> None:
    assert resolve_target("collector:4317", "grpc").display == "https://collector:4317"
    assert (
        resolve_target("collector:4317", "grpc", insecure=True).display == "http://collector:4317"
    )
    assert resolve_target("http://collector:4317", "grpc").tls is False


def test_an_unknown_protocol_is_a_usage_error(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke(str(data_dir), "--protocol", "carrier-pigeon").exit_code == 2

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    result = invoke(str(data_dir))
    assert result.exit_code == 2
    assert "OTEL_EXPORTER_OTLP_PROTOCOL: unknown protocol 'carrier-pigeon'" in result.output


def test_replay_function_rejects_an_unknown_signal(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match="signals: expected some of traces, metrics, logs"):
        replay([data_dir], signals=["profiles"])
