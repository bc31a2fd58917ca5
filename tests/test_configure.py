"""configure(): the resource, every configuration error, exporter selection and reconfiguring."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tradetel
from otlp_receiver import OtlpReceiver, attributes
from telemetry_files import file_log_bodies, file_metrics, file_span_names, file_spans
from tradetel import performance, semconv
from tradetel.testing import capture

UUID_HEX = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def resource(**configure_kwargs: Any) -> dict[str, Any]:
    """The resource attributes of a span recorded under ``configure(**configure_kwargs)``."""
    with capture(**configure_kwargs) as cap, tradetel.span("probe"):
        pass
    return dict(cap.span("probe").resource.attributes)


# -- resource ------------------------------------------------------------------------------


def test_service_name_argument_wins_over_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-otel-service-name")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-resource-attributes")
    assert resource(service_name="momentum-bot")["service.name"] == "momentum-bot"


def test_otel_service_name_wins_over_service_name_in_resource_attributes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-otel-service-name")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-resource-attributes")
    assert resource()["service.name"] == "from-otel-service-name"


def test_service_name_comes_from_resource_attributes_when_nothing_else_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-resource-attributes")
    assert resource()["service.name"] == "from-resource-attributes"


def test_service_name_defaults_to_the_script_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/opt/bots/mean_reversion.py", "--live"])
    assert resource()["service.name"] == "mean_reversion"


def test_environment_argument_wins_over_tradetel_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADETEL_ENVIRONMENT", "staging")
    assert resource(environment="prod")["deployment.environment.name"] == "prod"


def test_environment_comes_from_tradetel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETEL_ENVIRONMENT", "staging")
    assert resource()["deployment.environment.name"] == "staging"


def test_no_environment_is_set_when_none_is_given() -> None:
    assert "deployment.environment.name" not in resource()


def test_mode_argument_wins_over_tradetel_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETEL_MODE", "paper")
    assert resource(mode="backtest")["trading.mode"] == "backtest"


def test_tradetel_mode_wins_over_mode_in_resource_attributes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADETEL_MODE", "paper")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "trading.mode=backtest")
    assert resource()["trading.mode"] == "paper"


def test_mode_defaults_to_live() -> None:
    assert resource()["trading.mode"] == "live"


def test_run_id_comes_from_tradetel_run_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETEL_RUN_ID", "backtest-2024-06-01")
    assert resource()["trading.run.id"] == "backtest-2024-06-01"


def test_run_id_is_a_generated_uuid_without_tradetel_run_id() -> None:
    assert UUID_HEX.fullmatch(resource()["trading.run.id"])


def test_service_instance_id_is_a_uuid_and_process_pid_is_this_process() -> None:
    attrs = resource()
    assert UUID_HEX.fullmatch(attrs["service.instance.id"])
    assert attrs["process.pid"] == os.getpid()


def test_otel_resource_attributes_are_added_to_the_resource_percent_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=quant%20desk, host.name=box-7")
    attrs = resource(service_name="bot")
    assert attrs["team"] == "quant desk"
    assert attrs["host.name"] == "box-7"


# -- configuration errors ------------------------------------------------------------------


def test_unknown_exporter_names_the_value_and_the_choices() -> None:
    with pytest.raises(tradetel.ConfigError) as raised:
        tradetel.configure(exporter="file,kafka")
    message = str(raised.value)
    assert "'kafka'" in message
    assert "otlp, console, file, prometheus, none" in message


def test_unknown_exporter_in_tradetel_exporter_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADETEL_EXPORTER", "jaeger")
    with pytest.raises(tradetel.ConfigError, match=r"^TRADETEL_EXPORTER='jaeger'"):
        tradetel.configure()


def test_none_combined_with_another_exporter_is_rejected() -> None:
    with pytest.raises(tradetel.ConfigError, match="'none' cannot be combined"):
        tradetel.configure(exporter="none,file")


def test_unknown_mode_names_the_value_and_the_modes() -> None:
    with pytest.raises(tradetel.ConfigError) as raised:
        tradetel.configure(mode="demo")
    assert str(raised.value) == "mode='demo': the trading mode is one of live, paper, backtest"


def test_unknown_mode_in_tradetel_mode_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADETEL_MODE", "simulated")
    with pytest.raises(tradetel.ConfigError, match=r"^TRADETEL_MODE='simulated'"):
        tradetel.configure()


def test_unknown_mode_in_resource_attributes_names_otel_resource_attributes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "trading.mode=simulated")
    with pytest.raises(tradetel.ConfigError, match=r"^OTEL_RESOURCE_ATTRIBUTES .*'simulated'"):
        tradetel.configure()


@pytest.mark.parametrize("rate", [1.5, -0.1])
def test_sample_rate_argument_outside_zero_to_one_is_rejected(rate: float) -> None:
    with pytest.raises(tradetel.ConfigError) as raised:
        tradetel.configure(trace_sample_rate=rate)
    assert (
        str(raised.value) == f"trace_sample_rate={rate!r}: a sampling rate is a number from 0 to 1"
    )


@pytest.mark.parametrize("arg", ["half", "2"])
def test_bad_otel_traces_sampler_arg_is_rejected(monkeypatch: pytest.MonkeyPatch, arg: str) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    with pytest.raises(tradetel.ConfigError) as raised:
        tradetel.configure()
    assert str(raised.value) == (
        f"OTEL_TRACES_SAMPLER_ARG={arg!r}: a sampling rate is a number from 0 to 1"
    )


def test_unsupported_otel_traces_sampler_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "jaeger_remote")
    with pytest.raises(tradetel.ConfigError, match=r"^OTEL_TRACES_SAMPLER='jaeger_remote'"):
        tradetel.configure()


def test_otel_resource_attributes_without_key_value_pairs_is_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=quant,desk")
    with pytest.raises(tradetel.ConfigError) as raised:
        tradetel.configure()
    assert str(raised.value) == "OTEL_RESOURCE_ATTRIBUTES: 'desk' is not a key=value pair"


def test_unsupported_otlp_protocol_names_the_variable_and_the_protocols(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with pytest.raises(tradetel.ConfigError) as raised:
        tradetel.configure(exporter="otlp")
    assert str(raised.value) == (
        "OTEL_EXPORTER_OTLP_PROTOCOL='http/json': "
        "tradetel's OTLP exporter speaks grpc or http/protobuf"
    )


def test_unsupported_per_signal_otlp_protocol_names_that_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json")
    with pytest.raises(tradetel.ConfigError, match=r"^OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="):
        tradetel.configure(exporter="otlp")


@pytest.mark.parametrize("interval", [0, -5.0])
def test_non_positive_metrics_interval_is_rejected(interval: float) -> None:
    with pytest.raises(tradetel.ConfigError) as raised:
        tradetel.configure(metrics_interval=interval)
    assert str(raised.value) == f"metrics_interval={interval!r}: must be a positive number"


def test_non_positive_otel_metric_export_interval_is_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "0")
    with pytest.raises(tradetel.ConfigError, match=r"^OTEL_METRIC_EXPORT_INTERVAL='0'"):
        tradetel.configure()


# Each: configure() arguments and environment variables that make it fail.
FAILING_CONFIGURATIONS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "unknown exporter": ({"exporter": "kafka"}, {}),
    "bad mode": ({"mode": "demo"}, {}),
    "bad sample rate": ({"trace_sample_rate": 2.0}, {}),
    "bad sampler arg": (
        {},
        {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "x"},
    ),
    "bad resource attributes": ({}, {"OTEL_RESOURCE_ATTRIBUTES": "oops"}),
    "bad otlp protocol": ({"exporter": "otlp"}, {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}),
    "file and bad otlp protocol": (
        {"exporter": "file,otlp"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
    ),
    "zero metrics interval": ({"metrics_interval": 0}, {}),
}


@pytest.mark.parametrize(
    ("kwargs", "env"), FAILING_CONFIGURATIONS.values(), ids=FAILING_CONFIGURATIONS.keys()
)
def test_failed_configure_leaves_the_previous_configuration_working(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kwargs: dict[str, Any], env: dict[str, str]
) -> None:
    @tradetel.instrument("after the failed configure")
    def step() -> None:
        pass

    with capture(service_name="still-configured") as cap:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(tradetel.ConfigError):
            tradetel.configure(data_dir=tmp_path, **kwargs)
        step()
    span = cap.span("after the failed configure")
    assert span.resource.attributes["service.name"] == "still-configured"
    assert cap.points(semconv.CALL_DURATION)[0].count == 1
    assert list(tmp_path.iterdir()) == []


# -- exporter selection --------------------------------------------------------------------


def test_without_an_otlp_endpoint_the_default_exporter_writes_files(tmp_path: Path) -> None:
    tradetel.configure(data_dir=tmp_path)
    with tradetel.span("to a file"):
        pass
    tradetel.shutdown()
    assert file_span_names(tmp_path) == ["to a file"]


def test_with_an_otlp_endpoint_variable_the_default_exporter_is_otlp(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, receiver: OtlpReceiver
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint)
    tradetel.configure(service_name="otlp-default", data_dir=tmp_path)
    with tradetel.span("over otlp"):
        pass
    tradetel.shutdown()
    assert receiver.span_names() == ["over otlp"]
    assert receiver.spans()[0].resource["service.name"] == "otlp-default"
    assert list(tmp_path.iterdir()) == []


def test_opentelemetry_per_signal_exporter_variables_choose_each_signals_exporter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, receiver: OtlpReceiver
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "file")
    tradetel.configure(data_dir=tmp_path)
    with tradetel.span("traced"):
        logging.getLogger("bot").warning("to the file")
    tradetel.shutdown()
    assert receiver.span_names() == ["traced"]
    assert file_log_bodies(tmp_path) == ["to the file"]
    assert not (tmp_path / "traces.jsonl").exists()
    assert not (tmp_path / "metrics.jsonl").exists()


def test_tradetel_exporter_overrides_the_per_signal_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRADETEL_EXPORTER", "file")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    tradetel.configure(data_dir=tmp_path)
    with tradetel.span("to a file"):
        pass
    tradetel.shutdown()
    assert file_span_names(tmp_path) == ["to a file"]


def test_an_unknown_per_signal_exporter_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "jaeger")
    with pytest.raises(tradetel.ConfigError, match=r"^OTEL_METRICS_EXPORTER='jaeger'"):
        tradetel.configure()


def test_otlp_exporter_speaks_grpc_when_the_protocol_says_so(
    monkeypatch: pytest.MonkeyPatch, receiver: OtlpReceiver
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    tradetel.configure(service_name="otlp-grpc")
    with tradetel.span("over grpc"):
        pass
    tradetel.shutdown()
    assert receiver.span_names() == ["over grpc"]
    assert receiver.requests[("grpc", "traces")] == 1


# -- the file exporter end to end ----------------------------------------------------------


def record_a_trading_session(data_dir: Path) -> None:
    """Configure the file exporter, place one order, log one line, shut down."""

    @tradetel.order("sim", operation="submit", order_type="limit")
    def place_order(symbol: str, side: str, amount: float, price: float) -> dict[str, str]:
        logging.getLogger("tests.bot").warning("order for %s acked", symbol)
        return {"id": "o-1", "status": "open"}

    tradetel.configure(service_name="file-e2e", exporter="file", data_dir=data_dir)
    place_order("BTC/USDT", "buy", 0.5, 64_000.0)
    assert tradetel.shutdown() is True


def test_file_exporter_writes_the_order_span_to_traces_jsonl(tmp_path: Path) -> None:
    record_a_trading_session(tmp_path)
    ((resource_attrs, span),) = file_spans(tmp_path)
    assert span.name == "order submit"
    assert resource_attrs["service.name"] == "file-e2e"
    span_attrs = attributes(span.attributes)
    assert span_attrs["trading.venue"] == "sim"
    assert span_attrs["trading.symbol"] == "BTC/USDT"
    assert span_attrs["trading.order.id"] == "o-1"


def test_file_exporter_writes_order_duration_with_the_latency_buckets_to_metrics_jsonl(
    tmp_path: Path,
) -> None:
    record_a_trading_session(tmp_path)
    (point,) = file_metrics(tmp_path, semconv.ORDER_DURATION)[-1].histogram.data_points
    assert point.count == 1
    assert list(point.explicit_bounds) == list(semconv.LATENCY_BUCKETS)
    assert attributes(point.attributes) == {
        "trading.venue": "sim",
        "trading.order.operation": "submit",
        "trading.order.type": "limit",
    }


def test_file_exporter_writes_log_records_to_logs_jsonl(tmp_path: Path) -> None:
    record_a_trading_session(tmp_path)
    assert file_log_bodies(tmp_path) == ["order for BTC/USDT acked"]


# -- reconfiguring -------------------------------------------------------------------------


def test_second_configure_exports_to_the_new_destination_after_flushing_the_first(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"

    @tradetel.instrument("step")
    def step() -> None:
        pass

    tradetel.configure(service_name="first", exporter="file", data_dir=first)
    step()
    tradetel.configure(service_name="second", exporter="file", data_dir=second)
    step()
    tradetel.shutdown()

    assert [(res["service.name"], span.name) for res, span in file_spans(first)] == [
        ("first", "step")
    ]
    assert [(res["service.name"], span.name) for res, span in file_spans(second)] == [
        ("second", "step")
    ]
    assert file_metrics(first, semconv.CALL_DURATION)[-1].histogram.data_points[0].count == 1


# -- the kill switch -----------------------------------------------------------------------

KILL_SWITCHES = [("TRADETEL_DISABLED", "1"), ("OTEL_SDK_DISABLED", "true")]


@pytest.mark.parametrize(("variable", "value"), KILL_SWITCHES)
def test_kill_switch_makes_configure_do_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    @tradetel.instrument
    def step() -> int:
        return 42

    monkeypatch.setenv(variable, value)
    tradetel.configure(exporter="file", data_dir=tmp_path)
    assert step() == 42
    with tradetel.span("nothing") as span:
        assert not span.is_recording()
    tradetel.shutdown()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("variable", "value"), KILL_SWITCHES)
def test_decorators_applied_under_the_kill_switch_return_the_same_function(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    def submit(symbol: str) -> str:
        return symbol

    monkeypatch.setenv(variable, value)
    assert tradetel.instrument(submit) is submit
    assert tradetel.instrument("named", record_args=["symbol"])(submit) is submit
    assert tradetel.strategy("momentum")(submit) is submit
    assert tradetel.order("binance", operation="submit", order_type="limit")(submit) is submit


# -- metric_symbols ------------------------------------------------------------------------


def place_orders_for(symbols: list[str], **configure_kwargs: Any) -> list[dict[str, Any]]:
    """The attributes of the trading.order.duration series after one order per symbol."""

    @tradetel.order("sim")
    def place_order(symbol: str, side: str, amount: float) -> None:
        pass

    with capture(**configure_kwargs) as cap:
        for symbol in symbols:
            place_order(symbol, "buy", 1.0)
        points = cap.points(semconv.ORDER_DURATION)
    return [dict(point.attributes) for point in points]


def test_metric_symbols_label_order_duration_only_for_the_listed_symbols() -> None:
    series = place_orders_for(["BTC/USDT", "ETH/USDT"], metric_symbols=["BTC/USDT"])
    assert sorted(s.get("trading.symbol", "-") for s in series) == ["-", "BTC/USDT"]


def test_metric_symbols_match_regardless_of_case() -> None:
    series = place_orders_for(["BTC/USDT"], metric_symbols=["btc/usdt"])
    assert [s.get("trading.symbol") for s in series] == ["BTC/USDT"]


def test_tradetel_metric_symbols_variable_lists_the_symbols(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADETEL_METRIC_SYMBOLS", "ETH/USDT, SOL/USDT")
    series = place_orders_for(["BTC/USDT", "ETH/USDT"])
    assert sorted(s.get("trading.symbol", "-") for s in series) == ["-", "ETH/USDT"]


def test_without_metric_symbols_no_order_duration_series_has_a_symbol() -> None:
    series = place_orders_for(["BTC/USDT", "ETH/USDT"])
    assert [s.get("trading.symbol") for s in series] == [None]


def test_service_instance_id_is_one_per_process_across_reconfiguration() -> None:
    from tradetel.testing import capture

    ids = []
    for _ in range(2):
        with capture() as cap, tradetel.span("s"):
            pass
        ids.append(cap.span("s").resource.attributes["service.instance.id"])
    assert ids[0] == ids[1]


def test_an_exporter_rejecting_its_settings_is_a_config_error_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tradetel.testing import capture

    @tradetel.instrument("kept")
    def step() -> None:
        pass

    with capture() as cap:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")
        with pytest.raises(tradetel.ConfigError, match=r"exporter='otlp'.*could not be set up"):
            tradetel.configure(exporter="otlp")
        step()
    assert [s.name for s in cap.spans] == ["kept"]


def test_service_name_under_python_dash_m_is_the_package_name(tmp_path: Path) -> None:
    package = tmp_path / "momentum_bot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "from tradetel._config import resolve\n"
        "s = resolve(service_name=None, environment=None, mode=None, exporter='none',\n"
        "            data_dir='.tradetel', trace_sample_rate=None, metrics_interval=None,\n"
        "            logs=False)\n"
        "print(s.service_name)\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "momentum_bot"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.stdout.strip() == "momentum_bot"


def test_exit_after_reconfiguring_is_quiet_and_exports_the_last_pipeline(tmp_path: Path) -> None:
    code = (
        "import tradetel\n"
        f"tradetel.configure(exporter='file', data_dir={str(tmp_path / 'a')!r})\n"
        f"tradetel.configure(exporter='file', data_dir={str(tmp_path / 'b')!r})\n"
        "with tradetel.span('last'):\n"
        "    pass\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr == ""
    assert '"name":"last"' in (tmp_path / "b" / "traces.jsonl").read_text()


def test_trading_run_id_is_one_per_run_across_reconfiguration() -> None:
    first = resource()[semconv.TRADING_RUN_ID]
    assert resource()[semconv.TRADING_RUN_ID] == first


# -- the prometheus exporter ---------------------------------------------------------------


def _scrape(port: int) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def test_prometheus_serves_metrics_named_as_prometheus_names_pushed_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(port))
    tradetel.configure(
        service_name="scraped", exporter="file,prometheus", data_dir=tmp_path, system_metrics=False
    )
    performance.tracker("scraped-strategy").update_equity(100.0)
    performance.tracker("scraped-strategy").update_equity(90.0)
    with tradetel.span("traced"):
        pass
    body = _scrape(port)
    drawdown = re.search(
        r'^trading_drawdown_ratio\{trading_strategy_name="scraped-strategy"\} (\S+)$', body, re.M
    )
    assert drawdown is not None, body
    assert float(drawdown[1]) == pytest.approx(0.1)
    assert "target_info{" in body
    assert 'job="' not in body  # the scrape configuration's
    # a second configure() takes the endpoint over; shutdown() stops it
    tradetel.configure(service_name="again", exporter="prometheus", system_metrics=False)
    assert "trading_drawdown_ratio" in _scrape(port)
    tradetel.shutdown()
    performance.remove("scraped-strategy")
    with pytest.raises(urllib.error.URLError, match="refused"):
        _scrape(port)
    assert file_span_names(tmp_path) == ["traced"]  # traces still went to the file


def test_prometheus_on_a_taken_port_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
        monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(sock.getsockname()[1]))
        with pytest.raises(tradetel.ConfigError, match=r"cannot listen on 127\.0\.0\.1:"):
            tradetel.configure(exporter="prometheus")


def test_a_failed_reconfigure_leaves_the_prometheus_endpoint_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(port))
    tradetel.configure(service_name="kept", exporter="prometheus", system_metrics=False)
    assert "target_info" in _scrape(port)
    taken = InMemoryMetricReader()
    MeterProvider(metric_readers=[taken])  # a reader can serve one provider only
    with pytest.raises(tradetel.ConfigError):
        tradetel.configure(exporter="prometheus", additional_metric_readers=[taken])
    assert "target_info" in _scrape(port)  # the configuration kept still serves
