"""`tradetel demo`: what a new user sees first, run as they would run it (a separate process).

One default 30-second run is shared by the tests that look at its output, its files and its
alerts; shorter runs check the options.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from otlp_receiver import OtlpReceiver, attributes
from tradetel.alerts.notify import History
from tradetel.cli import cli
from tradetel.demo._market import PricePath, plan_order
from tradetel.exporters._otlpjson import read_file

TRADETEL = str(Path(sys.executable).parent / "tradetel")
# control characters other than the newline: cursor movement, colours, carriage returns
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def demo_env() -> dict[str, str]:
    """The environment of a fresh shell: no tradetel or OpenTelemetry settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRADETEL_", "OTEL_")) and k not in ("FORCE_COLOR", "COLUMNS")
    }


def run_demo(
    cwd: Path, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRADETEL, "demo", *args],
        cwd=cwd,
        env={**demo_env(), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`tradetel demo` with no option, in a fresh folder: (the folder, its stdout)."""
    folder = tmp_path_factory.mktemp("demo")
    result = run_demo(folder)
    assert result.returncode == 0, result.stderr
    return folder, result.stdout


def order_submits(data_dir: Path) -> list[tuple[Any, ...]]:
    """The orders sent, in order: (client id, venue, side, quantity, price)."""
    requests, _ = read_file(data_dir / "traces.jsonl", "traces")
    spans = [
        span
        for request in requests
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
        if span.name == "order submit"
    ]
    spans.sort(key=lambda span: span.start_time_unix_nano)
    keys = ("trading.order.client_id", "trading.venue", "trading.side")
    keys += ("trading.order.quantity", "trading.order.price")
    return [tuple(attributes(span.attributes).get(k) for k in keys) for span in spans]


def test_a_default_run_fires_an_alert_and_resolves_it(default_run: tuple[Path, str]) -> None:
    folder, stdout = default_run
    history = History(folder / ".tradetel" / "alerts-history.db")
    try:
        changes = [(e.alertname, e.state) for e in history.query()]
    finally:
        history.close()
    drawdown = [s for name, s in changes if name == "DrawdownWarning" and s != "pending"]
    assert drawdown[:2] == ["firing", "resolved"], changes
    assert re.search(r"alert FIRING +DrawdownWarning: Strategy dip_buyer is [\d.]+% below", stdout)
    assert "alert resolved DrawdownWarning: trading_strategy_name=dip_buyer" in stdout
    # the second venue's latency incident
    assert re.search(r"alert FIRING +OrderLatencyP99High: p99 ack latency at beta", stdout)


def test_a_default_run_shows_progress_without_control_characters(
    default_run: tuple[Path, str],
) -> None:
    _, stdout = default_run
    assert not CONTROL.search(stdout), repr(CONTROL.search(stdout))
    progress = re.findall(r"^\[ *(\d+)s\] orders (\d+) +fills (\d+) +rejects (\d+)", stdout, re.M)
    assert [int(p[0]) for p in progress] == [5, 10, 15, 20, 25, 30]
    orders = [int(p[1]) for p in progress]
    assert orders == sorted(orders)
    assert orders[0] > 0


def test_a_default_run_writes_its_telemetry_and_rules(default_run: tuple[Path, str]) -> None:
    folder, _ = default_run
    data_dir = folder / ".tradetel"
    for name in ("traces.jsonl", "metrics.jsonl", "logs.jsonl", "demo.log"):
        assert (data_dir / name).stat().st_size > 0, name
    rules = (data_dir / "demo.rules.yml").read_text()
    assert "interval: 1s" in rules  # 15s, 15 times faster
    assert "for: 4s" in rules  # 1m
    submits = order_submits(data_dir)
    assert {s[1] for s in submits} == {"alpha", "beta"}
    assert {s[0].rsplit("-", 1)[0] for s in submits} == {"dip_buyer", "momentum"}


def test_the_same_seed_sends_the_same_orders(tmp_path: Path) -> None:
    runs = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        result = run_demo(folder, "--duration", "2", "--seed", "7", "--no-report")
        assert result.returncode == 0, result.stderr
        runs.append(order_submits(folder / ".tradetel"))
    assert len(runs[0]) > 10
    assert runs[0] == runs[1]


def test_other_seeds_make_other_markets_and_venue_answers() -> None:
    assert (
        PricePath("1/dip_buyer", 100.0, 300, scripted=True)[150]
        != PricePath("2/dip_buyer", 100.0, 300, scripted=True)[150]
    )
    plans = [
        plan_order(seed, "alpha", 1, f=0.1, incident=False, marketable=True) for seed in (1, 2)
    ]
    assert plans[0] != plans[1]
    assert plan_order(1, "alpha", 1, f=0.1, incident=False, marketable=True) == plans[0]


def test_endpoint_sends_the_telemetry_to_a_collector_too(tmp_path: Path) -> None:
    with OtlpReceiver() as receiver:
        result = run_demo(
            tmp_path, "--duration", "2", "--no-report", "--endpoint", receiver.http_endpoint,
            "--strategies", "1", "--venues", "1", "--data-dir", "out",
            TRADETEL_DATA_DIR="elsewhere",  # --data-dir wins
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert receiver.wait_for(lambda r: any(s.span.name == "order submit" for s in r.spans()))
    sent = {
        attributes(s.span.attributes).get("trading.venue")
        for s in receiver.spans()
        if s.span.name == "order submit"
    }
    assert sent == {"alpha"}
    assert (tmp_path / "out" / "traces.jsonl").stat().st_size > 0  # the report still has files
    assert (tmp_path / "out" / "alerts-history.db").exists()
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategies", "4"], "--strategies"),
        (["--venues", "0"], "--venues"),
        (["--duration", "0"], "--duration"),
        (["--endpoint", "localhost:4318"], "--endpoint"),
        (["--endpoint", "collector:4318?token=s3cr/etP4ss"], "'collector:4318' is not"),
    ],
)
def test_bad_options_are_refused_naming_the_option(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["demo", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "s3cr" not in result.output
