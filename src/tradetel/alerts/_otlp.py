"""OTLP metric payloads in, Prometheus series out.

The translation is the one Prometheus' OTLP receiver does with its default settings
(prometheus/prometheus ``storage/remote/otlptranslator/prometheusremotewrite``: ``FromMetrics``,
``createAttributes``, ``addHistogramDataPoints``, ``addSummaryDataPoints``,
``addResourceTargetInfo``), so that one rule file works here and in Prometheus. Names come from
:mod:`._otlp_names`. Delta temporality, which Prometheus refuses by default, is accumulated into
cumulative values as the collector's ``deltatocumulative`` processor does it.

Collector payloads (:func:`decode`) and the SDK's own data (:func:`from_sdk`) become the same
protobuf request, so there is one translation path.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from tradetel._errors import ConfigError
from tradetel.alerts._otlp_decode import PayloadError, decode, from_sdk
from tradetel.alerts._otlp_names import Kind, attribute_value, format_float, label_name, metric_name
from tradetel.alerts._series import STALE, Labels, labels_from

if TYPE_CHECKING:
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

__all__ = ["PayloadError", "TranslateResult", "Translator", "decode", "from_sdk"]

Sample: TypeAlias = tuple[Labels, int, float]

_NO_RECORDED_VALUE = metrics_pb2.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
_DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
_CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
# Mapped to job and instance, so left out of target_info.
_IDENTIFYING = ("service.namespace", "service.name", "service.instance.id")
# Prometheus repeats target_info every half of its default 5m lookback between a resource's
# earliest and latest point.
_TARGET_INFO_STEP_NS = 150 * 10**9
# deltatocumulative's default max_stale: a stream this far behind may make room for a new one.
_STREAM_MAX_STALE_NS = 300 * 10**9
_MAX_ERRORS = 20
_MAX_CACHED_NAMES = 10_000


@dataclass
class TranslateResult:
    """The series of one request: what was accepted, and what was refused and why."""

    #: (labels, time in ms, value); a staleness marker is :data:`~._series.STALE`
    samples: list[Sample] = field(default_factory=list)
    #: data points accepted (one histogram point gives many samples)
    accepted: int = 0
    #: data points refused (the OTLP partial-success count)
    rejected: int = 0
    #: one message per kind of refusal, capped
    errors: list[str] = field(default_factory=list)


class Translator:
    """Translate OTLP requests into Prometheus samples; keeps the state of delta streams.

    Args:
        promote_resource_attributes: resource attributes that become labels of every series
            (Prometheus' ``otlp.promote_resource_attributes``).
        delta: ``"convert"`` accumulates delta Sums and Histograms into cumulative series;
            ``"refuse"`` refuses them, as Prometheus does by default.
        max_streams: how many delta streams are tracked; points of further streams are refused.
    """

    def __init__(
        self,
        *,
        promote_resource_attributes: Sequence[str] = (),
        delta: Literal["convert", "refuse"] = "convert",
        max_streams: int = 100_000,
    ) -> None:
        if isinstance(promote_resource_attributes, str):
            raise ConfigError("promote_resource_attributes must be a list of attribute names")
        if not all(promote_resource_attributes):
            raise ConfigError("promote_resource_attributes holds an empty attribute name")
        if delta not in ("convert", "refuse"):
            raise ConfigError(f"delta must be 'convert' or 'refuse', not {delta!r}")
        if max_streams < 0:
            raise ConfigError(f"max_streams must not be negative, not {max_streams}")
        self.promote_resource_attributes = frozenset(promote_resource_attributes)
        self.delta = delta
        self.max_streams = max_streams
        self._streams: dict[_StreamKey, _State] = {}
        self._lock = threading.Lock()

    def translate(self, request: ExportMetricsServiceRequest) -> TranslateResult:
        """The samples of ``request``, with its refused points counted and explained.

        Raises:
            PayloadError: the request is malformed; then nothing changes, not even the
                delta streams' state.
        """
        with self._lock:
            call = _Call(self)
            call.run(request)
            call.commit()
            return call.result()


class _Refused(Exception):
    """A metric or data point that is refused; the message says why."""


# Names repeat in every request; the caches are bounded so a flood of odd ones cannot grow them.
@lru_cache(maxsize=_MAX_CACHED_NAMES)
def _family_name(name: str, unit: str, kind: Kind) -> tuple[str, str]:
    """(the metric family name, "") or ("", why the metric is refused)."""
    try:
        return metric_name(name, unit, kind), ""
    except ValueError as exc:
        return "", f"{exc}; refused"


@lru_cache(maxsize=_MAX_CACHED_NAMES)
def _label(key: str) -> tuple[str, str]:
    """(the label name, "") or ("", why the point is refused)."""
    try:
        return label_name(key), ""
    except ValueError as exc:
        return "", f"{exc}; refused"


def _named(name_or_refusal: tuple[str, str]) -> str:
    name, refusal = name_or_refusal
    if refusal:
        raise _Refused(refusal)
    return name


def _with(labels: Labels, name: str, value: str) -> Labels:
    """``labels`` with ``name`` set to ``value``; cheaper than sorting a new set per series."""
    i = bisect_left(labels, name, key=itemgetter(0))
    end = i + 1 if i < len(labels) and labels[i][0] == name else i
    return (*labels[:i], (name, value), *labels[end:])


@dataclass(frozen=True, slots=True)
class _SumState:
    start: int
    time: int
    value: int | float


@dataclass(frozen=True, slots=True)
class _HistogramState:
    start: int
    time: int
    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    count: int
    total: float | None


_State: TypeAlias = _SumState | _HistogramState
_StreamKey: TypeAlias = tuple[str, Labels]


@dataclass(frozen=True, slots=True)
class _ResourceLabels:
    job: str
    instance: str
    promoted: tuple[tuple[str, str], ...]
    refusal: str  # why every point of the resource is refused, or ""


class _Call:
    """One ``translate`` call: its results, and delta state changes applied only at the end."""

    def __init__(self, translator: Translator) -> None:
        self._tr = translator
        self._samples: list[Sample] = []
        self._accepted = 0
        self._rejected = 0
        self._errors: dict[str, None] = {}
        self._changes: dict[_StreamKey, _State | None] = {}  # None: the stream ends
        self._streams = len(translator._streams)
        self._evicted = False
        self._target_info_seen: set[tuple[Labels, int]] = set()

    def result(self) -> TranslateResult:
        errors = list(self._errors)
        if len(errors) > _MAX_ERRORS:
            errors[_MAX_ERRORS:] = [f"... and {len(errors) - _MAX_ERRORS} more kinds of refusal"]
        return TranslateResult(self._samples, self._accepted, self._rejected, errors)

    def commit(self) -> None:
        streams = self._tr._streams
        for key, state in self._changes.items():
            if state is None:
                streams.pop(key, None)
            else:
                streams[key] = state

    def _refuse(self, points: int, message: str) -> None:
        self._rejected += points
        self._errors[message] = None

    def run(self, request: ExportMetricsServiceRequest) -> None:
        for r, resource_metrics in enumerate(request.resource_metrics):
            where = f"resource_metrics[{r}]"
            resource = self._resource(resource_metrics.resource, where)
            times: list[int] = []  # the earliest and latest point time, for target_info
            for s, scope_metrics in enumerate(resource_metrics.scope_metrics):
                for m, metric in enumerate(scope_metrics.metrics):
                    path = f"{where}.scope_metrics[{s}].metrics[{m}]"
                    self._metric(metric, path, resource, times)
            if times:
                self._target_info(resource_metrics.resource, resource, times[0], times[1])

    def _resource(self, resource: Resource, where: str) -> _ResourceLabels:
        _check_keys(resource.attributes, f"{where}.resource")
        first: dict[str, str] = {}
        for kv in resource.attributes:
            if kv.key in _IDENTIFYING and kv.key not in first:
                first[kv.key] = attribute_value(kv.value)
        job = first.get("service.name", "")
        if "service.name" in first and "service.namespace" in first:
            job = f"{first['service.namespace']}/{job}"
        instance = first.get("service.instance.id", "")
        promoted: dict[str, str] = {}
        for kv in resource.attributes:
            if kv.key in self._tr.promote_resource_attributes:
                try:
                    name = _named(_label(kv.key))
                except _Refused as exc:
                    return _ResourceLabels(job, instance, (), f"resource attribute: {exc}")
                # As in a Prometheus label builder: the last one wins, and "" removes the label.
                promoted[name] = attribute_value(kv.value)
        pairs = tuple((name, value) for name, value in promoted.items() if value)
        return _ResourceLabels(job, instance, pairs, "")

    def _metric(
        self, metric: metrics_pb2.Metric, where: str, resource: _ResourceLabels, times: list[int]
    ) -> None:
        name = metric.name
        if not name:
            raise PayloadError(f"{where}: the metric has no name")
        where = f"{where} {name!r}"
        data = metric.WhichOneof("data")
        if data is None:
            raise PayloadError(
                f"{where}: no data (gauge, sum, histogram, exponential_histogram or summary)"
            )
        body = getattr(metric, data)
        points = body.data_points
        _check_points(points, data, where, times)
        if not points:
            return
        refusal, delta = self._refusal(data, body, resource)
        try:
            if refusal:
                raise _Refused(refusal)
            family = _named(_family_name(name, metric.unit, _kind(data, body)))
        except _Refused as exc:
            self._refuse(len(points), f"metric {name!r}: {exc}")
            return
        for point in points:
            try:
                if data == "histogram":
                    samples = self._histogram(point, family, resource, delta)
                elif data == "summary":
                    samples = self._summary(point, family, resource)
                else:
                    samples = self._number(point, family, resource, delta)
            except _Refused as exc:
                self._refuse(1, f"metric {name!r}: {exc}")
                continue
            if point.flags & _NO_RECORDED_VALUE:
                samples = [(series, t, STALE) for series, t, _ in samples]
            self._samples += samples
            self._accepted += 1

    def _refusal(self, data: str, body: Any, resource: _ResourceLabels) -> tuple[str, bool]:
        """Why all points of a metric are refused (or ""), and whether it is a delta metric."""
        temporal = data in ("sum", "histogram")
        delta = temporal and body.aggregation_temporality == _DELTA
        if resource.refusal:
            return resource.refusal, delta
        if data == "exponential_histogram":
            return (
                "exponential histograms are not supported by the evaluator (Prometheus keeps "
                "them as native histograms); refused - record explicit bucket histograms"
            ), delta
        if delta and self._tr.delta == "refuse":
            return (
                "delta temporality refused (set delta to convert, or convert it upstream with "
                "the collector's deltatocumulative processor)"
            ), delta
        if temporal and not delta and body.aggregation_temporality != _CUMULATIVE:
            return "aggregation temporality is unspecified; refused", delta
        return "", delta

    def _labels(self, attributes: Iterable[KeyValue], resource: _ResourceLabels) -> dict[str, str]:
        """A point's labels without ``__name__`` (``createAttributes``)."""
        labels = self._merged(kv for kv in attributes if kv.key != "__name__")
        for name, value in resource.promoted:
            if not labels.get(name):
                labels[name] = value
        if resource.job:
            labels["job"] = resource.job
        if resource.instance:
            labels["instance"] = resource.instance
        return labels

    def _merged(self, attributes: Iterable[KeyValue]) -> dict[str, str]:
        """Attributes as labels; keys equal once sanitized join their values with ";"."""
        labels: dict[str, str] = {}
        for key, value in sorted(((kv.key, kv.value) for kv in attributes), key=itemgetter(0)):
            name = _named(_label(key))
            text = attribute_value(value)
            existing = labels.get(name)
            labels[name] = f"{existing};{text}" if existing else text
        return labels

    def _number(
        self,
        point: metrics_pb2.NumberDataPoint,
        family: str,
        resource: _ResourceLabels,
        delta: bool,
    ) -> list[Sample]:
        series = labels_from({**self._labels(point.attributes, resource), "__name__": family})
        double = point.WhichOneof("value") == "as_double"
        value = point.as_double if double else float(point.as_int)
        if delta:
            key = ("sum", series)
            if point.flags & _NO_RECORDED_VALUE:
                self._end_stream(key, point)
            else:
                value = self._add_sum(key, point)
        return [(series, point.time_unix_nano // 1_000_000, value)]

    def _histogram(
        self,
        point: metrics_pb2.HistogramDataPoint,
        family: str,
        resource: _ResourceLabels,
        delta: bool,
    ) -> list[Sample]:
        base = labels_from(self._labels(point.attributes, resource))
        state = _HistogramState(
            point.start_time_unix_nano,
            point.time_unix_nano,
            tuple(point.explicit_bounds),
            tuple(point.bucket_counts),
            point.count,
            point.sum if point.HasField("sum") else None,
        )
        if delta:
            key = ("histogram", _with(base, "__name__", family))
            if point.flags & _NO_RECORDED_VALUE:
                self._end_stream(key, point)
            else:
                state = self._add_histogram(key, state, point)
        t = point.time_unix_nano // 1_000_000
        samples = [(_with(base, "__name__", family + "_count"), t, float(state.count))]
        if state.total is not None:
            samples.append((_with(base, "__name__", family + "_sum"), t, state.total))
        buckets, cumulative = _with(base, "__name__", family + "_bucket"), 0
        for bound, count in zip(state.bounds, state.counts, strict=False):
            cumulative += count
            samples.append((_with(buckets, "le", format_float(bound)), t, float(cumulative)))
        samples.append((_with(buckets, "le", "+Inf"), t, float(state.count)))
        return samples

    def _summary(
        self, point: metrics_pb2.SummaryDataPoint, family: str, resource: _ResourceLabels
    ) -> list[Sample]:
        base = labels_from(self._labels(point.attributes, resource))
        t = point.time_unix_nano // 1_000_000
        samples = [
            (_with(base, "__name__", family + "_sum"), t, point.sum),
            (_with(base, "__name__", family + "_count"), t, float(point.count)),
        ]
        quantiles = _with(base, "__name__", family)
        for q in point.quantile_values:
            samples.append((_with(quantiles, "quantile", format_float(q.quantile)), t, q.value))
        return samples

    # Delta streams, as deltatocumulative keeps them (internal/delta, internal/data/add.go).

    def _stream(self, key: _StreamKey) -> _State | None:
        return self._changes[key] if key in self._changes else self._tr._streams.get(key)

    def _add_sum(self, key: _StreamKey, point: metrics_pb2.NumberDataPoint) -> float:
        which = point.WhichOneof("value")
        value: int | float = point.as_double if which == "as_double" else point.as_int
        state = self._stream(key)
        if state is not None:
            assert isinstance(state, _SumState)
            _check_order(state, point)
            value += state.value
        start = point.start_time_unix_nano if state is None else state.start
        self._store(key, _SumState(start, point.time_unix_nano, value), point.time_unix_nano)
        return float(value)

    def _add_histogram(
        self, key: _StreamKey, new: _HistogramState, point: metrics_pb2.HistogramDataPoint
    ) -> _HistogramState:
        state = self._stream(key)
        # New boundaries cannot be merged with the old ones: the stream restarts.
        if state is not None:
            assert isinstance(state, _HistogramState)
            _check_order(state, point)
            if state.bounds == new.bounds:
                counts = tuple(a + b for a, b in zip(state.counts, new.counts, strict=False))
                both = state.total is not None and new.total is not None
                new = _HistogramState(
                    state.start,
                    new.time,
                    new.bounds,
                    counts + state.counts[len(counts) :],
                    state.count + new.count,
                    (state.total or 0.0) + (new.total or 0.0) if both else None,
                )
        self._store(key, new, point.time_unix_nano)
        return new

    def _store(self, key: _StreamKey, state: _State, now: int) -> None:
        if self._stream(key) is None:
            if self._streams >= self._tr.max_streams and not self._evict(now):
                raise _Refused(
                    f"too many delta streams (max_streams={self._tr.max_streams}); refused"
                )
            self._streams += 1
        self._changes[key] = state

    def _end_stream(
        self, key: _StreamKey, point: metrics_pb2.NumberDataPoint | metrics_pb2.HistogramDataPoint
    ) -> None:
        """A point without a recorded value: the series goes stale and its stream is forgotten."""
        state = self._stream(key)
        if state is not None:
            _check_order(state, point)
            self._changes[key] = None
            self._streams -= 1

    def _evict(self, now: int) -> bool:
        """Forget streams without a point for 5 minutes to make room; tried once per request."""
        if self._evicted:
            return False
        self._evicted = True
        cutoff = now - _STREAM_MAX_STALE_NS
        for key, state in self._tr._streams.items():
            if key not in self._changes and state.time < cutoff:
                self._changes[key] = None
                self._streams -= 1
        return self._streams < self._tr.max_streams

    def _target_info(
        self, resource: Resource, labels_of: _ResourceLabels, earliest: int, latest: int
    ) -> None:
        """Prometheus' ``target_info``: the resource's other attributes, on job and instance."""
        attributes = [kv for kv in resource.attributes if kv.key not in _IDENTIFYING]
        if not attributes:
            return
        try:
            labels = self._merged(attributes)
        except _Refused as exc:
            self._errors[f"target_info: {exc}"] = None
            return
        if labels_of.job:
            labels["job"] = labels_of.job
        if labels_of.instance:
            labels["instance"] = labels_of.instance
        if not (labels.get("job") or labels.get("instance")):
            return
        labels["__name__"] = "target_info"
        series = labels_from(labels)
        for t in (*range(earliest, latest, _TARGET_INFO_STEP_NS), latest):
            key = (series, t // 1_000_000)
            if key not in self._target_info_seen:
                self._target_info_seen.add(key)
                self._samples.append((series, key[1], 1.0))


def _kind(data: str, body: Any) -> Kind:
    if data == "sum":
        return "counter" if body.is_monotonic else "updown"
    return "histogram" if data == "histogram" else "summary" if data == "summary" else "gauge"


def _check_order(
    state: _State, point: metrics_pb2.NumberDataPoint | metrics_pb2.HistogramDataPoint
) -> None:
    if point.start_time_unix_nano < state.start:
        raise _Refused(
            "delta point starts before its stream does; refused "
            "(are two processes sending the same series?)"
        )
    if point.time_unix_nano <= state.time:
        raise _Refused("delta point is not newer than its stream's last point; refused")


def _check_keys(attributes: Iterable[KeyValue], where: str) -> None:
    for i, kv in enumerate(attributes):
        if not kv.key:
            raise PayloadError(f"{where}.attributes[{i}]: the attribute key is empty")


def _check_points(points: Any, data: str, where: str, times: list[int]) -> None:
    """Reject malformed points, and widen ``times`` to [earliest, latest] of all of them."""
    for i, point in enumerate(points):
        at = f"{where}.data_points[{i}]"
        t = point.time_unix_nano
        if not t:
            raise PayloadError(f"{at}: time_unix_nano is missing")
        _check_keys(point.attributes, at)
        if times:
            times[0], times[1] = min(times[0], t), max(times[1], t)
        else:
            times += (t, t)
        stale = point.flags & _NO_RECORDED_VALUE
        if data in ("gauge", "sum") and not stale and point.WhichOneof("value") is None:
            raise PayloadError(f"{at}: no value (as_double or as_int)")
        if data == "histogram":
            bounds, counts = point.explicit_bounds, len(point.bucket_counts)
            if counts and counts != len(bounds) + 1:
                raise PayloadError(
                    f"{at}: {counts} bucket_counts for {len(bounds)} explicit_bounds "
                    f"(expected {len(bounds) + 1}, or none)"
                )
            if any(math.isnan(b) for b in bounds) or any(a >= b for a, b in pairwise(bounds)):
                raise PayloadError(f"{at}: explicit_bounds are not strictly increasing")
