"""Series, labels and the bounded sample store that the evaluator reads.

Times are integer milliseconds since the epoch and values are floats, as in Prometheus, so that
window bounds and rate extrapolation come out bit for bit the same.  A staleness marker is
Prometheus' own NaN bit pattern; it ends a series at once for instant selectors.
"""

from __future__ import annotations

import math
import re
import struct
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

__all__ = [
    "LOOKBACK_MS",
    "STALE",
    "Labels",
    "Matcher",
    "Series",
    "SeriesStore",
    "is_stale",
    "labels_from",
    "labels_to_dict",
    "metric_name",
]

#: A label set: (name, value) pairs sorted by name, no empty values.  Hashable and cheap.
Labels = tuple[tuple[str, str], ...]

#: Prometheus' default lookback delta for instant selectors (semantic 11).
LOOKBACK_MS = 5 * 60 * 1000

_STALE_BITS = 0x7FF0000000000002
#: The staleness marker (Prometheus' StaleNaN).
STALE: float = struct.unpack("<d", struct.pack("<Q", _STALE_BITS))[0]


def is_stale(value: float) -> bool:
    """Whether ``value`` is the staleness marker (not just any NaN)."""
    return math.isnan(value) and struct.pack("<d", value) == struct.pack("<Q", _STALE_BITS)


def labels_from(mapping: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """A sorted label set; empty values are dropped, as Prometheus drops them."""
    items = mapping.items() if isinstance(mapping, Mapping) else mapping
    return tuple(sorted((k, v) for k, v in items if v != ""))


def labels_to_dict(labels: Labels) -> dict[str, str]:
    return dict(labels)


def metric_name(labels: Labels) -> str:
    for key, value in labels:
        if key == "__name__":
            return value
    return ""


@dataclass(frozen=True)
class Matcher:
    """A label matcher: ``op`` is one of ``=``, ``!=``, ``=~``, ``!~``.

    Regular expressions are fully anchored, as in Prometheus.  A missing label matches as "".
    """

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            object.__setattr__(self, "_regex", re.compile(self.value, re.DOTALL))
        elif self.op not in ("=", "!="):
            raise ValueError(f"unknown matcher operator {self.op!r}")

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(value) is not None
        return found if self.op == "=~" else not found


class Series:
    """One series' samples in time order (staleness markers included)."""

    __slots__ = ("labels", "times", "values")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.times: list[int] = []
        self.values: list[float] = []

    def at(self, t: int, lookback: int = LOOKBACK_MS) -> float | None:
        """The newest value in ``[t - lookback, t]`` (2.x bounds); None if none, or stale."""
        i = bisect_right(self.times, t) - 1
        if i < 0 or self.times[i] < t - lookback:
            return None
        value = self.values[i]
        return None if is_stale(value) else value

    def sample_at(self, t: int, lookback: int = LOOKBACK_MS) -> tuple[int, float] | None:
        """Like :meth:`at`, with the sample's own timestamp."""
        i = bisect_right(self.times, t) - 1
        if i < 0 or self.times[i] < t - lookback:
            return None
        value = self.values[i]
        return None if is_stale(value) else (self.times[i], value)

    def window(self, start: int, end: int) -> tuple[list[int], list[float]]:
        """Samples with ``start <= t <= end`` (Prometheus 2.x bounds), without staleness markers."""
        lo = bisect_left(self.times, start)
        hi = bisect_right(self.times, end)
        times: list[int] = []
        values: list[float] = []
        for t, v in zip(self.times[lo:hi], self.values[lo:hi], strict=True):
            if not is_stale(v):
                times.append(t)
                values.append(v)
        return times, values


class SeriesStore:
    """Samples by series, kept only as long as the rules' windows need them.

    Memory is bounded by ``max_series`` x the samples in ``retention_ms``; a sample that
    would exceed the series limit, or arrives out of order, is dropped and counted.
    """

    def __init__(self, *, retention_ms: int = LOOKBACK_MS, max_series: int = 1_000_000) -> None:
        self.retention_ms = retention_ms
        self.max_series = max_series
        self._by_name: dict[str, dict[Labels, Series]] = {}
        self._count = 0
        self.dropped_out_of_order = 0
        self.dropped_series_limit = 0

    def __len__(self) -> int:
        return self._count

    def append(self, labels: Labels, t: int, value: float) -> bool:
        """Add one sample; returns False if it was dropped (out of order or over the series limit).

        A sample at the same timestamp as the newest one replaces it, so that a re-sent
        cumulative point or a staleness marker after a value at the same time wins.
        """
        name = metric_name(labels)
        by_labels = self._by_name.get(name)
        if by_labels is None:
            by_labels = self._by_name[name] = {}
        series = by_labels.get(labels)
        if series is None:
            if self._count >= self.max_series:
                self.dropped_series_limit += 1
                return False
            series = by_labels[labels] = Series(labels)
            self._count += 1
        times = series.times
        if times and t <= times[-1]:
            if t == times[-1]:
                series.values[-1] = value
                return True
            self.dropped_out_of_order += 1
            return False
        times.append(t)
        series.values.append(value)
        return True

    def series(self, matchers: Iterable[Matcher]) -> Iterator[Series]:
        """The series whose labels satisfy every matcher."""
        matchers = list(matchers)
        name_eq = [m.value for m in matchers if m.name == "__name__" and m.op == "="]
        names = name_eq[:1] if name_eq else list(self._by_name)
        for name in names:
            by_labels = self._by_name.get(name)
            if not by_labels:
                continue
            for series in list(by_labels.values()):
                values = dict(series.labels)
                if all(m.matches(values.get(m.name, "")) for m in matchers):
                    yield series

    def all_series(self) -> Iterator[Series]:
        for by_labels in list(self._by_name.values()):
            yield from list(by_labels.values())

    def trim(self, now: int) -> None:
        """Forget samples older than ``now - retention_ms``, and series left with none.

        The newest sample of a series is kept while it is within the lookback of ``now``
        so that an instant selector still sees a series that stopped (semantic 11).
        """
        cutoff = now - self.retention_ms
        for name, by_labels in list(self._by_name.items()):
            for labels, series in list(by_labels.items()):
                times = series.times
                if not times or times[0] >= cutoff:
                    continue
                i = bisect_left(times, cutoff)
                if i >= len(times):
                    del by_labels[labels]
                    self._count -= 1
                    continue
                del times[:i]
                del series.values[:i]
            if not by_labels:
                del self._by_name[name]
