"""Per-call overhead of tradetel's decorators, measured side by side in one process.

    python benchmarks/overhead.py [--json] [--calls N] [--rounds R]

Cases, each the median per-call time of a no-op order function after warm-up (cases that
are compared are measured in turns, three times):
  bare          the function itself
  disabled      decorated with @tradetel.order while TRADETEL_DISABLED=1: by design the
                decorator then returns the function untouched, so this is bare again
  unconfigured  @tradetel.order before configure() (informational: no target)
  sampled       @tradetel.order, every trace sampled
  metrics_only  @tradetel.order, trace sampling at 0 (the duration histogram only)
  raw_otel      the hand-written raw OTel equivalent: start_as_current_span with the same
                attributes + one Histogram.record. Its spans go through an SDK TracerProvider
                of its own (service.name as tradetel's) and a BatchSpanProcessor to the same
                kind of file exporter; its histogram comes from the MeterProvider that
                tradetel configured.

Targets (ratios): sampled <= 0.4 x raw_otel; metrics_only <= 0.05 x raw_otel;
disabled <= 1.5 x bare. Spans and metrics go to file exporters in temporary folders, so the
export threads' work competes for the interpreter as it would in a real program.

The sampled cases are timed 1000 calls at a time, with both pipelines flushed in between
(untimed): fewer spans than either queue holds, so neither drops a span and each pays for
exporting all of them (a pipeline that drops does less work and would look cheaper). The
report gives tradetel's drop count (tradetel.telemetry.dropped{signal="span"}), which should
be 0; the SDK has no public count for the BatchSpanProcessor.
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

from _report import print_report
from opentelemetry import metrics, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import Attributes

import tradetel
from tradetel import semconv
from tradetel.exporters._file import FileSpanExporter
from tradetel.exporters._otlpjson import read_file

SERVICE = "overhead-benchmark"
#: Sampled calls timed at a time: below both span queues (the BatchSpanProcessor's 2048,
#: tradetel's 4096), so that no span is dropped and each pipeline pays for every export.
CHUNK = 1000
TARGETS = {"sampled": 0.4, "metrics_only": 0.05, "disabled": 1.5}
BASELINES = {
    "sampled": "raw_otel",
    "metrics_only": "raw_otel",
    "disabled": "bare",
    "unconfigured": "bare",
}
SPAN_ATTRIBUTES: Attributes = {
    "trading.venue": "binance",
    "trading.order.operation": "submit",
    "trading.order.type": "limit",
    "trading.symbol": "BTC/USDT",
    "trading.side": "buy",
    "trading.order.quantity": 1.0,
    "trading.order.price": 100.0,
}
METRIC_ATTRIBUTES: Attributes = {
    "trading.venue": "binance",
    "trading.order.operation": "submit",
    "trading.order.type": "limit",
}


def _median_ns(
    fn: Callable[[], Any],
    calls: int,
    rounds: int,
    chunk: int | None = None,
    between: Callable[[], object] | None = None,
) -> float:
    """Median per-call time over ``rounds`` of ``calls`` calls, after a warm-up.

    With ``chunk``, calls are timed ``chunk`` at a time and ``between`` runs after each
    chunk, untimed: flushing the export queues there keeps every span below the queues'
    capacity, so both pipelines export every span instead of measuring cheap drops.
    """
    chunk = chunk or calls
    for _ in range(max(1, (calls // 10 + 100) // chunk)):  # warm-up: caches, series
        for _ in range(min(chunk, calls // 10 + 100)):
            fn()
        if between is not None:
            between()
    samples = []
    for _ in range(rounds):
        elapsed = done = 0
        while done < calls:
            n = min(chunk, calls - done)
            start = time.perf_counter_ns()
            for _ in range(n):
                fn()
            elapsed += time.perf_counter_ns() - start
            done += n
            if between is not None:
                between()
        samples.append(elapsed / calls)
    return statistics.median(samples)


def _place_order(symbol: str, side: str, amount: float, price: float | None = None) -> None:
    return None


def _decorated() -> Callable[..., None]:
    return tradetel.order("binance", order_type="limit")(_place_order)


def _call(fn: Callable[..., None]) -> Callable[[], None]:
    """One order call of ``fn``, as each case makes it."""
    return lambda: fn("BTC/USDT", "buy", 1.0, 100.0)


def _configure(data_dir: str, trace_sample_rate: float) -> None:
    tradetel.configure(
        service_name=SERVICE,
        exporter="file",
        data_dir=data_dir,
        trace_sample_rate=trace_sample_rate,
        metrics_interval=3600,  # one collection, at shutdown: not part of what is measured
        logs=False,
    )


def _dropped_spans(data_dir: str) -> int:
    """tradetel.telemetry.dropped{signal="span"}, summed over the configurations' final exports.

    Read from tradetel's own metrics file rather than through a second metric reader, which
    would make the raw case's Histogram.record dearer.
    """
    requests, _ = read_file(os.path.join(data_dir, "metrics.jsonl"), "metrics")
    return sum(
        int(point.as_double or point.as_int)
        for request in requests
        for resource_metrics in request.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name == semconv.TELEMETRY_DROPPED
        for point in metric.sum.data_points
        if any(
            a.key == semconv.TELEMETRY_SIGNAL and a.value.string_value == "span"
            for a in point.attributes
        )
    )


def _raw_tracer_provider(data_dir: str) -> TracerProvider:
    """The plain SDK pipeline: a TracerProvider, a BatchSpanProcessor, the file exporter."""
    provider = TracerProvider(resource=Resource.create({semconv.SERVICE_NAME: SERVICE}))
    provider.add_span_processor(BatchSpanProcessor(FileSpanExporter(data_dir)))
    return provider


def _raw_order(tracer: trace.Tracer, histogram: metrics.Histogram) -> Callable[[], None]:
    """The hand-written OTel equivalent of one call of the decorated function."""

    def call() -> None:
        start = time.perf_counter()
        with tracer.start_as_current_span(
            "order submit", kind=SpanKind.CLIENT, attributes=SPAN_ATTRIBUTES
        ):
            _place_order("BTC/USDT", "buy", 1.0, 100.0)
        histogram.record(time.perf_counter() - start, METRIC_ATTRIBUTES)

    return call


def _in_turns(
    cases: dict[str, Callable[[], float]], between: Callable[[], object] = lambda: None
) -> dict[str, float]:
    """Take the cases' measurements in turns, so that drift affects all alike; the medians.

    ``between`` runs after each measurement, outside it: flushing the export queues there
    keeps one case's leftover export work from slowing the next case down.
    """
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(3):
        for name, measure in cases.items():
            samples[name].append(measure())
            between()
    return {name: statistics.median(values) for name, values in samples.items()}


def _untouched(calls: int, rounds: int) -> dict[str, float]:
    """bare, disabled and unconfigured: run before tradetel is first configured."""
    bare = _call(_place_order)
    os.environ["TRADETEL_DISABLED"] = "1"
    disabled = _call(_decorated())
    del os.environ["TRADETEL_DISABLED"]
    unconfigured = _call(_decorated())
    return _in_turns(
        {
            "bare": lambda: _median_ns(bare, calls, rounds),
            "disabled": lambda: _median_ns(disabled, calls, rounds),
            "unconfigured": lambda: _median_ns(unconfigured, calls, rounds),
        }
    )


def _sampled_and_raw(
    decorated: Callable[[], None], raw_dir: str, calls: int, rounds: int
) -> dict[str, float]:
    """sampled against raw_otel (its own pipeline, to ``raw_dir``), tradetel configured."""
    raw_provider = _raw_tracer_provider(raw_dir)
    histogram = metrics.get_meter("raw-otel").create_histogram("raw.order.duration", unit="s")
    raw = _raw_order(raw_provider.get_tracer("raw-otel"), histogram)

    def flush() -> None:
        tradetel.force_flush()
        raw_provider.force_flush()

    cases = {
        "sampled": lambda: _median_ns(decorated, calls, rounds, CHUNK, flush),
        "raw_otel": lambda: _median_ns(raw, calls // 4, rounds, CHUNK, flush),
    }
    try:
        return _in_turns(cases)
    finally:
        raw_provider.shutdown()


def run(calls: int, rounds: int) -> tuple[dict[str, float], int]:
    """Per-call nanoseconds of each case, and how many spans tradetel dropped meanwhile."""
    results = _untouched(calls, rounds)
    decorated = _call(_decorated())
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryDirectory() as raw_dir:
        _configure(data_dir, trace_sample_rate=1.0)
        results |= _sampled_and_raw(decorated, raw_dir, calls, rounds)
        _configure(data_dir, trace_sample_rate=0.0)  # writes the first one's final metrics
        results["metrics_only"] = _median_ns(decorated, calls, rounds)
        tradetel.shutdown()
        dropped = _dropped_spans(data_dir)
    return results, dropped


def ratios(results: dict[str, float]) -> dict[str, float]:
    return {name: results[name] / results[base] for name, base in BASELINES.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--calls", type=int, default=20_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case")
    args = parser.parse_args(argv)

    results, dropped = run(args.calls, args.rounds)
    got = ratios(results)
    if args.json:
        met = {name: got[name] <= target for name, target in TARGETS.items()}
        report = {"per_call_ns": results, "ratios": got, "targets": TARGETS, "met": met}
        print(json.dumps(report | {"dropped_spans": dropped}))
    else:
        note = (
            f"(spans tradetel dropped: {dropped}; the BatchSpanProcessor's drops are not counted)"
        )
        print_report(results, got, BASELINES, TARGETS, note=note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
