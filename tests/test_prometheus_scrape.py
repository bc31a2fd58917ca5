"""`exporter="prometheus"`: a real Prometheus (Debian's 2.42) scrapes a decorated process.

The process trades in rounds with known latencies, rejects and equity; Prometheus scrapes it
every second and runs the shipped rules (time-compressed as the demo runs them, so that the
recording rule and an alert are seen within seconds). The dashboards' key queries, read from
the dashboard files, then return the values the trades imply, through Prometheus' HTTP API.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tradetel
from conftest import require_binary
from loopback import eventually, free_port, get_json, ready
from tradetel import orders, performance
from tradetel.demo._rules import write_demo_rules

pytestmark = pytest.mark.integration

DASHBOARDS = Path(__file__).parents[1] / "collector" / "grafana" / "dashboards"
#: each round: ten orders at venue "sim", eight acked with these latencies, two rejected
ACKS = (0.004, 0.004, 0.004, 0.004, 0.004, 0.004, 0.3, 0.7)
REJECTED = 2


def trade_round(tracker: orders.OrderTracker, number: int) -> None:
    @tradetel.order("sim", order_type="limit")
    def submit(client_order_id: str, quantity: float) -> dict[str, str]:
        tracker.submitted(client_order_id, venue="sim", side="buy", order_type="limit",
                          quantity=quantity, ts=start)  # fmt: skip
        return {"id": client_order_id, "status": "new"}

    start = time.time()
    for i, latency in enumerate(ACKS):
        submit(f"r{number}-{i}", 1.0)
        tracker.acked(f"r{number}-{i}", ts=start + latency)
    for i in range(REJECTED):
        submit(f"r{number}-x{i}", 1.0)
        tracker.rejected(f"r{number}-x{i}", reason="insufficient balance", ts=start + 0.01)


@pytest.fixture
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], list[Any]]]:
    """A trading process scraped by Prometheus; yields a function running an instant query."""
    binary = require_binary("prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    target = free_port()
    rules = write_demo_rules(work)  # the shipped rules, every interval and `for` 15x shorter
    config = work / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: [{rules}]\n"
        "scrape_configs:\n  - job_name: bot\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{target}']}}]\n"
    )
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1")
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(target))
    tradetel.configure(service_name="bot", exporter="prometheus", system_metrics=False)
    url = f"http://127.0.0.1:{free_port()}"
    log = (work / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address={url.removeprefix('http://')}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def query(expr: str) -> list[Any]:
        answer = get_json(f"{url}/api/v1/query?query={urllib.parse.quote(expr)}")
        assert answer["status"] == "success", answer
        return list(answer["data"]["result"])

    try:
        eventually(lambda: ready(url), "prometheus ready")
        # its scrape manager takes up to 5 s to start scraping: trade once it has
        eventually(lambda: query('up{job="bot"} == 1'), "the first scrape of the process")
        tracker = orders.OrderTracker()
        perf = performance.tracker("scraped", periods_per_year=252)
        for equity in (100.0, 120.0, 102.0):  # 15% below the peak
            perf.update_equity(equity)
        # rounds a scrape apart, so that rate() sees the counters grow
        for number in range(6):
            trade_round(tracker, number)
            time.sleep(1.1)
        eventually(lambda: query("trading_order_events_total"), "a scrape")
        yield query
    finally:
        process.terminate()
        process.wait(10)
        log.close()
        performance.remove("scraped")
        tradetel.shutdown()
        monkeypatch.undo()


def dashboard_expr(file: str, *contains: str) -> str:
    """The first PromQL expression of a dashboard holding all of ``contains``, variables set."""
    document = json.loads((DASHBOARDS / file).read_text(encoding="utf-8"))
    for panel in _panels(document):
        for target in panel.get("targets", []):
            expr = str(target.get("expr", ""))
            if all(part in expr for part in contains):
                for variable, value in (("$__rate_interval", "30s"), ("$__interval", "5s"),
                                        ("${venue}", ".*"), ("$venue", ".*"),
                                        ("${strategy}", ".*"), ("$strategy", ".*"),
                                        ("${job}", ".*"), ("$job", ".*")):  # fmt: skip
                    expr = expr.replace(variable, value)
                return expr
    raise AssertionError(f"no query with all of {contains!r} in {file}")


def _panels(node: Any) -> Iterator[dict[str, Any]]:
    for panel in node.get("panels", []):
        yield panel
        yield from _panels(panel)


def by_labels(result: list[Any], **labels: str) -> float:
    (value,) = [
        float(r["value"][1])
        for r in result
        if all(r["metric"].get(k) == v for k, v in labels.items())
    ]
    return value


def test_prometheus_scrapes_a_trading_process_and_the_dashboards_read_it(
    scraped: Callable[[str], list[Any]],
) -> None:
    """One scenario (tradetel shuts down after each test, and the scrapes with it)."""
    # the series are named as Prometheus' OTLP receiver names pushed ones
    names = {r["metric"]["__name__"] for r in scraped('{job="bot"}')}
    assert {
        "trading_order_latency_seconds_bucket",
        "trading_order_events_total",
        "trading_order_duration_seconds_count",
        "trading_drawdown_ratio",
        "target_info",
    } <= names
    assert not math.isnan(by_labels(scraped('target_info{job="bot"}')))

    # Order latency: 8 acks a round; rank 7.92 lies in (0.5, 1] holding one: 0.5 + 0.92 * 0.5
    p99 = dashboard_expr(
        "order-latency.json", "histogram_quantile(0.99", "latency_seconds_bucket", "stage"
    )
    value = by_labels(scraped(p99), trading_venue="sim", trading_order_stage="ack")
    assert value == pytest.approx(0.96, rel=1e-6)
    # rank 4 of the six in (0.0025, 0.005]: 0.0025 + 4/6 * 0.0025
    p50 = dashboard_expr(
        "order-latency.json", "histogram_quantile(0.5", "latency_seconds_bucket", "stage"
    )
    value = by_labels(scraped(p50), trading_venue="sim", trading_order_stage="ack")
    assert value == pytest.approx(0.0025 + 4 / 6 * 0.0025, rel=1e-6)

    # Order flow: the reject ratio, from the shipped recording rule
    expr = dashboard_expr("order-flow.json", "order_reject_ratio")
    ratio = eventually(lambda: scraped(expr), "the reject ratio")
    assert by_labels(ratio, trading_venue="sim") == pytest.approx(REJECTED / (len(ACKS) + REJECTED))

    # Strategy performance: 15% below the peak; the shipped rules see it as Prometheus runs them
    expr = dashboard_expr("strategy-performance.json", "trading_drawdown_ratio")
    assert by_labels(scraped(expr), trading_strategy_name="scraped") == pytest.approx(0.15)
    alerts = eventually(lambda: scraped('ALERTS{alertname=~"Drawdown.*"}'), "drawdown alerts")
    assert {a["metric"]["alertname"] for a in alerts} == {"DrawdownWarning", "DrawdownCritical"}
