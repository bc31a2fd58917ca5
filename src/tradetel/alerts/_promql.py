"""PromQL for alert rules: parse, check against tradetel's subset, compile for evaluation.

``promql-parser`` does the grammar and most of Prometheus' type checks; this module rejects
what lies outside the subset (naming the construct, at load time rather than at evaluation)
and compiles the AST into small frozen nodes that the evaluator walks on every evaluation:
parentheses dropped (Prometheus unwraps them too), durations in milliseconds, label
matchers built once with their Go regular expressions rewritten for Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import promql_parser as pp

from ._promql_regex import GoRegex, RegexInvalid, RegexUnsupported, compile_go, translate
from ._series import LOOKBACK_MS, Labels, Matcher, labels_from

__all__ = ["PromQLError", "Query", "QueryError", "parse"]

_SUBSET = "outside tradetel's PromQL subset"
# Prometheus 2.x label names (3.x also takes quoted UTF-8 names, which promql-parser parses)
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

RANGE_FUNCTIONS = frozenset(
    {
        "rate", "irate", "increase", "delta", "deriv", "changes", "resets",
        "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
        "count_over_time", "last_over_time", "quantile_over_time", "stddev_over_time",
        "absent_over_time",
    }
)  # fmt: skip
INSTANT_FUNCTIONS = frozenset(
    {
        "histogram_quantile", "absent", "time", "timestamp", "vector", "scalar", "abs",
        "clamp_min", "clamp_max", "round", "label_replace",
    }
)  # fmt: skip
AGGREGATIONS = frozenset({"sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile"})
SET_OPERATORS = frozenset({"and", "or", "unless"})
COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})
_OPERATORS = frozenset({"+", "-", "*", "/", "%", "^"}) | COMPARISONS | SET_OPERATORS
_SCALAR_FUNCTIONS = frozenset({"time", "scalar"})
# promql-parser's enums are not hashable: they are looked up by their names
_MATCH_OPS = {
    "MatchOp.Equal": "=",
    "MatchOp.NotEqual": "!=",
    "MatchOp.Re": "=~",
    "MatchOp.NotRe": "!~",
}
_CARDINALITY = {
    "VectorMatchCardinality.OneToOne": "one-to-one",
    "VectorMatchCardinality.ManyToOne": "many-to-one",
    "VectorMatchCardinality.OneToMany": "one-to-many",
    "VectorMatchCardinality.ManyToMany": "many-to-many",
}


class PromQLError(ValueError):
    """A query that does not parse, or uses PromQL outside tradetel's subset (load time)."""


class QueryError(Exception):
    """An error Prometheus also raises when it evaluates the query."""


# --- The compiled form ---------------------------------------------------------------


@dataclass(frozen=True)
class InstantSelector:
    matchers: tuple[Matcher, ...]
    offset_ms: int
    #: the labels ``absent()`` reports for this selector (Prometheus' rules, computed once)
    absent_labels: Labels
    value_type: str = "vector"


@dataclass(frozen=True)
class RangeSelector:
    selector: InstantSelector
    range_ms: int
    value_type: str = "matrix"


@dataclass(frozen=True)
class NumberNode:
    value: float
    value_type: str = "scalar"


@dataclass(frozen=True)
class Negation:
    expr: Node
    value_type: str


@dataclass(frozen=True)
class BinaryNode:
    op: str
    lhs: Node
    rhs: Node
    return_bool: bool
    card: str  # one-to-one, many-to-one (group_left), one-to-many (group_right), many-to-many
    on: bool
    matching: tuple[str, ...]  # the on(...) or ignoring(...) labels
    include: tuple[str, ...]  # group_left(...)/group_right(...) labels from the "one" side
    value_type: str


@dataclass(frozen=True)
class AggregateNode:
    op: str
    expr: Node
    param: Node | None
    without: bool
    grouping: tuple[str, ...]
    value_type: str = "vector"


@dataclass(frozen=True)
class CallNode:
    name: str
    args: tuple[Node, ...]
    value_type: str


@dataclass(frozen=True)
class LabelReplaceNode:
    expr: Node
    dst: str
    replacement: str
    src: str
    regex_source: str
    regex: GoRegex | None  # None: Go rejects the pattern, an error at evaluation as in Prometheus
    value_type: str = "vector"


Node = (
    InstantSelector
    | RangeSelector
    | NumberNode
    | Negation
    | BinaryNode
    | AggregateNode
    | CallNode
    | LabelReplaceNode
)


@dataclass(frozen=True)
class Query:
    """A parsed, checked PromQL expression."""

    text: str
    node: Any  # the promql_parser AST
    #: how far before the evaluation time a selector may read (for the sample store's retention)
    lookbehind_ms: int
    value_type: str  # "vector" | "scalar" | "matrix" | "string"
    #: the compiled form the evaluator runs (built from ``node`` when not given)
    plan: Node | None = field(default=None, repr=False, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.plan is None:
            object.__setattr__(self, "plan", _compile(self.node))


def parse(text: str) -> Query:
    """Parse and check ``text``; raises :class:`PromQLError` naming what is wrong."""
    try:
        node = pp.parse(text)
    except ValueError as exc:
        raise PromQLError(f"{exc} in {text!r}") from None
    try:
        plan = _compile(node)
        lookbehind = max((_reach(s) for s in _selectors(plan)), default=0)
    except RecursionError:
        raise PromQLError(f"expression nested too deeply: {text[:80]!r}...") from None
    return Query(text, node, max(lookbehind, 0), plan.value_type, plan=plan)


def _reach(node: InstantSelector | RangeSelector) -> int:
    if isinstance(node, RangeSelector):
        return node.range_ms + node.selector.offset_ms
    return LOOKBACK_MS + node.offset_ms


def _selectors(node: Node) -> Iterator[InstantSelector | RangeSelector]:
    if isinstance(node, (InstantSelector, RangeSelector)):
        yield node
    elif isinstance(node, (Negation, LabelReplaceNode)):
        yield from _selectors(node.expr)
    elif isinstance(node, BinaryNode):
        yield from _selectors(node.lhs)
        yield from _selectors(node.rhs)
    elif isinstance(node, AggregateNode):
        if node.param is not None:
            yield from _selectors(node.param)
        yield from _selectors(node.expr)
    elif isinstance(node, CallNode):
        for arg in node.args:
            yield from _selectors(arg)


# --- Compiling -----------------------------------------------------------------------


def _show(node: Any) -> str:
    return str(node.prettify())


def _ms(delta: timedelta | None) -> int:
    if delta is None:
        return 0
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _unwrap(node: Any) -> Any:
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


def _compile(node: Any) -> Node:  # noqa: PLR0911 - one branch per AST node type
    node = _unwrap(node)
    if isinstance(node, pp.VectorSelector):
        return _selector(node)
    if isinstance(node, pp.MatrixSelector):
        return RangeSelector(_selector(node.vector_selector), _ms(node.range))
    if isinstance(node, pp.NumberLiteral):
        return NumberNode(float(node.val))
    if isinstance(node, pp.UnaryExpr):
        expr = _compile(node.expr)
        return Negation(expr, expr.value_type)
    if isinstance(node, pp.BinaryExpr):
        return _binary(node)
    if isinstance(node, pp.AggregateExpr):
        return _aggregate(node)
    if isinstance(node, pp.Call):
        return _call(node)
    if isinstance(node, pp.SubqueryExpr):
        raise PromQLError(f"subqueries are {_SUBSET}: {_show(node)}")
    if isinstance(node, pp.StringLiteral):
        raise PromQLError(
            f"string literals are {_SUBSET} except as label_replace() arguments: {_show(node)}"
        )
    raise PromQLError(f"{type(node).__name__} is {_SUBSET}: {_show(node)}")


def _selector(node: Any) -> InstantSelector:
    if node.at is not None:
        raise PromQLError(f"the @ modifier is {_SUBSET}: {_show(node)}")
    if node.matchers.or_matchers:
        raise PromQLError(f"'or' between label matchers is {_SUBSET}: {_show(node)}")
    # Prometheus appends the metric name's matcher after the braces' matchers
    triples = [(m.name, _MATCH_OPS[str(m.op)], m.value) for m in node.matchers.matchers]
    _check_label_names((name for name, _, _ in triples), node)
    if node.name:
        triples.append(("__name__", "=", node.name))
    matchers = []
    for name, op, value in triples:
        pattern = value
        if op in ("=~", "!~"):
            try:
                pattern, _ = translate(value)
            except (RegexInvalid, RegexUnsupported) as exc:
                raise PromQLError(f"regular expression in {name}{op}{value!r}: {exc}") from None
        matchers.append(Matcher(name, op, pattern))
    return InstantSelector(tuple(matchers), _ms(node.offset), _absent_labels(triples))


def _check_label_names(names: Iterable[str], node: Any) -> None:
    for name in names:
        if not _LABEL_NAME.fullmatch(name):
            raise PromQLError(f"label name {name!r} is not valid in Prometheus 2.x: {_show(node)}")


def _absent_labels(triples: list[tuple[str, str, str]]) -> Labels:
    """What ``absent()`` reports: each label that one equality matcher pins, and no other.

    A label with a second matcher, or with any other kind of matcher, is left out; an
    empty value deletes the label (as Prometheus' label builder does).
    """
    out: dict[str, str] = {}
    seen: set[str] = set()
    for name, op, value in triples:
        if name == "__name__":
            continue
        if op == "=" and name not in seen:
            out[name] = value
            seen.add(name)
        else:
            out.pop(name, None)
    return labels_from(out)


def _binary(node: Any) -> BinaryNode:
    op = str(node.op)
    if op not in _OPERATORS:
        raise PromQLError(f"operator '{op}' is {_SUBSET}")
    modifier = node.modifier
    fill = modifier.fill_values if modifier is not None else None
    if fill is not None and (fill.lhs is not None or fill.rhs is not None):
        raise PromQLError(f"fill modifiers are {_SUBSET}: {_show(node)}")
    lhs = _compile(node.lhs)
    rhs = _compile(node.rhs)
    value_type = "scalar" if lhs.value_type == rhs.value_type == "scalar" else "vector"
    card = "many-to-many" if op in SET_OPERATORS else "one-to-one"
    on = False
    matching: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    return_bool = False
    if modifier is not None:
        return_bool = bool(modifier.return_bool)
        card = _CARDINALITY[str(modifier.card)]
        if modifier.matching is not None:
            on = modifier.matching.type == pp.LabelModifierType.Include
            matching = tuple(modifier.matching.labels)
        include = tuple(modifier.group_labels or ())
        _check_label_names(matching + include, node)
    return BinaryNode(op, lhs, rhs, return_bool, card, on, matching, include, value_type)


def _aggregate(node: Any) -> AggregateNode:
    op = str(node.op)
    if op not in AGGREGATIONS:
        raise PromQLError(f"aggregation '{op}' is {_SUBSET}")
    param = _compile(node.param) if node.param is not None else None
    modifier = node.modifier
    without = modifier is not None and modifier.type == pp.AggModifierType.Without
    grouping = tuple(modifier.labels) if modifier is not None else ()
    _check_label_names(grouping, node)
    return AggregateNode(op, _compile(node.expr), param, without, grouping)


def _call(node: Any) -> CallNode | LabelReplaceNode:
    name = node.func.name
    if name not in RANGE_FUNCTIONS and name not in INSTANT_FUNCTIONS:
        raise PromQLError(f"function '{name}' is {_SUBSET}")
    if name == "label_replace":
        expr = _compile(node.args[0])
        dst, replacement, src, regex_source = (_string_arg(a) for a in node.args[1:])
        try:
            regex: GoRegex | None = compile_go(regex_source)
        except RegexUnsupported as exc:
            raise PromQLError(f"regular expression in label_replace(): {exc}") from None
        except RegexInvalid:
            regex = None
        return LabelReplaceNode(expr, dst, replacement, src, regex_source, regex)
    args = tuple(_compile(arg) for arg in node.args)
    return CallNode(name, args, "scalar" if name in _SCALAR_FUNCTIONS else "vector")


def _string_arg(node: Any) -> str:
    node = _unwrap(node)
    if not isinstance(node, pp.StringLiteral):  # promql-parser checks argument types
        raise PromQLError(f"expected a string literal, got {_show(node)}")
    return str(node.val)
