"""Cost of the order tracker per lifecycle event, side by side with one raw OTel record.

    python benchmarks/orders.py [--json] [--orders N] [--rounds R]

Each order goes through four events: submitted, acked, a partial fill and the final fill.
The cases give the median cost per event:
  metrics_only  the tracker with trace sampling at 0: the events counter, the latency,
                fill-ratio and slippage histograms, the open-order count
  sampled       the tracker with every trace sampled: the above, plus the submit span and
                a linked span per execution report, exported to a file
  raw_record    one OTel SDK ``Histogram.record`` with the attributes the tracker puts on
                ``trading.order.latency`` (venue, stage, order type), on the MeterProvider
                that tradetel configured: what recording one latency by hand costs

Target: metrics_only <= 1 x raw_record. The sampled case has no target: it makes one span
per event (about what one raw record costs again, plus its export on the export thread,
which shares the interpreter), and is reported so that the price of tracing every order is
known. In one process, each round of the tracker is followed by a round of raw records;
sampled orders are timed 250 at a time
(1000 spans) with the export queue flushed in between, untimed, so that no span is dropped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import count

from _report import print_report

import tradetel
from tradetel import _setup
from tradetel.orders import OrderTracker

TARGETS = {"metrics_only": 1.0}
REPORTED = ("metrics_only", "sampled")
EVENTS_PER_ORDER = 4
#: Orders timed at a time in the sampled case: 1000 spans, below the export queue's 4096.
CHUNK = 250
ATTRIBUTES = {
    "trading.venue": "binance",
    "trading.order.stage": "ack",
    "trading.order.type": "limit",
}


def _lifecycle(tracker: OrderTracker) -> Callable[[], None]:
    ids = count()

    def one_order() -> None:
        coid = f"c-{next(ids)}"
        tracker.submitted(
            coid,
            venue="binance",
            symbol="BTC/USDT",
            side="buy",
            order_type="limit",
            quantity=1.0,
            price=100.0,
            arrival_price=100.0,
            strategy="bench",
        )
        tracker.acked(coid, order_id="v-1")
        tracker.filled(coid, 0.4, 100.0)
        tracker.filled(coid, 0.6, 100.1)

    return one_order


def _raw_record() -> Callable[[], None]:
    # The live configuration's MeterProvider: the global one stays the first configure()'s,
    # which the second one shuts down (a shut-down provider hands out no-op instruments).
    provider = _setup._pipeline.meter_provider  # type: ignore[union-attr]
    histogram = provider.get_meter("raw-otel").create_histogram("raw.order.latency", unit="s")

    def one() -> None:
        histogram.record(0.0042, ATTRIBUTES)

    return one


def _per_call_ns(
    fn: Callable[[], None], calls: int, chunk: int, between: Callable[[], object]
) -> float:
    for _ in range(min(calls, 200)):  # warm-up: series, caches
        fn()
    between()
    elapsed = done = 0
    while done < calls:
        n = min(chunk, calls - done)
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()
        elapsed += time.perf_counter_ns() - start
        done += n
        between()
    return elapsed / calls


def run(orders: int, rounds: int) -> dict[str, float]:
    """Median nanoseconds per lifecycle event (per record for raw_record)."""
    samples: dict[str, list[float]] = {"metrics_only": [], "sampled": [], "raw_record": []}
    with tempfile.TemporaryDirectory() as data_dir:
        for rate, name in ((0.0, "metrics_only"), (1.0, "sampled")):
            tradetel.configure(
                service_name="orders-benchmark",
                exporter="file",
                data_dir=data_dir,
                trace_sample_rate=rate,
                metrics_interval=3600,
                logs=False,
                system_metrics=False,
            )
            raw = _raw_record()
            for _ in range(rounds):
                tracker = OrderTracker()
                events = _per_call_ns(_lifecycle(tracker), orders, CHUNK, tradetel.force_flush)
                samples[name].append(events / EVENTS_PER_ORDER)
                samples["raw_record"].append(_per_call_ns(raw, orders, orders, lambda: None))
        tradetel.shutdown()
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--orders", type=int, default=5000, help="orders per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per case")
    args = parser.parse_args(argv)

    results = run(args.orders, args.rounds)
    got = {name: results[name] / results["raw_record"] for name in REPORTED}
    if args.json:
        met = {name: got[name] <= target for name, target in TARGETS.items()}
        print(json.dumps({"per_event_ns": results, "ratios": got, "targets": TARGETS, "met": met}))
        return 0
    baselines = dict.fromkeys(REPORTED, "raw_record")
    print_report(results, got, baselines, TARGETS, unit="per event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
