"""The service's own metrics, as ``GET /metrics`` serves them (Prometheus text format 0.0.4).

The service counts only what nobody else does (OTLP requests, data points, loop errors); the
rest is read from the engine and the notifier when scraped, so there is one source of truth.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Mapping

from ._engine import Engine

__all__ = ["CONTENT_TYPE", "SelfMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_PREFIX = "tradetel_alerts_"
#: the outcomes that ``Notifier.stats()`` reports per channel, besides ``breaker_open``
_NOTIFY_OUTCOMES = ("sent", "failed", "retried", "held_back", "dropped")

Sample = tuple[Mapping[str, str], float]


class SelfMetrics:
    """Counters kept by the receivers and the engine loop; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._points: Counter[str] = Counter({"accepted": 0, "rejected": 0})
        self._loop_errors = 0

    def count_request(self, protocol: str, code: int | str) -> None:
        """One OTLP export request answered with ``code`` (HTTP status or gRPC code name)."""
        with self._lock:
            self._requests[protocol, str(code)] += 1

    def count_points(self, accepted: int, rejected: int) -> None:
        with self._lock:
            self._points["accepted"] += accepted
            self._points["rejected"] += rejected

    def count_loop_error(self) -> None:
        with self._lock:
            self._loop_errors += 1

    def render(self, engine: Engine, stats: Mapping[str, Mapping[str, int]]) -> str:
        """The exposition text; ``stats`` is ``Notifier.stats()`` (per channel)."""
        with self._lock:
            requests = dict(self._requests)
            points = dict(self._points)
            loop_errors = self._loop_errors
        with engine.lock:
            groups = [
                ({"rule_group": g.name, "file": g.file}, g.evaluation_time, g.last_evaluation)
                for g in engine.groups
            ]
            counters = (engine.evaluations, engine.failures, engine.missed)
            series = len(engine.store)
            dropped = (engine.store.dropped_out_of_order, engine.store.dropped_series_limit)
        states = Counter({"pending": 0, "firing": 0})
        states.update(alert.state for _, _, alert in engine.alerts())

        out = _Text()
        out.counter(
            "otlp_requests_total",
            "OTLP export requests, by protocol and response code.",
            [({"protocol": p, "code": c}, n) for (p, c), n in sorted(requests.items())],
        )
        out.counter(
            "data_points_total",
            "OTLP data points received, by outcome of their translation to samples.",
            [({"outcome": k}, n) for k, n in sorted(points.items())],
        )
        out.counter(
            "samples_dropped_total",
            "Samples the series store dropped, by reason.",
            [({"reason": "out_of_order"}, dropped[0]), ({"reason": "series_limit"}, dropped[1])],
        )
        out.gauge("series", "Series held in the store.", [({}, series)])
        out.counter("evaluations_total", "Rule group evaluations.", [({}, counters[0])])
        out.counter(
            "evaluation_failures_total",
            "Rule evaluations that failed (the rule's health is err).",
            [({}, counters[1])],
        )
        out.counter(
            "missed_evaluations_total",
            "Group evaluations skipped because the service fell behind.",
            [({}, counters[2])],
        )
        out.counter(
            "loop_errors_total", "Unexpected errors in the evaluation loop.", [({}, loop_errors)]
        )
        out.gauge(
            "group_last_evaluation_duration_seconds",
            "How long the last evaluation of a rule group took.",
            [(labels, duration) for labels, duration, _ in groups],
        )
        out.gauge(
            "group_last_evaluation_timestamp_seconds",
            "When a rule group was last evaluated, in epoch seconds (0: not yet).",
            [(labels, last or 0.0) for labels, _, last in groups],
        )
        out.gauge(
            "alerts", "Alerts by state.", [({"state": s}, n) for s, n in sorted(states.items())]
        )
        out.counter(
            "notifications_total",
            "Notifications by channel and outcome.",
            [
                ({"channel": channel, "outcome": outcome}, counts.get(outcome, 0))
                for channel, counts in sorted(stats.items())
                for outcome in _NOTIFY_OUTCOMES
            ],
        )
        out.gauge(
            "notification_breaker_open",
            "1 while a channel's circuit breaker is open.",
            [
                ({"channel": ch}, counts.get("breaker_open", 0))
                for ch, counts in sorted(stats.items())
            ],
        )
        return out.text()


class _Text:
    def __init__(self) -> None:
        self._lines: list[str] = []

    def counter(self, name: str, help_text: str, samples: Iterable[Sample]) -> None:
        self._family(name, "counter", help_text, samples)

    def gauge(self, name: str, help_text: str, samples: Iterable[Sample]) -> None:
        self._family(name, "gauge", help_text, samples)

    def _family(self, name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> None:
        full = _PREFIX + name
        help_escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
        self._lines.append(f"# HELP {full} {help_escaped}")
        self._lines.append(f"# TYPE {full} {kind}")
        for labels, value in samples:
            self._lines.append(f"{full}{_labels(labels)} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    pairs = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + pairs + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))
