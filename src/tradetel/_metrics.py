"""tradetel's own metric instruments: cheap to record, exported through the OTel SDK readers.

The OTel SDK's ``Histogram.record`` costs several microseconds a call (a Measurement object,
the context, the attribute set hashed into a frozenset, an exemplar reservoir). Trading code
records on every order, so tradetel keeps its aggregations itself, in the manner of
prometheus/client_python: an instrument hands out a *series* bound to one attribute set once,
and recording into it is a bisect and a few additions under a lock. At collection time the
series become ordinary OTel data points, merged into what every metric reader collects.

All aggregations are cumulative since the series was created.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from opentelemetry.util.types import AttributeValue

from ._internal import report_internal_error

if TYPE_CHECKING:  # the SDK's point types are needed at collection time only
    from opentelemetry.sdk.metrics.export import HistogramDataPoint, Metric, NumberDataPoint

Attributes = Mapping[str, AttributeValue]

#: Something that observes state at collection time: ``source(now_ns)`` -> finished metrics.
Source = Callable[[int], "Iterable[Metric]"]

#: Series one instrument may hold; past it, new attribute sets share one overflow series
#: marked ``otel.metric.overflow`` (the OTel SDK's convention), so memory stays bounded.
MAX_SERIES = 2000
_OVERFLOW: dict[str, AttributeValue] = {"otel.metric.overflow": True}
_OVERFLOW_KEY = frozenset(_OVERFLOW.items())


#: Values a histogram series holds before folding them into its buckets.
FOLD_AT = 1024


class HistogramSeries:
    """One attribute set of a histogram.

    Recording appends the value to a deque (one atomic operation under the GIL); the values
    are folded into the buckets in batches, under the lock, every ``FOLD_AT`` values and at
    collection. The bisect and the lock are paid once a batch instead of once a call, and
    memory stays bounded.
    """

    __slots__ = (
        "attributes",
        "bounds",
        "count",
        "counts",
        "exemplars",
        "lock",
        "max",
        "min",
        "pending",
        "sum",
    )

    def __init__(self, attributes: Attributes, bounds: Sequence[float]) -> None:
        self.attributes = dict(attributes)
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.exemplars: list[tuple[float, int, int, int] | None] = [None] * (len(bounds) + 1)
        self.count = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")
        self.lock = threading.Lock()
        self.pending: deque[float] = deque()

    def record(self, value: float) -> None:
        pending = self.pending
        pending.append(value)
        if len(pending) >= FOLD_AT:
            self.fold()

    def fold(self) -> None:
        """Move the pending values into the buckets (values recorded meanwhile wait)."""
        pending, counts, bounds = self.pending, self.counts, self.bounds
        with self.lock:
            n, total, lo, hi = 0, 0.0, self.min, self.max
            while True:
                try:
                    value = pending.popleft()
                except IndexError:
                    break
                counts[bisect_left(bounds, value)] += 1
                n += 1
                total += value
                if value < lo:
                    lo = value
                if value > hi:
                    hi = value
            self.count += n
            self.sum += total
            self.min, self.max = lo, hi

    def record_exemplar(self, value: float, trace_id: int, span_id: int) -> None:
        """Record a value measured inside a sampled span, keeping it as the bucket's exemplar."""
        self.record(value)
        # A plain store: the newest exemplar of a bucket wins, a race only picks which one.
        self.exemplars[bisect_left(self.bounds, value)] = (value, time.time_ns(), trace_id, span_id)

    def point(self, start_ns: int, now_ns: int) -> HistogramDataPoint:
        from opentelemetry.sdk.metrics._internal.exemplar import Exemplar
        from opentelemetry.sdk.metrics.export import HistogramDataPoint

        self.fold()
        with self.lock:
            counts = list(self.counts)
            count, total, lo, hi = self.count, self.sum, self.min, self.max
            kept = [e for e in self.exemplars if e is not None]
        return HistogramDataPoint(
            attributes=self.attributes,
            start_time_unix_nano=start_ns,
            time_unix_nano=now_ns,
            count=count,
            sum=total,
            bucket_counts=counts,
            explicit_bounds=list(self.bounds),
            min=lo if count else 0.0,
            max=hi if count else 0.0,
            exemplars=[
                Exemplar({}, value, ts, span_id=span_id, trace_id=trace_id)
                for value, ts, trace_id, span_id in kept
            ],
        )


class NumberSeries:
    """One attribute set of a counter, an up-down counter or a gauge."""

    __slots__ = ("attributes", "lock", "value")

    def __init__(self, attributes: Attributes) -> None:
        self.attributes = dict(attributes)
        self.value: float = 0
        self.lock = threading.Lock()

    def add(self, amount: float) -> None:
        with self.lock:
            self.value += amount

    def set(self, value: float) -> None:
        self.value = value  # a single store: atomic under the GIL, no lock needed

    def point(self, start_ns: int, now_ns: int) -> NumberDataPoint:
        from opentelemetry.sdk.metrics.export import NumberDataPoint

        return NumberDataPoint(self.attributes, start_ns, now_ns, self.value)


S = TypeVar("S", HistogramSeries, NumberSeries)


class Instrument(Generic[S]):
    """A named instrument: the series of each attribute set, created on first use."""

    kind = "instrument"

    def __init__(self, name: str, unit: str, description: str) -> None:
        self.name = name
        self.unit = unit
        self.description = description
        self._series: dict[frozenset[tuple[str, AttributeValue]], S] = {}
        self._lock = threading.Lock()
        self.start_ns = time.time_ns()

    def _new(self, attributes: Attributes) -> S:
        raise NotImplementedError

    def series(self, attributes: Attributes) -> S:
        """The series of one attribute set, created on first use (then cache it)."""
        key = frozenset(attributes.items())
        series = self._series.get(key)
        if series is not None:
            return series
        with self._lock:
            series = self._series.get(key)
            if series is None:
                if len(self._series) >= MAX_SERIES:
                    key, attributes = _OVERFLOW_KEY, _OVERFLOW
                    series = self._series.get(key)
                if series is None:
                    series = self._series[key] = self._new(attributes)
        return series

    def all_series(self) -> list[S]:
        with self._lock:
            return list(self._series.values())

    def to_metric(self, now_ns: int) -> Metric | None:
        raise NotImplementedError


class HistogramInstrument(Instrument[HistogramSeries]):
    kind = "histogram"

    def __init__(self, name: str, unit: str, description: str, bounds: Sequence[float]) -> None:
        super().__init__(name, unit, description)
        self.bounds = tuple(float(b) for b in bounds)

    def _new(self, attributes: Attributes) -> HistogramSeries:
        return HistogramSeries(attributes, self.bounds)

    def to_metric(self, now_ns: int) -> Metric | None:
        from opentelemetry.sdk.metrics.export import AggregationTemporality, Histogram, Metric

        points = [s.point(self.start_ns, now_ns) for s in self.all_series()]
        if not points:
            return None
        data = Histogram(points, AggregationTemporality.CUMULATIVE)
        return Metric(self.name, self.description, self.unit, data)


class NumberInstrument(Instrument[NumberSeries]):
    """A counter (monotonic sum), an up-down counter (non-monotonic sum) or a gauge."""

    def __init__(self, name: str, unit: str, description: str, kind: str) -> None:
        super().__init__(name, unit, description)
        self.kind = kind

    def _new(self, attributes: Attributes) -> NumberSeries:
        return NumberSeries(attributes)

    def add(self, amount: float, attributes: Attributes) -> None:
        self.series(attributes).add(amount)

    def set(self, value: float, attributes: Attributes) -> None:
        self.series(attributes).set(value)

    def to_metric(self, now_ns: int) -> Metric | None:
        from opentelemetry.sdk.metrics.export import AggregationTemporality, Gauge, Metric, Sum

        points = [s.point(self.start_ns, now_ns) for s in self.all_series()]
        if not points:
            return None
        if self.kind == "gauge":
            return Metric(self.name, self.description, self.unit, Gauge(points))
        monotonic = self.kind == "counter"
        data = Sum(points, AggregationTemporality.CUMULATIVE, is_monotonic=monotonic)
        return Metric(self.name, self.description, self.unit, data)


class Registry:
    """The instruments of one tradetel configuration, by name, and its observed sources."""

    def __init__(self) -> None:
        self._instruments: dict[str, Instrument[Any]] = {}
        self._lock = threading.Lock()
        #: Sources observed only by this configuration (system metrics).
        self.sources: list[Source] = []

    def _register(self, instrument: Instrument[Any]) -> Instrument[Any]:
        with self._lock:
            existing = self._instruments.get(instrument.name)
            if existing is not None:
                if existing.kind != instrument.kind or existing.unit != instrument.unit:
                    raise ValueError(
                        f"metric {instrument.name!r} already exists as a {existing.kind} "
                        f"with unit {existing.unit!r}"
                    )
                return existing
            self._instruments[instrument.name] = instrument
            return instrument

    def histogram(
        self, name: str, unit: str, description: str, bounds: Sequence[float]
    ) -> HistogramInstrument:
        inst = self._register(HistogramInstrument(name, unit, description, bounds))
        assert isinstance(inst, HistogramInstrument)
        return inst

    def counter(self, name: str, unit: str, description: str) -> NumberInstrument:
        return self._number(name, unit, description, "counter")

    def up_down_counter(self, name: str, unit: str, description: str) -> NumberInstrument:
        return self._number(name, unit, description, "up_down_counter")

    def gauge(self, name: str, unit: str, description: str) -> NumberInstrument:
        return self._number(name, unit, description, "gauge")

    def _number(self, name: str, unit: str, description: str, kind: str) -> NumberInstrument:
        inst = self._register(NumberInstrument(name, unit, description, kind))
        assert isinstance(inst, NumberInstrument)
        return inst

    def collect(self) -> list[Metric]:
        now = time.time_ns()
        with self._lock:
            instruments = list(self._instruments.values())
        found = [m for m in (i.to_metric(now) for i in instruments) if m is not None]
        for source in [*self.sources, *SOURCES]:
            try:
                found.extend(source(now))
            except Exception as exc:  # one broken source must not cost the others
                report_internal_error("metric source", exc)
        return found


#: Process-wide sources, observed by whichever configuration is live: the order trackers,
#: performance trackers and health checks keep their state across configure() calls.
SOURCES: list[Source] = []


def add_source(source: Source) -> None:
    """Observe ``source`` at every collection of every configuration."""
    if source not in SOURCES:
        SOURCES.append(source)


class Bound:
    """A metric that tradetel code records into: its series cached per configuration.

    ``keys`` are the attribute keys; a series is asked for by the tuple of their values
    (``None`` leaves the attribute out), which is cheaper to hash than an attribute dict.
    """

    __slots__ = ("_binding", "bounds", "description", "keys", "kind", "name", "unit")

    def __init__(
        self,
        kind: str,
        name: str,
        unit: str,
        description: str,
        keys: Sequence[str],
        bounds: Sequence[float] = (),
    ) -> None:
        self.kind, self.name, self.unit, self.description = kind, name, unit, description
        self.keys = tuple(keys)
        self.bounds = tuple(bounds)
        self._binding: tuple[Registry, dict[Any, Any]] | None = None

    def _instrument(self, registry: Registry) -> Instrument[Any]:
        if self.kind == "histogram":
            return registry.histogram(self.name, self.unit, self.description, self.bounds)
        return registry._number(self.name, self.unit, self.description, self.kind)

    def series(self, registry: Registry, values: tuple[Any, ...]) -> Any:
        """The series for attribute ``values`` (in ``keys`` order) in ``registry``."""
        binding = self._binding
        if binding is None or binding[0] is not registry:  # first use, or configure() again
            binding = self._binding = (registry, {})
        cache = binding[1]
        series = cache.get(values)
        if series is None:
            attributes = {k: v for k, v in zip(self.keys, values, strict=True) if v is not None}
            series = self._instrument(registry).series(attributes)
            if len(cache) < MAX_SERIES:
                cache[values] = series
        return series


def gauge_metric(
    name: str,
    unit: str,
    description: str,
    points: Iterable[tuple[Attributes, float]],
    now_ns: int,
) -> Metric | None:
    """An observed gauge: one point per attribute set; None when there is nothing to report."""
    from opentelemetry.sdk.metrics.export import Gauge, Metric, NumberDataPoint

    data = [NumberDataPoint(dict(a), now_ns, now_ns, v) for a, v in points]
    return Metric(name, description, unit, Gauge(data)) if data else None


def sum_metric(
    name: str,
    unit: str,
    description: str,
    points: Iterable[tuple[Attributes, float, int]],
    now_ns: int,
    *,
    monotonic: bool,
) -> Metric | None:
    """An observed cumulative sum (a counter, or an up-down counter when not monotonic).

    ``points`` are ``(attributes, value, start_ns)``: each series counts from its own start.
    """
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Metric,
        NumberDataPoint,
        Sum,
    )

    data = [NumberDataPoint(dict(a), start, now_ns, v) for a, v, start in points]
    if not data:
        return None
    return Metric(name, description, unit, Sum(data, AggregationTemporality.CUMULATIVE, monotonic))
