"""Telemetry never breaks the program: a dead collector, exits, forks and tradetel's own bugs."""

from __future__ import annotations

import logging
import multiprocessing
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import tradetel
import tradetel.exporters
from otlp_receiver import OtlpReceiver, attributes
from telemetry_files import file_spans
from tradetel import semconv
from tradetel.exporters import CUMULATIVE
from tradetel.exporters._otlpjson import read_file

QUEUE_CAP = 4096  # spans tradetel holds for an exporter
BATCH = 512  # spans one export takes off the queue
CALLS = 20_000


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(params=["http/protobuf", "grpc"])
def dead_endpoint(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OtlpReceiver]:
    """A stopped receiver that OTLP is configured to send to; it can be started again."""
    receiver = OtlpReceiver().start()
    receiver.stop()
    grpc = request.param == "grpc"
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint if grpc else receiver.http_endpoint
    )
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", request.param)
    # One export (with its retries) gives up after a second; the queue is looked at often.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    yield receiver
    if not receiver.running:  # let what is queued go out rather than time out batch by batch
        receiver.start()
    tradetel.shutdown()
    receiver.stop()


def dropped(reader: InMemoryMetricReader, signal: str) -> int:
    """``tradetel.telemetry.dropped{signal=...}`` as the reader collects it now."""
    data = reader.get_metrics_data()
    assert data is not None
    values = [
        point.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == semconv.TELEMETRY_DROPPED
        for point in metric.data.data_points
        if point.attributes.get(semconv.TELEMETRY_SIGNAL) == signal
    ]
    assert len(values) == 1
    return int(values[0])


def internal_error_warnings(caplog: pytest.LogCaptureFixture, kind: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "tradetel"
        and record.levelno == logging.WARNING
        and f"internal error in {kind} " in record.getMessage()
    ]


def drop_warnings(caplog: pytest.LogCaptureFixture, signal: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "tradetel" and f"dropping {signal}s" in record.getMessage()
    ]


# -- the collector is down -----------------------------------------------------------------


def test_decorated_code_runs_and_never_sees_an_exception_while_the_endpoint_is_down(
    dead_endpoint: OtlpReceiver,
) -> None:
    @tradetel.order("sim")
    def place_order(symbol: str, amount: float) -> float:
        return amount * 2

    tradetel.configure(service_name="collector-down")
    results = [place_order("BTC/USDT", float(i)) for i in range(CALLS)]
    assert results == [i * 2.0 for i in range(CALLS)]


def test_spans_beyond_the_queue_cap_are_dropped_and_counted_while_the_endpoint_is_down(
    dead_endpoint: OtlpReceiver,
) -> None:
    @tradetel.instrument
    def step(i: int) -> int:
        return i

    reader = InMemoryMetricReader()
    tradetel.configure(service_name="collector-down", additional_metric_readers=[reader])
    for i in range(CALLS):
        step(i)
    # Held at most: a full queue plus the batch being sent. Everything else was let go.
    assert dropped(reader, "span") >= CALLS - QUEUE_CAP - BATCH


def test_export_resumes_with_the_queued_spans_when_the_endpoint_comes_back(
    dead_endpoint: OtlpReceiver,
) -> None:
    @tradetel.instrument("while down")
    def step(i: int) -> int:
        return i

    reader = InMemoryMetricReader()
    tradetel.configure(service_name="collector-back", additional_metric_readers=[reader])
    for i in range(CALLS):
        step(i)

    dead_endpoint.start()
    # The queue is sent first, then a span recorded after the collector came back.
    assert dead_endpoint.wait_for(lambda r: len(r.span_names()) >= QUEUE_CAP - BATCH)
    with tradetel.span("after recovery"):
        pass
    assert dead_endpoint.wait_for(lambda r: "after recovery" in r.span_names())

    sent = {s.span.span_id for s in dead_endpoint.spans() if s.span.name == "while down"}
    assert len(sent) >= QUEUE_CAP - BATCH
    assert len(sent) + dropped(reader, "span") == CALLS  # every span: exported or counted


# -- nothing recorded is lost at the end ---------------------------------------------------


def test_everything_recorded_before_shutdown_is_exported(
    monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint)

    @tradetel.instrument("fill handled")
    def handle_fill(i: int) -> None:
        if i % 100 == 0:
            logging.getLogger("tests.bot").warning("fill %d handled", i)

    tradetel.configure(service_name="flush-on-shutdown", exporter="otlp")
    for i in range(500):
        handle_fill(i)
    assert tradetel.shutdown() is True

    assert receiver.span_names().count("fill handled") == 500
    assert receiver.log_bodies() == [f"fill {i} handled" for i in range(0, 500, 100)]
    (duration,) = [m.metric for m in receiver.metrics() if m.metric.name == semconv.CALL_DURATION]
    assert duration.histogram.data_points[0].count == 500


def test_everything_recorded_is_exported_at_a_normal_interpreter_exit(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import logging, tradetel

        @tradetel.strategy("exit")
        def step(i):
            return i

        tradetel.configure(exporter="file", data_dir={str(tmp_path)!r})
        for i in range(300):
            step(i)
        logging.getLogger("bot").warning("last words")
        # no shutdown(): the interpreter exits normally
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert [span.name for _, span in file_spans(tmp_path)] == ["strategy exit"] * 300
    logs, _ = read_file(tmp_path / "logs.jsonl", "logs")
    assert logs[0].resource_logs[0].scope_logs[0].log_records[0].body.string_value == "last words"


# -- fork ----------------------------------------------------------------------------------


def run_in_forked_child(data_dir: Path) -> int:
    """Configure the file exporter, record a span, then one in a forked child; its pid."""

    @tradetel.instrument("parent step")
    def parent_step() -> None:
        pass

    @tradetel.instrument("child step")
    def child_step() -> None:
        pass

    tradetel.configure(service_name="forking-bot", exporter="file", data_dir=data_dir)
    parent_step()  # still queued in the parent when the child is made
    child = multiprocessing.get_context("fork").Process(target=child_step)
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    assert child.pid is not None
    tradetel.shutdown()
    return child.pid


# Python 3.12+ warns about forking a process that has threads; that risk is what is tested.
FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"


@pytest.mark.filterwarnings(FORK_WARNING)
def test_forked_child_exports_its_spans_under_its_own_instance_id_and_pid(
    tmp_path: Path,
) -> None:
    child_pid = run_in_forked_child(tmp_path)
    resources = {span.name: res for res, span in file_spans(tmp_path)}
    child, parent = resources["child step"], resources["parent step"]
    assert child["process.pid"] == child_pid
    assert parent["process.pid"] != child_pid
    assert child["service.instance.id"] != parent["service.instance.id"]
    assert child["service.name"] == parent["service.name"] == "forking-bot"


@pytest.mark.filterwarnings(FORK_WARNING)
def test_forked_child_does_not_export_the_parents_spans_again(tmp_path: Path) -> None:
    run_in_forked_child(tmp_path)
    names = sorted(span.name for _, span in file_spans(tmp_path))
    assert names == ["child step", "parent step"]


# -- errors inside tradetel stay inside ----------------------------------------------------


class ExplodingSpanProcessor(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("processor bug")


class ExplodingSpanExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise RuntimeError("exporter bug")

    def shutdown(self) -> None:
        pass


class ExplodingMetricExporter(MetricExporter):
    def __init__(self) -> None:
        super().__init__(preferred_temporality=CUMULATIVE)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        raise RuntimeError("metric exporter bug")

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


class ExplodingMetricReader(MetricReader):
    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        raise RuntimeError("metric reader bug")

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    """tradetel as users run it: internal errors are logged, not raised."""
    monkeypatch.delenv("TRADETEL_RAISE_INTERNAL_ERRORS")


@pytest.mark.usefixtures("guarded")
def test_failing_span_processor_never_raises_into_the_call_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    @tradetel.instrument("guarded step")
    def step(i: int) -> int:
        return i + 1

    tradetel.configure(
        exporter="file", data_dir=tmp_path, additional_span_processors=[ExplodingSpanProcessor()]
    )
    assert [step(i) for i in range(3)] == [1, 2, 3]
    tradetel.shutdown()

    (warning,) = internal_error_warnings(caplog, "span processor")
    assert "RuntimeError: processor bug" in warning
    assert [span.name for _, span in file_spans(tmp_path)] == ["guarded step"] * 3


@pytest.mark.usefixtures("guarded")
def test_raising_span_exporter_is_contained_logged_once_and_counted_as_dropped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tradetel.exporters, "span_exporter", lambda *_: ExplodingSpanExporter())

    @tradetel.instrument("guarded step")
    def step(i: int) -> int:
        return i + 1

    reader = InMemoryMetricReader()
    tradetel.configure(exporter="file", data_dir=tmp_path, additional_metric_readers=[reader])
    for flush in range(3):  # three failed exports
        assert step(flush) == flush + 1
        tradetel.force_flush()

    assert dropped(reader, "span") == 3
    (warning,) = internal_error_warnings(caplog, "exporter")
    assert "RuntimeError: exporter bug" in warning
    assert len(drop_warnings(caplog, "span")) == 1


@pytest.mark.usefixtures("guarded")
def test_raising_metric_exporter_is_contained_logged_once_and_counted_as_dropped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tradetel.exporters, "metric_exporter", lambda *_: ExplodingMetricExporter())

    @tradetel.instrument("guarded step")
    def step() -> None:
        pass

    reader = InMemoryMetricReader()
    tradetel.configure(exporter="file", data_dir=tmp_path, additional_metric_readers=[reader])
    step()
    tradetel.force_flush()
    tradetel.force_flush()

    assert dropped(reader, "metric") > 0
    (warning,) = internal_error_warnings(caplog, "metric exporter")
    assert "RuntimeError: metric exporter bug" in warning
    tradetel.shutdown()  # the final collection fails too, quietly
    assert [span.name for _, span in file_spans(tmp_path)] == ["guarded step"]


@pytest.mark.usefixtures("guarded")
def test_failing_metric_reader_makes_force_flush_report_false_not_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    @tradetel.instrument("guarded step")
    def step() -> None:
        pass

    tradetel.configure(
        exporter="file", data_dir=tmp_path, additional_metric_readers=[ExplodingMetricReader()]
    )
    step()
    assert tradetel.force_flush() is False
    assert tradetel.force_flush() is False
    # the reader is the user's: a warning, once - not one of tradetel's internal errors
    (warning,) = [
        r.getMessage()
        for r in caplog.records
        if r.name == "tradetel" and "metrics force_flush did not complete" in r.getMessage()
    ]
    assert "metric reader bug" in warning
    assert internal_error_warnings(caplog, "force_flush") == []
    assert tradetel.shutdown() is True
    assert [span.name for _, span in file_spans(tmp_path)] == ["guarded step"]


class Position:
    def __repr__(self) -> str:
        return "Position(BTC/USDT, 1.5)"


@pytest.mark.usefixtures("guarded")
def test_unencodable_attribute_values_are_exported_as_text_in_an_intact_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    @tradetel.instrument("rebalance", record_args=["position"])
    def rebalance(position: object) -> None:
        current = trace.get_current_span()
        current.set_attribute("raw", object())
        current.set_attribute("notional", 10**30)
        current.set_attribute("levels", (1, 2**70))

    tradetel.configure(exporter="file", data_dir=tmp_path)
    with tradetel.span("before"):
        pass
    rebalance(Position())
    with tradetel.span("after"):
        pass
    tradetel.shutdown()

    batches, _ = read_file(tmp_path / "traces.jsonl", "traces")
    assert len(batches) == 1
    spans = {span.name: attributes(span.attributes) for _, span in file_spans(tmp_path)}
    assert sorted(spans) == ["after", "before", "rebalance"]
    attrs = spans["rebalance"]
    assert attrs["position"] == "Position(BTC/USDT, 1.5)"
    assert attrs["raw"].startswith("<object object at ")
    assert attrs["notional"] == str(10**30)
    assert attrs["levels"] == f"(1, {2**70})"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_shutdown_and_flush_say_false_when_the_backend_refuses_what_was_recorded(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint)

    @tradetel.order("binance")
    def submit() -> None:
        pass

    tradetel.configure(exporter="otlp")
    submit()
    assert tradetel.force_flush() is True  # accepted
    receiver.fail_with = 400  # the backend now refuses everything (not retried)
    submit()
    assert tradetel.force_flush() is False
    submit()
    assert tradetel.shutdown() is False


def test_a_tiny_timeout_with_a_backlog_returns_false_and_never_raises(
    dead_endpoint: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under the suite internal errors raise: this passing shows the timeout is not one.
    @tradetel.instrument
    def step() -> None:
        pass

    tradetel.configure(exporter="otlp", logs=False)
    for _ in range(5000):
        step()
    assert tradetel.force_flush(timeout=0.1) is False
    assert tradetel.shutdown(timeout=0.1) is False


@pytest.fixture
def black_hole(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An OTLP endpoint that accepts connections and never answers (a hung collector)."""
    import socket

    server = socket.create_server(("127.0.0.1", 0), backlog=64)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()  # the exports still waiting get a reset and end


def test_flush_and_shutdown_keep_their_timeout_when_the_backend_hangs(black_hole: str) -> None:
    import time

    @tradetel.instrument
    def step() -> None:
        pass

    tradetel.configure(exporter="otlp", metrics_interval=0.05)
    step()
    start = time.monotonic()
    assert tradetel.force_flush(timeout=1.0) is False
    assert tradetel.shutdown(timeout=1.0) is False
    # A hung export takes the exporter's own 10 s (and more, with retries): not waited for.
    assert time.monotonic() - start < 6.0


def test_debug_logging_of_the_exporters_own_http_calls_is_not_exported(
    receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)  # the HTTP client logs every request it makes at DEBUG
    try:
        tradetel.configure(exporter="otlp")
        logging.getLogger("bot").info("one record")
        for _ in range(3):
            assert tradetel.force_flush() is True
    finally:
        root.setLevel(level)
    assert receiver.log_bodies() == ["one record"]


def test_force_flush_says_false_when_only_the_metric_export_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Refusing(MetricExporter):
        def __init__(self) -> None:
            super().__init__(preferred_temporality=CUMULATIVE)

        def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kw: Any):
            return MetricExportResult.FAILURE

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kw: Any) -> None:
            pass

    monkeypatch.setattr(tradetel.exporters, "metric_exporter", lambda name, settings: Refusing())
    tradetel.configure(exporter="file", data_dir=tmp_path)
    with tradetel.span("s"):
        pass
    assert tradetel.force_flush() is False


def _threads_before_and_after_first_call(conn: Any) -> None:
    import threading

    before = sorted(t.name for t in threading.enumerate() if t.name.startswith("tradetel-"))

    @tradetel.instrument
    def work() -> None:
        pass

    work()
    after = sorted(t.name for t in threading.enumerate() if t.name.startswith("tradetel-"))
    conn.send((before, after))


def test_forked_child_builds_its_pipeline_on_first_use_not_at_the_fork(tmp_path: Path) -> None:
    tradetel.configure(exporter="file", data_dir=tmp_path)
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()
    child = context.Process(target=_threads_before_and_after_first_call, args=(child_end,))
    child.start()
    before, after = parent_end.recv()
    child.join(10)
    assert child.exitcode == 0
    assert before == []  # nothing started between fork and use (exec, preexec_fn)
    assert after == ["tradetel-logs", "tradetel-metrics", "tradetel-spans"]


def test_an_unsampled_root_propagates_not_sampled_downstream() -> None:
    from opentelemetry import propagate

    @tradetel.instrument
    def call_downstream() -> list[str]:
        headers: list[str] = []
        for _ in range(2):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            headers.append(carrier["traceparent"])
        return headers

    tradetel.configure(exporter="none", trace_sample_rate=0.0)
    first, second = call_downstream()
    assert first == second  # one trace id for the whole root
    assert first.endswith("-00")  # flags: not sampled
    tradetel.configure(exporter="none", trace_sample_rate=1.0)
    assert call_downstream()[0].endswith("-01")


def _third_party_span_in_child() -> None:
    with trace.get_tracer("third-party").start_as_current_span("child http call"):
        pass


def test_forked_child_exports_a_span_of_another_instrumentation_made_first(
    tmp_path: Path,
) -> None:
    tradetel.configure(exporter="file", data_dir=tmp_path)
    child = multiprocessing.get_context("fork").Process(target=_third_party_span_in_child)
    child.start()
    child.join(10)
    assert child.exitcode == 0
    tradetel.shutdown()
    assert [span.name for _, span in file_spans(tmp_path)] == ["child http call"]
