"""Recorded telemetry read once into what the report needs: spans, metric series, log counts.

Files are read through ``exporters._recorded``, which finds them and skips (and counts) bad
lines. Metrics are kept as series, not points: each cumulative series (resource, attributes
and start time) keeps only its latest point before the window and its latest point in it,
so a long run's metrics file costs memory per series, not per export. The latest is chosen
by the point's time rather than by reading order, because a Collector's rotated files may
not sort oldest first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import semconv as sc
from .._internal import printable
from ..exporters._recorded import Recorded
from ._metrics import Histogram, Series, Value
from ._model import FileRead

__all__ = ["Dataset", "Filters", "SpanRecord", "load"]

#: The metrics the report reads; every other metric is only counted and timed.
METRICS = frozenset({
    sc.ORDER_LATENCY, sc.ORDER_DURATION, sc.ORDER_EVENTS, sc.ORDER_SLIPPAGE,
    sc.ORDER_FILL_RATIO, sc.EQUITY, sc.RETURN, sc.DRAWDOWN, sc.DRAWDOWN_MAX, sc.SHARPE,
    sc.SORTINO, sc.CALMAR, sc.VOLATILITY, sc.VAR, sc.CVAR, sc.WIN_RATE, sc.PROFIT_FACTOR,
    sc.TRADES,
})  # fmt: skip

_DELTA = 1  # AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
_ERROR = 2  # Status.STATUS_CODE_ERROR


@dataclass(frozen=True)
class Filters:
    """What to keep: services and venues (empty: all) and a time window in unix seconds."""

    services: frozenset[str] = frozenset()
    venues: frozenset[str] = frozenset()
    since: float | None = None
    until: float | None = None

    @property
    def since_ns(self) -> int | None:
        return None if self.since is None else int(self.since * 1e9)

    @property
    def until_ns(self) -> int | None:
        return None if self.until is None else int(self.until * 1e9)

    def in_window(self, ns: int) -> bool:
        since, until = self.since_ns, self.until_ns
        return (since is None or ns >= since) and (until is None or ns <= until)

    def venue_ok(self, attributes: dict[str, Any]) -> bool:
        """Kept unless it names a venue not asked for (strategy figures name none)."""
        venue = attributes.get(sc.VENUE)
        return not self.venues or venue is None or str(venue) in self.venues


@dataclass(slots=True)
class SpanRecord:
    """One span, with ids as hex and times in nanoseconds."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status_code: int
    status_message: str
    links: tuple[tuple[str, str], ...]
    exception: str | None  # the type of its first exception event
    service: str
    resource: tuple[tuple[str, str], ...]

    @property
    def failed(self) -> bool:
        return self.status_code == _ERROR


@dataclass
class Dataset:
    """Everything read, filtered to the services, venues and time window asked for."""

    files: list[FileRead] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    services: set[str] = field(default_factory=set)
    spans: list[SpanRecord] = field(default_factory=list)
    series: dict[tuple[Any, ...], Series] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # metric name -> unit
    metric_points: int = 0
    log_records: int = 0
    log_severities: dict[str, int] = field(default_factory=dict)
    first_ns: int | None = None
    last_ns: int | None = None

    def seen(self, ns: int) -> None:
        if ns <= 0:
            return
        if self.first_ns is None or ns < self.first_ns:
            self.first_ns = ns
        if self.last_ns is None or ns > self.last_ns:
            self.last_ns = ns

    def of(self, name: str) -> list[Series]:
        return [s for s in self.series.values() if s.name == name]


def load(
    sources: Sequence[str | os.PathLike[str]],
    filters: Filters,
    signals: Iterable[str] = ("traces", "metrics", "logs"),
) -> Dataset:
    """Read ``sources`` (files or folders); raise ``FileNotFoundError`` naming a missing one."""
    recorded = Recorded.of(sources)
    data = Dataset()
    per_file: dict[Path, dict[str, int]] = {path: {} for path in recorded.paths}
    for line in recorded.lines(signals):  # type: ignore[arg-type]
        counts = per_file.setdefault(line.path, {})
        counts[line.signal] = counts.get(line.signal, 0) + 1
        request: Any = line.request
        if line.signal == "traces":
            _spans(data, request, filters)
        elif line.signal == "metrics":
            _metrics(data, request, filters)
        else:
            _logs(data, request, filters)
    data.files = [FileRead(str(path), counts) for path, counts in per_file.items()]
    data.lines = dict(recorded.lines_read)
    data.malformed += recorded.malformed
    data.malformed_examples[:0] = recorded.examples
    data.unreadable = list(recorded.unreadable)
    return data


def _resource(data: Dataset, resource: Any, filters: Filters) -> tuple[str, tuple[Any, ...]] | None:
    """The service and identity of a resource; None when --service leaves it out."""
    attributes = {kv.key: _text(kv.value) for kv in resource.attributes}
    service = attributes.get(sc.SERVICE_NAME, "")
    data.services.add(service or "(unnamed)")
    if filters.services and service not in filters.services:
        return None
    return service, tuple(sorted(attributes.items()))


def _spans(data: Dataset, request: Any, filters: Filters) -> None:
    for resource_spans in request.resource_spans:
        found = _resource(data, resource_spans.resource, filters)
        if found is None:
            continue
        service, identity = found
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                if not filters.in_window(span.start_time_unix_nano):
                    continue
                exception = next(
                    (
                        _text(kv.value)
                        for event in span.events
                        if event.name == "exception"
                        for kv in event.attributes
                        if kv.key == "exception.type"
                    ),
                    None,
                )
                data.spans.append(
                    SpanRecord(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=printable(span.name),
                        kind=span.kind,
                        start_ns=span.start_time_unix_nano,
                        end_ns=max(span.end_time_unix_nano, span.start_time_unix_nano),
                        attributes={kv.key: _value(kv.value) for kv in span.attributes},
                        status_code=span.status.code,
                        status_message=printable(span.status.message),
                        links=tuple((ln.trace_id.hex(), ln.span_id.hex()) for ln in span.links),
                        exception=exception,
                        service=service,
                        resource=identity,
                    )
                )
                data.seen(span.start_time_unix_nano)
                data.seen(span.end_time_unix_nano)


def _metrics(data: Dataset, request: Any, filters: Filters) -> None:
    for resource_metrics in request.resource_metrics:
        found = _resource(data, resource_metrics.resource, filters)
        if found is None:
            continue
        identity = found[1]
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                body = getattr(metric, kind)
                wanted = metric.name in METRICS and kind in ("gauge", "sum", "histogram")
                if wanted:
                    data.units[metric.name] = metric.unit
                for point in body.data_points:
                    if filters.in_window(point.time_unix_nano):
                        data.metric_points += 1
                        data.seen(point.time_unix_nano)
                    if wanted:  # a point before the window is the baseline of a cumulative one
                        _point(data, metric.name, kind, body, identity, point, filters)


def _point(
    data: Dataset,
    name: str,
    kind: str,
    body: Any,
    identity: tuple[Any, ...],
    point: Any,
    filters: Filters,
) -> None:
    attributes = {kv.key: _text(kv.value) for kv in point.attributes}
    if not filters.venue_ok(attributes):
        return
    delta = getattr(body, "aggregation_temporality", 0) == _DELTA
    start = 0 if kind == "gauge" or delta else point.start_time_unix_nano
    key = (name, identity, tuple(sorted(attributes.items())), start)
    series = data.series.get(key)
    if series is None:
        monotonic = kind == "histogram" or (kind == "sum" and body.is_monotonic)
        series = data.series[key] = Series(
            name, kind, not delta and kind != "gauge", monotonic, identity, attributes, start
        )
    value: Value
    if kind == "histogram":
        if len(point.bucket_counts) != len(point.explicit_bounds) + 1 and point.bucket_counts:
            data.malformed += 1  # a point no histogram can hold: skipped, like a broken line
            if len(data.malformed_examples) < 5:
                data.malformed_examples.append(
                    f"{name}: a histogram point with {len(point.bucket_counts)} bucket counts "
                    f"for {len(point.explicit_bounds)} bounds"
                )
            return
        value = Histogram(
            bounds=tuple(point.explicit_bounds),
            counts=tuple(point.bucket_counts),
            count=point.count,
            sum=point.sum,
            max=point.max if point.HasField("max") else None,
        )
    else:
        number = point.WhichOneof("value")
        value = float(getattr(point, number)) if number else 0.0
    series.add(point.time_unix_nano, value, filters.since_ns, filters.until_ns)


def _logs(data: Dataset, request: Any, filters: Filters) -> None:
    for resource_logs in request.resource_logs:
        if _resource(data, resource_logs.resource, filters) is None:
            continue
        for scope in resource_logs.scope_logs:
            for record in scope.log_records:
                ns = record.time_unix_nano or record.observed_time_unix_nano
                if not filters.in_window(ns):
                    continue
                data.log_records += 1
                data.seen(ns)
                severity = _severity(record.severity_number, record.severity_text)
                data.log_severities[severity] = data.log_severities.get(severity, 0) + 1


def _severity(number: int, text: str) -> str:
    """OTel severity numbers by range (1-4 TRACE ... 21-24 FATAL); the text when unset."""
    if number <= 0:
        return text.upper() or "UNSPECIFIED"
    names = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
    return names[min((number - 1) // 4, len(names) - 1)]


def _value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as Python: str, bool, int, float, bytes, list or dict."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if kind == "string_value":  # from the data, shown on a terminal
        return printable(value.string_value)
    return getattr(value, kind)


def _text(value: Any) -> str:
    """An ``AnyValue`` as the string a label or a grouping key needs."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return printable(str(value.string_value))
    return "" if kind is None else str(_value(value))
