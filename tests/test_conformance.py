"""Differential conformance: tradetel's rule engine against the real ``promtool test rules``.

Each case in ``tests/conformance/`` is a rule file, input series in promtool's notation and
extra PromQL queries. The harness runs tradetel's engine the way promtool runs a unit test
(Prometheus 2.42 ``cmd/promtool/unittest.go``): every group, in file order, at each
``evaluation_interval`` from 0 to ``until``. At every evaluation time it records the firing
alerts of every alerting rule (labels and annotations) and - after all evaluations, as
promtool's ``promql_expr_test`` does - the values of ``ALERTS``, ``ALERTS_FOR_STATE``, every
recording rule's output and every query. It writes those results as the expectations of a
promtool test file and runs ``promtool test rules`` on it: passing means Prometheus agrees with
tradetel on every alert and every value at every evaluation time. promtool 2.42 compares
values exactly (``reflect.DeepEqual``, no epsilon); floats are written with ``repr`` (PyYAML's
float representer), which Go's ``ParseFloat`` reads back as the same float64, and a NaN - never
equal to itself - fails the harness loudly instead of being written.

Two things promtool leaves to chance, which a case must not depend on: the order of groups
(a Go map; the harness writes ``group_eval_order`` in file order) and the order in which it
creates the input series (another Go map), which is the order ``sum`` and ``avg`` add them
up in - so aggregations over several series use values whose sums are exact in any order.

The engine follows **Prometheus 2.42**'s window bounds: a range selector ``x[d]`` takes the
samples in ``[t-d, t]`` and an instant selector the newest in ``[t-5m, t]`` (Prometheus 3.x
made both left-open), and rate/increase extrapolate as 2.42 does. So the suite needs promtool
2.x (Debian's ``prometheus`` package) and skips, saying why, with any other major version.

Semantics 9 (a query error freezes the rule's alerts), 18 (sending to Alertmanager) and 19
(state surviving a restart) cannot be observed through promtool - a rule error aborts a
promtool test, and promtool neither sends nor restarts - so other tests cover them.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from conftest import require_binary
from tradetel.alerts._duration import format_duration, parse_duration
from tradetel.alerts._engine import AlertingRule, Engine, RecordingRule
from tradetel.alerts._evaluate import evaluate
from tradetel.alerts._promql import parse
from tradetel.alerts._promtest import expand_values, parse_series, run_test_file
from tradetel.alerts._rules import load_rules
from tradetel.alerts._series import Labels, SeriesStore

CASES = Path(__file__).parent / "conformance"
CASE_FILES = sorted(CASES.glob("*.yml"))
CASE_KEYS = {"description", "covers", "evaluation_interval", "interval", "until"}
CASE_KEYS |= {"input_series", "rules", "queries"}

#: The numbered semantics of ALERTING.md that promtool can observe (all but 9, 18 and 19).
OBSERVABLE_SEMANTICS = {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17}

#: The constructs of the PromQL subset that the cases must exercise between them.
SUBSET_CONSTRUCTS = {
    *(f"function {name}" for name in (
        "rate", "irate", "increase", "delta", "deriv", "changes", "resets", "avg_over_time",
        "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "last_over_time",
        "quantile_over_time", "stddev_over_time", "histogram_quantile", "absent",
        "absent_over_time", "time", "timestamp", "vector", "scalar", "abs", "clamp_min",
        "clamp_max", "round", "label_replace",
    )),
    *(f"aggregation {op}" for op in (
        "sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile",
    )),
    *(f"operator {op}" for op in (
        "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless",
    )),
    *(f"matcher {op}" for op in ("=", "!=", "=~", "!~")),
    "offset", "bool", "on", "ignoring", "group_left", "group_right", "by", "without",
    "range selector", "number literal",
}  # fmt: skip

_MATCH_OPS = {
    str(promql_parser.MatchOp.Equal): "=",
    str(promql_parser.MatchOp.NotEqual): "!=",
    str(promql_parser.MatchOp.Re): "=~",
    str(promql_parser.MatchOp.NotRe): "!~",
}


@dataclass(frozen=True)
class Case:
    """One conformance case: a rule file's groups, input series and extra queries."""

    name: str
    covers: tuple[int, ...]
    evaluation_interval_ms: int
    interval: str
    until_ms: int
    input_series: list[dict[str, str]]
    groups: list[dict[str, Any]]
    queries: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> Case:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        unknown = set(raw) - CASE_KEYS
        missing = CASE_KEYS - {"description", "queries"} - set(raw)
        assert not unknown, f"{path.name}: unknown keys {sorted(unknown)}"
        assert not missing, f"{path.name}: missing keys {sorted(missing)}"
        return cls(
            name=path.stem,
            covers=tuple(raw["covers"]),
            evaluation_interval_ms=parse_duration(raw["evaluation_interval"]),
            interval=str(raw["interval"]),
            until_ms=parse_duration(raw["until"]),
            input_series=raw["input_series"],
            groups=raw["rules"],
            queries=tuple(raw.get("queries") or ()),
        )

    @property
    def times(self) -> range:
        """promtool's evaluation times: 0, interval, ... up to and including ``until``."""
        return range(0, self.until_ms + 1, self.evaluation_interval_ms)


@dataclass
class Observed:
    """What tradetel's engine gave at every evaluation time."""

    #: (time, alertname) -> the firing alerts' (labels, annotations), sorted
    alerts: dict[tuple[int, str], list[tuple[Labels, Labels]]] = field(default_factory=dict)
    #: (time, expression) -> the result's (labels, value), sorted
    values: dict[tuple[int, str], list[tuple[Labels, float]]] = field(default_factory=dict)


def observe(case: Case, rule_file: Path) -> Observed:
    """Run tradetel's engine over the case as promtool runs a unit test."""
    groups = load_rules(rule_file)
    store = SeriesStore()
    step = parse_duration(case.interval)
    for series in case.input_series:
        labels = parse_series(series["series"])
        for index, value in enumerate(expand_values(series["values"])):
            # promtool loads input samples only up to the last evaluation time
            if value is not None and index * step <= case.until_ms:
                store.append(labels, index * step, value)
    engine = Engine(groups, interval_ms=case.evaluation_interval_ms, store=store)
    store.retention_ms = 1 << 62  # a test's series are all kept, as in promtool's storage
    for group in engine.groups:  # promtool evaluates every group at the evaluation_interval
        group.interval_ms = case.evaluation_interval_ms
    rules = [rule for group in engine.groups for rule in group.rules]
    alertnames = sorted({r.spec.alert for r in rules if isinstance(r, AlertingRule)})
    records = [r.spec.record for r in rules if isinstance(r, RecordingRule)]

    observed = Observed()
    for t in case.times:
        engine.evaluate_all(t)
        failed = [f"{rule.name}: {rule.last_error}" for rule in rules if rule.health == "err"]
        assert not failed, (
            f"{case.name}: tradetel's evaluation at {format_duration(t)} failed, which would "
            f"abort the promtool test: {failed}"
        )
        for name in alertnames:
            observed.alerts[(t, name)] = sorted(
                (tuple(sorted(alert.labels.items())), tuple(sorted(alert.annotations.items())))
                for _, rule, alert in engine.alerts()
                if rule.spec.alert == name and alert.state == "firing"
            )
    expressions = list(dict.fromkeys(["ALERTS", "ALERTS_FOR_STATE", *records, *case.queries]))
    for expression in expressions:
        query = parse(expression)
        for t in case.times:
            result = evaluate(query, t, store)
            if isinstance(result, str):
                raise AssertionError(f"{case.name}: {expression!r} gives a string, untestable")
            if isinstance(result, float):  # promtool turns a scalar into one unlabelled sample
                found: list[tuple[Labels, float]] = [((), result)]
            else:
                found = sorted((sample.labels, sample.value) for sample in result)
            for labels, value in found:
                assert not math.isnan(value), (
                    f"{case.name}: tradetel gives NaN for {expression!r} at {format_duration(t)} "
                    f"({show_labels(labels)}); promtool never finds NaN equal to NaN, so change "
                    "the case so that no result is NaN"
                )
            observed.values[(t, expression)] = found
    return observed


def show_labels(labels: Labels) -> str:
    """A label set in the metric notation promtool parses: ``name{a="b"}``."""
    name = dict(labels).get("__name__", "")
    inner = ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}"
        for key, value in labels
        if key != "__name__"
    )
    return f"{name}{{{inner}}}"


def promtool_test(case: Case, observed: Observed, rule_file: str) -> dict[str, Any]:
    """A promtool test file whose expectations are tradetel's results."""
    alert_tests = [
        {
            "eval_time": format_duration(t),
            "alertname": name,
            "exp_alerts": [
                {
                    "exp_labels": {k: v for k, v in labels if k != "alertname"},
                    "exp_annotations": dict(annotations),
                }
                for labels, annotations in alerts
            ],
        }
        for (t, name), alerts in observed.alerts.items()
    ]
    expr_tests = [
        {
            "expr": expression,
            "eval_time": format_duration(t),
            "exp_samples": [
                {"labels": show_labels(labels), "value": value} for labels, value in samples
            ],
        }
        for (t, expression), samples in observed.values.items()
    ]
    test: dict[str, Any] = {
        "name": case.name,
        "interval": case.interval,
        "input_series": case.input_series,
    }
    if alert_tests:
        test["alert_rule_test"] = alert_tests
    test["promql_expr_test"] = expr_tests
    return {
        "rule_files": [rule_file],
        "evaluation_interval": format_duration(case.evaluation_interval_ms),
        "group_eval_order": [group["name"] for group in case.groups],
        "tests": [test],
    }


@dataclass(frozen=True)
class Generated:
    case: Case
    test_file: Path
    observed: Observed


@pytest.fixture(scope="module")
def generate(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Generated]:
    """Runs a case through tradetel and writes its rule file and promtool test file (cached)."""
    done: dict[Path, Generated] = {}

    def run(path: Path) -> Generated:
        if path not in done:
            case = Case.load(path)
            directory = tmp_path_factory.mktemp(case.name)
            rule_file = directory / f"{case.name}.rules.yml"
            rule_file.write_text(yaml.safe_dump({"groups": case.groups}, sort_keys=False))
            observed = observe(case, rule_file)
            test_file = directory / f"{case.name}.test.yml"
            document = promtool_test(case, observed, rule_file.name)
            test_file.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
            done[path] = Generated(case, test_file, observed)
        return done[path]

    return run


def require_promtool_2() -> str:
    """The path of promtool 2.x; skips (or fails in CI) without it, skips with another major.

    The engine follows 2.x window bounds, which 3.x changed.
    """
    path = require_binary("promtool")
    version = subprocess.run(
        [path, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    text = (version.stdout + version.stderr).strip()
    match = re.search(r"version (\d+)\.", text)
    if match is None or match[1] != "2":
        first = text.splitlines()[0] if text else "no version output"
        pytest.skip(
            f"{path} is not promtool 2.x ({first}); tradetel follows Prometheus 2.42's window "
            "bounds, [t-d, t], which 3.x changed to (t-d, t]"
        )
    return path


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_promtool_2()


def run_promtool(promtool: str, test_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, "test", "rules", test_file.name],
        cwd=test_file.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.integration
@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_promtool_agrees_with_tradetel_on_every_alert_and_value(
    path: Path, generate: Callable[[Path], Generated], promtool: str
) -> None:
    generated = generate(path)
    result = run_promtool(promtool, generated.test_file)
    assert result.returncode == 0, (
        f"promtool disagrees with tradetel on {path.name} (exp = tradetel, got = Prometheus):\n"
        f"{result.stdout}{result.stderr}\ntest file: {generated.test_file}"
    )


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_tradetels_own_runner_passes_the_generated_test_file(
    path: Path, generate: Callable[[Path], Generated]
) -> None:
    generated = generate(path)
    result = run_test_file(generated.test_file)
    assert result.ok, "\n".join(result.failures)
    assert result.tests == 1


@pytest.mark.integration
def test_promtool_fails_when_one_expected_value_is_one_ulp_off(
    generate: Callable[[Path], Generated], promtool: str
) -> None:
    generated = generate(CASES / "11_rate_extrapolation.yml")
    document = yaml.safe_load(generated.test_file.read_text())
    expr_tests = document["tests"][0]["promql_expr_test"]
    changed = next(t for t in expr_tests if t["expr"].startswith("rate(") and t["exp_samples"])
    sample = changed["exp_samples"][0]
    sample["value"] = math.nextafter(sample["value"], math.inf)
    broken = generated.test_file.with_name("broken.test.yml")
    broken.write_text(yaml.safe_dump(document, sort_keys=False))

    result = run_promtool(promtool, broken)

    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "FAILED" in output
    assert f'expr: "{changed["expr"]}", time: {changed["eval_time"]}' in output


def test_the_cases_cover_every_semantic_that_promtool_can_observe() -> None:
    covered = {number for path in CASE_FILES for number in Case.load(path).covers}
    assert len(CASE_FILES) >= 24
    assert covered >= OBSERVABLE_SEMANTICS, sorted(OBSERVABLE_SEMANTICS - covered)
    assert covered <= OBSERVABLE_SEMANTICS, "9, 18 and 19 are not observable through promtool"


def test_the_cases_use_every_construct_of_the_promql_subset() -> None:
    used: set[str] = set()
    for path in CASE_FILES:
        case = Case.load(path)
        rules = [rule for group in case.groups for rule in group["rules"]]
        for text in [str(rule["expr"]) for rule in rules] + list(case.queries):
            used |= constructs(text)
    assert used >= SUBSET_CONSTRUCTS, sorted(SUBSET_CONSTRUCTS - used)


def constructs(text: str) -> set[str]:
    """The PromQL constructs an expression uses, in SUBSET_CONSTRUCTS' terms."""
    found: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        found.update(_node_constructs(node))

    promql_parser.walk(promql_parser.parse(text), visit)
    return found


def _node_constructs(node: promql_parser.Expr) -> Iterator[str]:
    if isinstance(node, promql_parser.Call):
        yield f"function {node.func.name}"
    elif isinstance(node, promql_parser.AggregateExpr):
        yield f"aggregation {node.op}"
        if node.modifier is not None:
            yield "by" if node.modifier.type == promql_parser.AggModifierType.By else "without"
    elif isinstance(node, promql_parser.BinaryExpr):
        yield f"operator {node.op}"
        if node.modifier is not None:
            yield from _modifier_constructs(node.modifier)
    elif isinstance(node, promql_parser.VectorSelector):
        if node.offset is not None:
            yield "offset"
        for matcher in node.matchers.matchers:
            if matcher.name != "__name__":
                yield f"matcher {_MATCH_OPS[str(matcher.op)]}"
    elif isinstance(node, promql_parser.MatrixSelector):
        yield "range selector"
    elif isinstance(node, promql_parser.NumberLiteral):
        yield "number literal"
    elif isinstance(node, promql_parser.UnaryExpr):
        yield "unary -"


def _modifier_constructs(modifier: promql_parser.BinModifier) -> Iterator[str]:
    if modifier.return_bool:
        yield "bool"
    if modifier.matching is not None:
        include = modifier.matching.type == promql_parser.LabelModifierType.Include
        yield "on" if include else "ignoring"
    if modifier.card == promql_parser.VectorMatchCardinality.ManyToOne:
        yield "group_left"
    elif modifier.card == promql_parser.VectorMatchCardinality.OneToMany:
        yield "group_right"
