"""The alert evaluator's throughput and delay.

    python benchmarks/alerts.py [--json] [--series N] [--points N] [--interval S]

Three figures:
  ingest        OTLP data points per second: a protobuf ExportMetricsServiceRequest decoded,
                translated to Prometheus series and appended, in process (what
                ``POST /v1/metrics`` does after reading the body)
  evaluation    the time of one evaluation of the shipped trading rules
                (collector/rules/trading.rules.yml) over N series (default 10,000) holding
                ten minutes of samples at a 15 s step
  delay         embedded mode: from a drawdown crossing its limit in this process's metrics to
                the webhook arriving at a local HTTP server, in evaluation intervals.
                Target: at most two intervals.  For comparison, Prometheus + Alertmanager
                with default settings take up to 15 s scrape + 15 s evaluation + 30 s group_wait.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

import tradetel
from tradetel import performance
from tradetel.alerts._engine import Engine
from tradetel.alerts._otlp import Translator, decode
from tradetel.alerts._rules import load_rules
from tradetel.alerts._series import SeriesStore, labels_from

ROOT = Path(__file__).parents[1]
SHIPPED = ROOT / "collector" / "rules" / "trading.rules.yml"
BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]
BUCKETS += [0.25, 0.5, 1, 2.5, 5, 10]
STEP_MS = 15_000
TARGET_DELAY_INTERVALS = 2.0


def _attr(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def ingest_rate(points: int) -> float:
    """Data points per second through decode -> translate -> append."""
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.append(_attr("service.name", "bench"))
    scope = resource.scope_metrics.add()
    metric = scope.metrics.add(name="trading.drawdown", unit="1")
    now = time.time_ns()
    for i in range(points):
        point = metric.gauge.data_points.add(time_unix_nano=now, as_double=i / points)
        point.attributes.append(_attr("trading.strategy.name", f"s{i}"))
    body = request.SerializeToString()
    translator = Translator()
    store = SeriesStore()
    rounds = 5
    started = time.perf_counter()
    for r in range(rounds):
        parsed = decode(body, "application/x-protobuf")
        for point in parsed.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points:
            point.time_unix_nano = now + r * 1_000_000_000
        result = translator.translate(parsed)
        for labels, t, value in result.samples:
            store.append(labels, t, value)
    elapsed = time.perf_counter() - started
    return rounds * points / elapsed


def _series_for_rules(series: int) -> list[tuple[dict[str, str], str]]:
    """Series named as the shipped rules query them; kinds: counter, gauge or bucket."""
    out: list[tuple[dict[str, str], str]] = []
    venue = 0
    while len(out) < series:
        v = f"venue{venue}"
        for stage in ("ack", "first_fill", "fill", "cancel"):
            for le in [*map(str, BUCKETS), "+Inf"]:
                out.append(
                    (
                        {
                            "__name__": "trading_order_latency_seconds_bucket",
                            "trading_venue": v,
                            "trading_order_stage": stage,
                            "le": le,
                        },
                        "bucket",
                    )
                )
        for status in ("acked", "filled", "rejected", "canceled", "partially_filled"):
            out.append(
                (
                    {
                        "__name__": "trading_order_events_total",
                        "trading_venue": v,
                        "trading_order_status": status,
                    },
                    "counter",
                )
            )
        out.append(({"__name__": "trading_drawdown_ratio", "trading_strategy_name": v}, "gauge"))
        venue += 1
    return out[:series]


def evaluation_time(series: int) -> tuple[float, int]:
    groups = load_rules(SHIPPED)
    store = SeriesStore()
    engine = Engine(groups, interval_ms=STEP_MS, store=store)
    end = 10 * 60_000
    for labels, kind in _series_for_rules(series):
        lset = labels_from(labels)
        for k, t in enumerate(range(0, end + 1, STEP_MS)):
            value = float(k * 3) if kind != "gauge" else 0.05
            store.append(lset, t, value)
    engine.evaluate_all(end - STEP_MS)  # warm up caches
    started = time.perf_counter()
    engine.evaluate_all(end)
    return time.perf_counter() - started, len(store)


class _Hook(BaseHTTPRequestHandler):
    arrived = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        _Hook.arrived.set()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def embedded_delay(interval: float) -> float:
    """Seconds from the drawdown crossing to the webhook, in embedded mode."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.yml"
        rules.write_text(
            "groups:\n  - name: risk\n    rules:\n      - alert: DrawdownLimit\n"
            "        expr: trading_drawdown_ratio > 0.1\n"
        )
        tradetel.configure(
            exporter="none",
            data_dir=tmp,
            system_metrics=False,
            alert_rules=rules,
            alert_interval=interval,
            notify={
                "channels": {"hook": {"type": "webhook", "url": url}},
                "routes": [{"channels": ["hook"]}],
            },
        )
        try:
            perf = performance.tracker("bench")
            perf.update_equity(100.0)
            # the evaluator is in its steady rhythm; the crossing falls at a random phase of it
            time.sleep(interval * (1.0 + random.random()))
            crossed = time.perf_counter()
            perf.update_equity(80.0)
            if not _Hook.arrived.wait(30 * interval + 10):
                raise SystemExit("the webhook never arrived")
            delay = time.perf_counter() - crossed
        finally:
            tradetel.shutdown()
            server.shutdown()
    return delay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--trials", type=int, default=5, help="crossings timed; the worst counts")
    args = parser.parse_args()
    rate = ingest_rate(args.points)
    seconds, stored = evaluation_time(args.series)
    delays = []
    for _ in range(args.trials):
        _Hook.arrived.clear()
        delays.append(embedded_delay(args.interval))
    delay = max(delays)
    report = {
        "ingest_points_per_second": round(rate),
        "evaluation_seconds": seconds,
        "evaluation_series": stored,
        "delay_seconds": delay,
        "delay_seconds_each": delays,
        "delay_intervals": delay / args.interval,
        "interval_seconds": args.interval,
        "target_delay_intervals": TARGET_DELAY_INTERVALS,
        "met": delay / args.interval <= TARGET_DELAY_INTERVALS,
        "prometheus_alertmanager_default_seconds": 15 + 15 + 30,
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    print(f"ingest:      {rate:,.0f} OTLP data points/s (decode + translate + append)")
    print(f"evaluation:  {seconds * 1000:.1f} ms for the shipped rules over {stored:,} series")
    print(
        f"delay:       worst of {len(delays)}: {delay:.2f} s = "
        f"{delay / args.interval:.2f} intervals of "
        f"{args.interval:g} s (target <= {TARGET_DELAY_INTERVALS:g}: "
        f"{'met' if report['met'] else 'NOT met'}); Prometheus + Alertmanager defaults: up to ~60 s"
    )


if __name__ == "__main__":
    main()
