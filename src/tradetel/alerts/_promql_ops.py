"""PromQL's operators and aggregations on instant vectors, as Prometheus 2.42 applies them.

Binary operators follow 2.42's ``VectorBinop``/``VectorscalarBinop``/set operators: the
match signature, which side is the "one" side, which labels the result keeps, and the
errors for ambiguous matches.  Aggregations follow 2.42's ``evaluator.aggregation``
including its incremental ``avg`` and the heap that ``topk``/``bottomk`` keep, so that ties
between equal values resolve to the same series as in Prometheus.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import NamedTuple

from . import _functions as fn
from ._promql import COMPARISONS, SET_OPERATORS, AggregateNode, BinaryNode, QueryError
from ._series import Labels, labels_from

__all__ = [
    "Sample",
    "Vector",
    "aggregate",
    "binary_scalars",
    "binary_vector_scalar",
    "binary_vectors",
    "check_unique",
    "drop_name",
]

_NAME = "__name__"
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^"})
# Prometheus' bounds for a topk/bottomk parameter (the largest float64 below 2**63)
_MAX_INT64 = 9223372036854774784.0
_MIN_INT64 = -9223372036854775808.0


class Sample(NamedTuple):
    labels: Labels
    value: float


Vector = list[Sample]


def drop_name(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] != _NAME)


def check_unique(vector: Vector) -> Vector:
    """Prometheus' check after each step: no two samples with the same label set."""
    if len({s.labels for s in vector}) != len(vector):
        raise QueryError("vector cannot contain metrics with the same labelset")
    return vector


# --- Error-message formatting, as Go prints it -----------------------------------------

_GO_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "\v": "\\v", '"': '\\"', "\\": "\\\\",
}  # fmt: skip


def _go_quote(text: str) -> str:
    """Go's ``strconv.Quote``."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _labels_text(labels: Iterable[tuple[str, str]]) -> str:
    """Go's ``labels.Labels.String()``."""
    return "{" + ", ".join(f"{k}={_go_quote(v)}" for k, v in labels) + "}"


def _go_float_text(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, an exponent from 1e+06 up and below 1e-04."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    _, digit_tuple, last_exp = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent = int(last_exp) + len(digit_tuple) - 1  # of the first digit
    if exponent < -4 or exponent >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    whole = digits[: exponent + 1].ljust(exponent + 1, "0")
    frac = digits[exponent + 1 :]
    return sign + whole + ("." + frac if frac else "")


# --- Binary operators ------------------------------------------------------------------

_OPERATIONS: dict[str, Callable[[float, float], tuple[float, bool]]] = {
    "+": lambda a, b: (a + b, True),
    "-": lambda a, b: (a - b, True),
    "*": lambda a, b: (a * b, True),
    "/": lambda a, b: (fn.go_div(a, b), True),
    "^": lambda a, b: (fn.go_pow(a, b), True),
    "%": lambda a, b: (fn.go_mod(a, b), True),
    # comparisons keep the left value; as in Go, != is true when either side is NaN
    "==": lambda a, b: (a, a == b),
    "!=": lambda a, b: (a, a != b),
    ">": lambda a, b: (a, a > b),
    "<": lambda a, b: (a, a < b),
    ">=": lambda a, b: (a, a >= b),
    "<=": lambda a, b: (a, a <= b),
}


def binary_scalars(op: str, lhs: float, rhs: float) -> float:
    value, keep = _OPERATIONS[op](lhs, rhs)
    return (1.0 if keep else 0.0) if op in COMPARISONS else value


def binary_vector_scalar(node: BinaryNode, vector: Vector, scalar: float, *, swap: bool) -> Vector:
    """``vector op scalar``, or ``scalar op vector`` with ``swap``."""
    operation = _OPERATIONS[node.op]
    keep_vector_value = node.op in COMPARISONS and swap
    drop = node.op in _ARITHMETIC or node.return_bool
    out = []
    for sample in vector:
        lhs, rhs = (scalar, sample.value) if swap else (sample.value, scalar)
        value, keep = operation(lhs, rhs)
        if keep_vector_value:
            value = rhs  # a filter keeps the vector's value, whichever side it is on
        if node.return_bool:
            value = 1.0 if keep else 0.0
            keep = True
        if keep:
            out.append(Sample(drop_name(sample.labels) if drop else sample.labels, value))
    return check_unique(out)


def _signature(node: BinaryNode) -> Callable[[Labels], Labels]:
    names = frozenset(node.matching)
    if node.on:
        return lambda labels: tuple(p for p in labels if p[0] in names)
    return lambda labels: tuple(p for p in labels if p[0] not in names and p[0] != _NAME)


def binary_vectors(node: BinaryNode, lhs: Vector, rhs: Vector) -> Vector:
    if node.op in SET_OPERATORS:
        return _set_operation(node, lhs, rhs)
    if not lhs or not rhs:
        return []
    return check_unique(_match(node, lhs, rhs))


def _set_operation(node: BinaryNode, lhs: Vector, rhs: Vector) -> Vector:
    """``and``, ``or``, ``unless``: the lhs samples whose signature the rhs has (or lacks)."""
    if not lhs or not rhs:
        return {"and": [], "or": lhs + rhs, "unless": lhs}[node.op]
    sig = _signature(node)
    if node.op == "or":
        left = {sig(s.labels) for s in lhs}
        return check_unique(lhs + [s for s in rhs if sig(s.labels) not in left])
    right = {sig(s.labels) for s in rhs}
    wanted = node.op == "and"
    return [s for s in lhs if (sig(s.labels) in right) == wanted]


def _match(node: BinaryNode, lhs: Vector, rhs: Vector) -> Vector:
    """One-to-one and many-to-one matching (one-to-many runs as many-to-one, sides swapped)."""
    swapped = node.card == "one-to-many"
    many, ones = (rhs, lhs) if swapped else (lhs, rhs)
    sig = _signature(node)
    one_side = _one_side(sig, ones, "left" if swapped else "right")
    operation = _OPERATIONS[node.op]
    seen: dict[Labels, set[Labels]] = {}
    out = []
    for sample in many:
        key = sig(sample.labels)
        one = one_side.get(key)
        if one is None:
            continue
        left, right = (one.value, sample.value) if swapped else (sample.value, one.value)
        value, keep = operation(left, right)
        if node.return_bool:
            value = 1.0 if keep else 0.0
        elif not keep:
            continue
        labels = _result_labels(node, sample.labels, one.labels)
        if node.return_bool:
            labels = drop_name(labels)
        results = seen.setdefault(key, set())
        if node.card == "one-to-one" and results:
            raise QueryError(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)"
            )
        if labels in results:
            raise QueryError(
                "multiple matches for labels: grouping labels must ensure unique matches"
            )
        results.add(labels)
        out.append(Sample(labels, value))
    return out


def _one_side(sig: Callable[[Labels], Labels], ones: Vector, side: str) -> dict[Labels, Sample]:
    """The "one" side by match signature; two samples with one signature is many-to-many."""
    by_signature: dict[Labels, Sample] = {}
    for sample in ones:
        key = sig(sample.labels)
        other = by_signature.get(key)
        if other is not None:
            raise QueryError(
                f"found duplicate series for the match group {_labels_text(key)} on the {side} "
                f"hand-side of the operation: [{_labels_text(sample.labels)}, "
                f"{_labels_text(other.labels)}];many-to-many matching not allowed: matching "
                "labels must be unique on one side"
            )
        by_signature[key] = sample
    return by_signature


def _result_labels(node: BinaryNode, many: Labels, one: Labels) -> Labels:
    result = dict(many)
    if node.op in _ARITHMETIC:
        result.pop(_NAME, None)
    if node.card == "one-to-one":
        if node.on:
            result = {k: v for k, v in result.items() if k in node.matching}
        else:
            for name in node.matching:
                result.pop(name, None)
    one_labels = dict(one)
    for name in node.include:  # group_x(...) labels come from the "one" side
        if one_labels.get(name):
            result[name] = one_labels[name]
        else:
            result.pop(name, None)
    return labels_from(result)


# --- Aggregations ----------------------------------------------------------------------


class _Group:
    __slots__ = ("count", "heap", "labels", "mean", "value")

    def __init__(self, labels: Labels, sample: Sample) -> None:
        self.labels = labels
        self.value = sample.value
        self.mean = sample.value
        self.count = 1
        self.heap = [sample]

    def add_sum(self, sample: Sample, _: int) -> None:
        self.value += sample.value

    def add_avg(self, sample: Sample, _: int) -> None:
        # 2.42's incremental mean: each side of the '-' divided first, against overflow
        self.count += 1
        v, mean = sample.value, self.mean
        if math.isinf(mean) and (
            (math.isinf(v) and (mean > 0) == (v > 0)) or not (math.isinf(v) or math.isnan(v))
        ):
            return  # the mean is infinite already; Inf - Inf would turn it into NaN
        self.mean += v / float(self.count) - mean / float(self.count)

    def add_max(self, sample: Sample, _: int) -> None:
        if self.value < sample.value or math.isnan(self.value):
            self.value = sample.value

    def add_min(self, sample: Sample, _: int) -> None:
        if self.value > sample.value or math.isnan(self.value):
            self.value = sample.value

    def add_count(self, sample: Sample, _: int) -> None:
        self.count += 1

    def add_quantile(self, sample: Sample, _: int) -> None:
        self.heap.append(sample)

    def add_topk(self, sample: Sample, k: int) -> None:
        self._keep(sample, k, _topk_less, self.heap[0].value < sample.value)

    def add_bottomk(self, sample: Sample, k: int) -> None:
        self._keep(sample, k, _bottomk_less, self.heap[0].value > sample.value)

    def _keep(self, sample: Sample, k: int, less: _Less, better: bool) -> None:
        """2.42's topk/bottomk step: a heap of the k best so far with the worst on top."""
        heap = self.heap
        if len(heap) < k or better or math.isnan(heap[0].value):
            if len(heap) == k:
                if k == 1:
                    heap[0] = sample
                    return
                _heap_pop(heap, less)
            _heap_push(heap, sample, less)


_ADD: dict[str, Callable[[_Group, Sample, int], None]] = {
    "sum": _Group.add_sum,
    "avg": _Group.add_avg,
    "max": _Group.add_max,
    "min": _Group.add_min,
    "count": _Group.add_count,
    "quantile": _Group.add_quantile,
    "topk": _Group.add_topk,
    "bottomk": _Group.add_bottomk,
}


def aggregate(node: AggregateNode, param: float, vector: Vector) -> Vector:
    op = node.op
    k = _k(param) if op in ("topk", "bottomk") else 0
    if op in ("topk", "bottomk") and k < 1:
        return []
    add = _ADD[op]
    grouping = frozenset(node.grouping)
    groups: dict[Labels, _Group] = {}
    for sample in vector:
        if node.without:
            key = tuple(p for p in sample.labels if p[0] not in grouping and p[0] != _NAME)
        else:
            key = tuple(p for p in sample.labels if p[0] in grouping)
        group = groups.get(key)
        if group is None:
            groups[key] = _Group(key, sample)
        else:
            add(group, sample, k)
    out: Vector = []
    for group in groups.values():
        if op in ("topk", "bottomk"):
            # best first, NaN last; the series keep their own labels
            sign = -1.0 if op == "topk" else 1.0
            out.extend(sorted(group.heap, key=lambda s: (math.isnan(s.value), sign * s.value)))
        else:
            out.append(Sample(group.labels, _result(op, group, param)))
    return check_unique(out)


def _k(param: float) -> int:
    if not (param <= _MAX_INT64 and param >= _MIN_INT64):
        raise QueryError(f"Scalar value {_go_float_text(param)} overflows int64")
    return int(param)  # truncated toward zero, as Go's int64()


def _result(op: str, group: _Group, param: float) -> float:
    if op == "avg":
        return group.mean
    if op == "count":
        return float(group.count)
    if op == "quantile":
        return fn.quantile(param, [s.value for s in group.heap])
    return group.value


_Less = Callable[[float, float], bool]


def _topk_less(a: float, b: float) -> bool:
    return math.isnan(a) or a < b


def _bottomk_less(a: float, b: float) -> bool:
    return math.isnan(a) or a > b


# Go's container/heap, step for step: which of several equal values stays depends on it


def _heap_push(heap: list[Sample], sample: Sample, less: _Less) -> None:
    heap.append(sample)
    j = len(heap) - 1
    while j > 0:
        i = (j - 1) // 2
        if not less(heap[j].value, heap[i].value):
            break
        heap[i], heap[j] = heap[j], heap[i]
        j = i


def _heap_pop(heap: list[Sample], less: _Less) -> None:
    n = len(heap) - 1
    heap[0], heap[n] = heap[n], heap[0]
    i = 0
    while True:
        j = 2 * i + 1
        if j >= n:
            break
        if j + 1 < n and less(heap[j + 1].value, heap[j].value):
            j += 1
        if not less(heap[j].value, heap[i].value):
            break
        heap[i], heap[j] = heap[j], heap[i]
        i = j
    heap.pop()
