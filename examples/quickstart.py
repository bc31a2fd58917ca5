"""A decorated trading loop against a simulated venue, with its telemetry read back at the end.

    python examples/quickstart.py

A momentum strategy reads a random-walk price feed and sends limit orders to a simulated venue
that answers in 1-6 ms, fills most orders, leaves some resting on the book and rejects about
one in twenty. tradetel writes spans, metrics and log records as OTLP/JSON lines to
``.tradetel/`` (configure()'s default); the script then prints a short summary of this run.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tradetel
from tradetel.exporters._otlpjson import read_file

log = logging.getLogger("quickstart")

SYMBOL = "BTC/USDT"
TICKS = 400  # one every 10 ms: about 5 seconds in all
DATA_DIR = Path(".tradetel")
ELSEWHERE = (
    "Check TRADETEL_EXPORTER, TRADETEL_DATA_DIR, OTEL_EXPORTER_OTLP_*ENDPOINT and the sampling "
    "variables (docs/configuration.md)."
)


class OrderRejected(Exception):
    """The venue refused an order."""


class SimVenue:
    """A venue that answers in 1-6 ms; it speaks ccxt's order states (``closed``, ``open``)."""

    def __init__(self, seed: int = 7) -> None:
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)

    @tradetel.order("sim", order_type="limit")
    def submit_order(self, symbol: str, side: str, amount: float, price: float) -> dict[str, Any]:
        time.sleep(self._rng.uniform(0.001, 0.006))
        roll = self._rng.random()
        if roll < 0.05:
            raise OrderRejected(f"{side} {amount} {symbol} @ {price}: insufficient funds")
        # tradetel records "closed" as trading.order.status=filled and "open" as acked.
        return {"id": f"sim-{next(self._ids)}", "status": "closed" if roll < 0.8 else "open"}


@tradetel.instrument
def ticks(symbol: str, count: int, price: float = 100.0) -> Iterator[float]:
    """A random-walk price feed (one span covers the whole iteration)."""
    rng = random.Random(symbol)
    for _ in range(count):
        time.sleep(0.01)
        price *= 1 + rng.gauss(0, 0.001)
        yield round(price, 2)


class Momentum:
    """Buy after the price rose over the last few ticks, sell after it fell."""

    def __init__(self, venue: SimVenue, symbol: str, max_position: float = 0.5) -> None:
        self.venue = venue
        self.symbol = symbol
        self.max_position = max_position
        self.position = 0.0
        self.prices: deque[float] = deque(maxlen=5)

    @tradetel.strategy("momentum")
    def on_tick(self, price: float) -> None:
        self.prices.append(price)
        if len(self.prices) < 5:
            return
        move = (self.prices[-1] - self.prices[0]) / self.prices[0]
        if abs(move) < 0.002:
            return
        side = "buy" if move > 0 else "sell"
        signed = 0.05 if side == "buy" else -0.05
        with tradetel.span("risk check", symbol=self.symbol) as span:
            allowed = abs(self.position + signed) <= self.max_position
            span.set_attribute("risk.allowed", allowed)
        if not allowed:
            return
        try:
            order = self.venue.submit_order(self.symbol, side, abs(signed), price)
        except OrderRejected as exc:
            log.warning("order rejected: %s", exc)
            return
        if order["status"] == "closed":
            self.position += signed


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    since = time.time_ns()  # .tradetel/ keeps earlier runs too: summarise this one only
    tradetel.configure(service_name="quickstart", mode="paper")

    strategy = Momentum(SimVenue(), SYMBOL)
    log.info("trading %s on the simulated venue for %d ticks", SYMBOL, TICKS)
    for price in ticks(SYMBOL, TICKS):
        strategy.on_tick(price)
    log.info("done; %s position %+.2f", SYMBOL, strategy.position)

    tradetel.shutdown()  # exports everything still queued
    try:
        summarize(since)
    except FileNotFoundError as exc:
        print(f"No summary: {exc.filename} is missing. {ELSEWHERE}")


def summarize(since: int) -> None:
    """Print span counts and order-call latency, read back from the files tradetel wrote."""
    traces, bad_traces = read_file(DATA_DIR / "traces.jsonl", "traces")
    spans = [
        span
        for request in traces
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
        if span.start_time_unix_nano >= since
    ]
    if not spans:
        print(f"No summary: no spans of this run in {DATA_DIR}/. {ELSEWHERE}")
        return
    # A call that raised has no status but an error.type (the exception's class name).
    outcomes = Counter(
        a.get("trading.order.status") or f"raised {a.get('error.type')}"
        for a in (attrs(span.attributes) for span in spans if span.name == "order submit")
    )

    # Each metrics line holds cumulative totals, so the last point of each series is its total.
    metrics, bad_metrics = read_file(DATA_DIR / "metrics.jsonl", "metrics")
    last = {}
    for request in metrics:
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != "trading.order.duration":
                        continue
                    for point in metric.histogram.data_points:
                        if point.start_time_unix_nano >= since:
                            last[tuple(sorted(attrs(point.attributes).items()))] = point
    points = list(last.values())
    counts = [sum(column) for column in zip(*(p.bucket_counts for p in points), strict=True)]
    bounds = list(points[0].explicit_bounds)
    low, high = min(p.min for p in points), max(p.max for p in points)
    p50, p99 = (min(max(quantile(q, bounds, counts), low), high) for q in (0.5, 0.99))

    logs, bad_logs = read_file(DATA_DIR / "logs.jsonl", "logs")
    records = sum(
        1
        for request in logs
        for resource in request.resource_logs
        for scope in resource.scope_logs
        for record in scope.log_records
        if record.time_unix_nano >= since
    )

    print(f"\nTelemetry of this run, read back from {DATA_DIR}/:")
    print("  spans by name:")
    for name, n in Counter(span.name for span in spans).most_common():
        print(f"    {n:5d}  {name}")
    print("  order submit spans by trading.order.status:", dict(outcomes.most_common()))
    print(
        f"  trading.order.duration: {sum(counts)} calls, "
        f"p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms (estimated from the histogram buckets)"
    )
    print(f"  log records bridged from logging: {records}")
    if bad_traces or bad_metrics or bad_logs:
        print(f"  skipped malformed lines: {bad_traces + bad_metrics + bad_logs}")
    print(f"The full report of these files: tradetel report --data-dir {DATA_DIR}")


def attrs(key_values: Any) -> dict[str, str]:
    """OTLP attributes as a dict of their string values (all that this summary reads)."""
    return {kv.key: kv.value.string_value for kv in key_values}


def quantile(q: float, bounds: list[float], counts: list[int]) -> float:
    """Estimate a quantile from bucket counts, interpolating inside the bucket it falls in."""
    rank, seen = q * sum(counts), 0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            lower = bounds[i - 1] if i else 0.0
            upper = bounds[i] if i < len(bounds) else bounds[-1]
            return lower + (upper - lower) * (rank - seen) / n
        seen += n
    return float("nan")


if __name__ == "__main__":
    main()
