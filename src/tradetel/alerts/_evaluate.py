"""Instant evaluation of a parsed query against the sample store, as Prometheus 2.42 does it.

One evaluation is one Prometheus instant query: every node is computed at the same time
``t``, and the checks Prometheus makes after each step are made after each node (no result
may hold two samples with the same label set).  Series are read in label order, so results
do not depend on the order in which series reached the store.  Evaluation only reads the
store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from . import _functions as fn
from ._promql import (
    RANGE_FUNCTIONS,
    AggregateNode,
    BinaryNode,
    CallNode,
    InstantSelector,
    LabelReplaceNode,
    Negation,
    Node,
    NumberNode,
    Query,
    QueryError,
    RangeSelector,
)
from ._promql_ops import (
    Sample,
    Vector,
    aggregate,
    binary_scalars,
    binary_vector_scalar,
    binary_vectors,
    check_unique,
    drop_name,
)
from ._series import LOOKBACK_MS, Labels, Matcher, Series, SeriesStore, labels_from

__all__ = ["Sample", "Vector", "evaluate"]

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def evaluate(query: Query, t_ms: int, store: SeriesStore) -> Vector | float | str:
    """Evaluate ``query`` at ``t_ms``: an instant vector or a scalar.

    Raises:
        QueryError: where Prometheus' evaluation fails too (duplicate label sets, ambiguous
            vector matching, ...) and for a range vector as the result.
    """
    plan = query.plan
    assert plan is not None  # Query builds it
    try:
        return _Evaluator(t_ms, store).eval(plan)
    except RecursionError:
        raise QueryError(f"expression nested too deeply: {query.text[:80]!r}...") from None


class _Window(NamedTuple):
    """One series' samples in a range selector's window, and what the kernels need."""

    times: list[int]
    values: list[float]
    start: int
    end: int
    range_ms: int
    q: float  # quantile_over_time's parameter


def _rate(is_counter: bool, is_rate: bool) -> Callable[[_Window], float | None]:
    return lambda w: fn.extrapolated_rate(
        w.times, w.values, w.start, w.end, w.range_ms, is_counter=is_counter, is_rate=is_rate
    )


_RANGE_KERNELS: dict[str, Callable[[_Window], float | None]] = {
    "rate": _rate(is_counter=True, is_rate=True),
    "increase": _rate(is_counter=True, is_rate=False),
    "delta": _rate(is_counter=False, is_rate=False),
    "irate": lambda w: fn.instant_rate(w.times, w.values),
    "deriv": lambda w: fn.deriv(w.times, w.values),
    "changes": lambda w: fn.changes(w.values),
    "resets": lambda w: fn.resets(w.values),
    "avg_over_time": lambda w: fn.avg_over_time(w.values),
    "sum_over_time": lambda w: fn.sum_over_time(w.values),
    "min_over_time": lambda w: fn.min_over_time(w.values),
    "max_over_time": lambda w: fn.max_over_time(w.values),
    "stddev_over_time": lambda w: fn.stddev_over_time(w.values),
    "quantile_over_time": lambda w: fn.quantile(w.q, w.values),
    "count_over_time": lambda w: float(len(w.values)),
    "last_over_time": lambda w: w.values[-1],
    "absent_over_time": lambda w: 1.0,
}
assert set(_RANGE_KERNELS) == RANGE_FUNCTIONS

_ELEMENTWISE: dict[str, Callable[[float, float], float]] = {
    "abs": lambda v, _: abs(v),
    "clamp_min": lambda v, bound: fn.go_max(bound, v),
    "clamp_max": lambda v, bound: fn.go_min(bound, v),
    "round": fn.round_to,
}


class _Evaluator:
    def __init__(self, t_ms: int, store: SeriesStore) -> None:
        self.t = t_ms
        self.store = store

    def eval(self, node: Node) -> Vector | float:  # noqa: PLR0911 - one branch per node type
        if isinstance(node, InstantSelector):
            return [Sample(labels, v) for labels, _, v in self._select(node)]
        if isinstance(node, NumberNode):
            return node.value
        if isinstance(node, Negation):
            value = self.eval(node.expr)
            if isinstance(value, float):
                return -value
            return check_unique([Sample(drop_name(s.labels), -s.value) for s in value])
        if isinstance(node, BinaryNode):
            return self._binary(node)
        if isinstance(node, AggregateNode):
            param = self._scalar(node.param) if node.param is not None else 0.0
            return aggregate(node, param, self._vector(node.expr))
        if isinstance(node, LabelReplaceNode):
            return self._label_replace(node)
        if isinstance(node, CallNode):
            if node.name in RANGE_FUNCTIONS:
                return self._range_function(node)
            return self._instant_function(node)
        assert isinstance(node, RangeSelector)
        raise QueryError(
            "rule result is not a vector or scalar: a range vector cannot be the result of "
            "a rule or an instant query"
        )

    def _vector(self, node: Node) -> Vector:
        value = self.eval(node)
        assert isinstance(value, list)  # the parser checked the argument types
        return value

    def _scalar(self, node: Node) -> float:
        value = self.eval(node)
        assert isinstance(value, float)
        return value

    def _series(self, matchers: Sequence[Matcher]) -> list[Series]:
        return sorted(self.store.series(matchers), key=lambda s: s.labels)

    def _select(self, node: InstantSelector) -> list[tuple[Labels, int, float]]:
        """The selector's samples at t, with their own timestamps: the newest in the lookback."""
        ref = self.t - node.offset_ms
        out = []
        for series in self._series(node.matchers):
            found = series.sample_at(ref, LOOKBACK_MS)
            if found is not None:
                out.append((series.labels, found[0], found[1]))
        return out

    def _binary(self, node: BinaryNode) -> Vector | float:
        lhs = self.eval(node.lhs)  # left before right, as Prometheus (it decides which error)
        rhs = self.eval(node.rhs)
        if isinstance(lhs, float):
            if isinstance(rhs, float):
                return binary_scalars(node.op, lhs, rhs)
            return binary_vector_scalar(node, rhs, lhs, swap=True)
        if isinstance(rhs, float):
            return binary_vector_scalar(node, lhs, rhs, swap=False)
        return binary_vectors(node, lhs, rhs)

    def _range_function(self, node: CallNode) -> Vector:
        q = self._scalar(node.args[0]) if node.name == "quantile_over_time" else 0.0
        ranged = node.args[-1]
        assert isinstance(ranged, RangeSelector)
        selector = ranged.selector
        end = self.t - selector.offset_ms
        start = end - ranged.range_ms
        kernel = _RANGE_KERNELS[node.name]
        out = []
        for series in self._series(selector.matchers):
            times, values = series.window(start, end)
            if not times:
                continue
            value = kernel(_Window(times, values, start, end, ranged.range_ms, q))
            if value is None:
                continue
            # last_over_time acts like an offset and keeps the metric name; the others drop it
            labels = series.labels if node.name == "last_over_time" else drop_name(series.labels)
            out.append(Sample(labels, value))
        if node.name == "absent_over_time":
            return [] if out else [Sample(selector.absent_labels, 1.0)]
        return check_unique(out)

    def _instant_function(self, node: CallNode) -> Vector | float:  # noqa: PLR0911 - dispatch
        name, args = node.name, node.args
        if name == "time":
            return float(self.t) / 1000
        if name == "vector":
            return [Sample((), self._scalar(args[0]))]
        if name == "timestamp":
            return check_unique(self._timestamp(args[0]))
        if name == "histogram_quantile":
            q = self._scalar(args[0])
            return check_unique(_histogram_quantile(q, self._vector(args[1])))
        vector = self._vector(args[0])
        if name == "scalar":
            return vector[0].value if len(vector) == 1 else math.nan
        if name == "absent":
            arg = args[0]
            labels = arg.absent_labels if isinstance(arg, InstantSelector) else ()
            return [] if vector else [Sample(labels, 1.0)]
        operation = _ELEMENTWISE[name]
        bound = self._scalar(args[1]) if len(args) > 1 else 1.0  # round's default to_nearest
        return check_unique(
            [Sample(drop_name(s.labels), operation(s.value, bound)) for s in vector]
        )

    def _timestamp(self, arg: Node) -> Vector:
        if isinstance(arg, InstantSelector):
            # a selector's samples keep their own time; anything else is stamped with t
            return [
                Sample(drop_name(labels), float(t) / 1000) for labels, t, _ in self._select(arg)
            ]
        now = float(self.t) / 1000
        return [Sample(drop_name(s.labels), now) for s in self._vector(arg)]

    def _label_replace(self, node: LabelReplaceNode) -> Vector:
        vector = self._vector(node.expr)
        if node.regex is None:
            raise QueryError(f"invalid regular expression in label_replace(): {node.regex_source}")
        if not _LABEL_NAME.fullmatch(node.dst):
            raise QueryError(f"invalid destination label name in label_replace(): {node.dst}")
        out = []
        for sample in vector:
            values = dict(sample.labels)
            match = node.regex.pattern.fullmatch(values.get(node.src, ""))
            if match is None:  # no match: the sample keeps its labels
                out.append(sample)
                continue
            values.pop(node.dst, None)
            result = node.regex.expand(node.replacement, match)
            if result:  # an empty result removes the label
                values[node.dst] = result
            out.append(Sample(labels_from(values), sample.value))
        return check_unique(out)


def _histogram_quantile(q: float, vector: Vector) -> Vector:
    """Classic buckets grouped by their labels without ``le`` and the metric name."""
    groups: dict[Labels, list[tuple[float, float]]] = {}
    for sample in vector:
        bound = fn.parse_go_float(dict(sample.labels).get("le", ""))
        if bound is None:  # no le label, or not a number: Prometheus skips the sample
            continue
        key = tuple(p for p in sample.labels if p[0] not in ("le", "__name__"))
        groups.setdefault(key, []).append((bound, sample.value))
    return [Sample(key, fn.bucket_quantile(q, buckets)) for key, buckets in groups.items()]
