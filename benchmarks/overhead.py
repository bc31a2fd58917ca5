"""Per-call overhead of tradetel's decorators, measured side by side in one process.

    python benchmarks/overhead.py [--json] [--calls N] [--rounds R]

Cases, each the median per-call time of a no-op order function after warm-up:
  bare          the function itself
  disabled      decorated with @tradetel.order while TRADETEL_DISABLED=1
  sampled       @tradetel.order, every trace sampled
  metrics_only  @tradetel.order, trace sampling at 0 (the duration histogram only)
  raw_otel      the hand-written OTel equivalent: start_as_current_span with the same
                attributes + one Histogram.record, on the same providers (the SDK tracer
                provider that tradetel configured, which batches spans to the same exporter)

Targets (ratios): sampled <= 0.4 x raw_otel; metrics_only <= 0.05 x raw_otel;
disabled <= 1.5 x bare. Spans and metrics go to the file exporter in a temporary folder,
so the export thread's work competes for the interpreter as it would in a real program.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind

import tradetel

TARGETS = {"sampled": 0.4, "metrics_only": 0.05, "disabled": 1.5}


def _median_ns(fn: Callable[[], Any], calls: int, rounds: int) -> float:
    for _ in range(calls // 10 + 100):  # warm-up: caches, series, branch predictors
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


def _place_order(symbol: str, side: str, amount: float, price: float | None = None) -> None:
    return None


def _configure(data_dir: str, trace_sample_rate: float) -> None:
    tradetel.configure(
        service_name="overhead-benchmark",
        exporter="file",
        data_dir=data_dir,
        trace_sample_rate=trace_sample_rate,
        metrics_interval=3600,  # one collection at the end: not part of what is measured
        logs=False,
    )


def run(calls: int, rounds: int) -> dict[str, float]:
    results: dict[str, float] = {}
    results["bare"] = _median_ns(lambda: _place_order("BTC/USDT", "buy", 1.0, 100.0), calls, rounds)

    os.environ["TRADETEL_DISABLED"] = "1"
    disabled_fn = tradetel.order("binance", order_type="limit")(_place_order)
    del os.environ["TRADETEL_DISABLED"]
    results["disabled"] = _median_ns(
        lambda: disabled_fn("BTC/USDT", "buy", 1.0, 100.0), calls, rounds
    )

    decorated = tradetel.order("binance", order_type="limit")(_place_order)
    with tempfile.TemporaryDirectory() as data_dir:
        _configure(data_dir, trace_sample_rate=1.0)
        tracer = trace.get_tracer("raw-otel")
        histogram = metrics.get_meter("raw-otel").create_histogram("raw.order.duration", unit="s")
        span_attrs = {
            "trading.venue": "binance",
            "trading.order.operation": "submit",
            "trading.order.type": "limit",
            "trading.symbol": "BTC/USDT",
            "trading.side": "buy",
            "trading.order.quantity": 1.0,
            "trading.order.price": 100.0,
        }
        metric_attrs = {
            "trading.venue": "binance",
            "trading.order.operation": "submit",
            "trading.order.type": "limit",
        }

        def raw() -> None:
            start = time.perf_counter()
            with tracer.start_as_current_span(
                "order submit", kind=SpanKind.CLIENT, attributes=span_attrs
            ):
                _place_order("BTC/USDT", "buy", 1.0, 100.0)
            histogram.record(time.perf_counter() - start, metric_attrs)

        # Interleave the two sampled cases so that drift (the export thread, the CPU's clock)
        # affects both alike.
        sampled, raw_ns = [], []
        for _ in range(3):
            sampled.append(
                _median_ns(lambda: decorated("BTC/USDT", "buy", 1.0, 100.0), calls, rounds)
            )
            raw_ns.append(_median_ns(raw, calls // 4, rounds))
            tradetel.force_flush()
        results["sampled"] = statistics.median(sampled)
        results["raw_otel"] = statistics.median(raw_ns)

        _configure(data_dir, trace_sample_rate=0.0)
        results["metrics_only"] = _median_ns(
            lambda: decorated("BTC/USDT", "buy", 1.0, 100.0), calls, rounds
        )
        tradetel.shutdown()
    return results


def ratios(results: dict[str, float]) -> dict[str, float]:
    return {
        "sampled": results["sampled"] / results["raw_otel"],
        "metrics_only": results["metrics_only"] / results["raw_otel"],
        "disabled": results["disabled"] / results["bare"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--calls", type=int, default=20_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case")
    args = parser.parse_args(argv)

    results = run(args.calls, args.rounds)
    got = ratios(results)
    met = {name: got[name] <= target for name, target in TARGETS.items()}
    if args.json:
        print(json.dumps({"per_call_ns": results, "ratios": got, "targets": TARGETS, "met": met}))
        return 0
    print(f"{'case':<14}{'per call':>12}")
    for name, ns in results.items():
        print(f"{name:<14}{ns / 1000:>10.2f}us")
    print()
    print(f"{'ratio':<28}{'measured':>10}{'target':>10}")
    baseline = {"sampled": "raw_otel", "metrics_only": "raw_otel", "disabled": "bare"}
    for name, value in got.items():
        label = f"{name} / {baseline[name]}"
        verdict = "ok" if met[name] else "MISSED"
        print(f"{label:<28}{value:>9.3f}x{TARGETS[name]:>9.2f}x  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
