"""Metric series over a time window, histogram sums, and quantiles estimated from buckets.

A cumulative series (OTLP's default, and what tradetel writes) is identified by its resource,
attributes and start time; each export repeats its total so far. Its value over a window is
its latest point in the window less its latest point before it, or the latest point alone
when the series started inside the window (or none was asked for). Delta points are summed;
a gauge's value is its latest point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["Histogram", "Series", "Value", "bucket_quantile", "merge"]


@dataclass(frozen=True, slots=True)
class Histogram:
    """An explicit-bucket histogram point: ``counts`` has one more bucket than ``bounds``
    (the last is +Inf). ``max_exact`` is False where a window left an upper bound only."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    count: int
    sum: float
    max: float | None
    max_exact: bool = True

    def minus(self, base: Histogram) -> Histogram:
        """What was recorded after ``base``, an earlier point of the same series."""
        if base.bounds != self.bounds or len(base.counts) != len(self.counts):
            return self  # not the same series after all: the later point is all we know
        counts = tuple(a - b for a, b in zip(self.counts, base.counts, strict=True))
        if any(c < 0 for c in counts) or self.count < base.count:
            return self
        count = self.count - base.count
        if self.max is not None and (base.max is None or self.max > base.max):
            top, exact = self.max, True  # the maximum grew, so it was reached in the window
        elif count == 0:
            top, exact = None, True
        else:
            # The running maximum predates the window; the highest bucket used in the window
            # bounds the window's own maximum from above.
            highest = max(i for i, c in enumerate(counts) if c)
            upper = self.bounds[highest] if highest < len(self.bounds) else math.inf
            top = min(upper, self.max) if self.max is not None else upper
            top, exact = (top if math.isfinite(top) else None), False
        return Histogram(self.bounds, counts, count, self.sum - base.sum, top, exact)

    def plus(self, other: Histogram) -> Histogram:
        """The sum of two histograms with the same bucket boundaries."""
        counts = tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        tops = [(h.max, h.max_exact) for h in (self, other) if h.max is not None]
        top, exact = max(tops, key=lambda t: t[0]) if tops else (None, True)
        return Histogram(
            self.bounds, counts, self.count + other.count, self.sum + other.sum, top, exact
        )

    def quantile(self, q: float) -> float | None:
        return bucket_quantile(q, self.bounds, self.counts)


Value: TypeAlias = "float | Histogram"


class Series:
    """One metric series: its latest point before the window and its latest point in it."""

    __slots__ = (
        "attributes",
        "base",
        "cumulative",
        "delta_sum",
        "kind",
        "last",
        "monotonic",
        "name",
        "resource",
        "start",
    )

    def __init__(
        self,
        name: str,
        kind: str,
        cumulative: bool,
        monotonic: bool,
        resource: tuple[Any, ...],
        attributes: dict[str, str],
        start: int,
    ) -> None:
        self.name = name
        self.kind = kind  # gauge, sum or histogram
        self.cumulative = cumulative
        self.monotonic = monotonic
        self.resource = resource
        self.attributes = attributes
        self.start = start
        self.base: tuple[int, Value] | None = None
        self.last: tuple[int, Value] | None = None
        self.delta_sum: Value | None = None

    def add(self, ns: int, value: Value, since: int | None, until: int | None) -> None:
        """Take one point, read in any order (the latest by time wins)."""
        if until is not None and ns > until:
            return
        before = since is not None and ns < since
        if self.cumulative:
            if before:
                if self.base is None or ns >= self.base[0]:
                    self.base = (ns, value)
            elif self.last is None or ns >= self.last[0]:
                self.last = (ns, value)
            return
        if before:
            return
        if self.kind == "gauge":
            if self.last is None or ns >= self.last[0]:
                self.last = (ns, value)
            return
        # Delta temporality: every point in the window adds to the total.
        self.delta_sum = value if self.delta_sum is None else _add(self.delta_sum, value)
        if self.last is None or ns >= self.last[0]:
            self.last = (ns, value)

    @property
    def time(self) -> int:
        """The time of the latest point in the window (0 when none)."""
        return self.last[0] if self.last is not None else 0

    def total(self) -> Value | None:
        """The series' value over the window; None when it has no point in it."""
        if self.last is None:
            return None
        if not self.cumulative and self.kind != "gauge":
            return self.delta_sum
        value = self.last[1]
        if not (self.cumulative and self.monotonic) or self.base is None:
            return value
        base = self.base[1]
        if isinstance(value, Histogram) and isinstance(base, Histogram):
            return value.minus(base)
        if isinstance(value, float) and isinstance(base, float) and value >= base:
            return value - base
        return value


def _add(a: Value, b: Value) -> Value:
    if isinstance(a, Histogram) and isinstance(b, Histogram):
        same = a.bounds == b.bounds and len(a.counts) == len(b.counts)
        return a.plus(b) if same else b
    if isinstance(a, float) and isinstance(b, float):
        return a + b
    return b


def merge(histograms: Iterable[Histogram]) -> list[Histogram]:
    """Sum histograms whose bucket boundaries match: one result per set of boundaries."""
    merged: dict[tuple[float, ...], Histogram] = {}
    for histogram in histograms:
        if len(histogram.counts) != len(histogram.bounds) + 1:
            continue  # not a valid explicit-bucket point: nothing to estimate from
        found = merged.get(histogram.bounds)
        merged[histogram.bounds] = histogram if found is None else found.plus(histogram)
    return list(merged.values())


def bucket_quantile(q: float, bounds: Sequence[float], counts: Sequence[int]) -> float | None:
    """The ``q`` quantile estimated from bucket counts, as Prometheus' ``histogram_quantile``.

    The Grafana dashboards show ``histogram_quantile`` over these histograms, so the report
    estimates the same way and its numbers agree with theirs: find the bucket holding the
    rank ``q * count`` and interpolate linearly between its lower and upper boundary (the
    first bucket's lower boundary is 0 unless its upper one is not positive, then that upper
    one is the answer). A rank in the +Inf bucket gives the highest finite boundary. The
    estimate can therefore exceed the exact maximum, or fall below it. None without data.
    """
    if not 0.0 <= q <= 1.0 or len(counts) != len(bounds) + 1 or not bounds:
        return None
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    cumulative = 0
    for index, count in enumerate(counts[:-1]):  # the +Inf bucket is never interpolated
        if cumulative + count >= rank:
            upper = bounds[index]
            if index == 0:
                if upper <= 0:
                    return upper
                lower = 0.0
            else:
                lower = bounds[index - 1]
            if count == 0:  # only a rank of 0 lands in an empty bucket
                return lower
            return lower + (upper - lower) * (rank - cumulative) / count
        cumulative += count
    return bounds[-1]
