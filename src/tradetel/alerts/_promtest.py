"""``tradetel alerts test``: promtool's rule unit-test format, run with tradetel's engine.

The loop is promtool's (Prometheus 2.42 ``cmd/promtool/unittest.go``): every group is evaluated
at each ``evaluation_interval`` from 0 to the last time a test asks about; an alert test at
``eval_time`` looks at the evaluation at or just before it; expression tests run after all
evaluations, so they see the rules' output (``ALERTS`` included).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from .._errors import RuleError
from ._engine import Engine
from ._evaluate import evaluate
from ._promql import PromQLError, QueryError, parse
from ._rules import load_rules, parse_duration
from ._series import STALE, Labels, SeriesStore, labels_from

#: The most samples one ``a+bxn`` may expand to (a typo must not eat the memory).
MAX_EXPANSION = 1_000_000

__all__ = ["TestResult", "expand_values", "parse_series", "run_test_file"]

_TOKEN = re.compile(
    r"(?P<start>[-+]?(?:[0-9.]+(?:[eE][-+]?\d+)?|Inf|NaN|inf|nan))"
    r"(?:(?P<sign>[-+])(?P<step>[0-9.]+(?:[eE][-+]?\d+)?))?x(?P<count>\d+)"
)


@dataclass
class TestResult:
    file: str
    failures: list[str] = field(default_factory=list)
    tests: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


def expand_values(text: str) -> Iterator[float | None]:
    """promtool's expanding notation: ``0+10x3`` -> 0 10 20 30; ``_`` a gap (None); ``stale``.

    ``_x3`` is three gaps and ``1x3`` is 1 four times, as in promtool.
    """
    for token in str(text).split():
        if token == "_":
            yield None
        elif token == "stale":
            yield STALE
        elif token.startswith("_x") and token[2:].isdigit():
            if int(token[2:]) > MAX_EXPANSION:
                raise ValueError(f"{token!r} expands to more than {MAX_EXPANSION} samples")
            yield from [None] * int(token[2:])
        elif "x" in token and (match := _TOKEN.fullmatch(token)):
            value = float(match["start"])
            step = float(match["step"] or 0) * (-1 if match["sign"] == "-" else 1)
            if int(match["count"]) > MAX_EXPANSION:
                raise ValueError(f"{token!r} expands to more than {MAX_EXPANSION} samples")
            for _ in range(int(match["count"]) + 1):
                yield value
                value += step  # added up as promtool does: 0+0.1x3 ends 0.30000000000000004
        else:
            try:
                yield float(token)
            except ValueError:
                raise ValueError(f"{token!r} is not a number, '_', 'stale' or 'a+bxn'") from None


def parse_series(text: str) -> Labels:
    """``metric{a="b"}`` -> labels (promtool's series notation); ``{}`` is the empty set."""
    if text.replace(" ", "") == "{}":  # what promtool expects of a scalar or vector(1)
        return ()
    try:
        node = promql_parser.parse(text)
    except ValueError as exc:
        raise ValueError(f"series {text!r}: {exc}") from None
    if not isinstance(node, promql_parser.VectorSelector):
        raise ValueError(f"series {text!r} is not a metric name with labels")
    labels = {m.name: m.value for m in node.matchers.matchers}
    if node.name:
        labels["__name__"] = node.name
    return labels_from(labels)


def run_test_file(path: str | os.PathLike[str]) -> TestResult:
    """Run one promtool-format test file; failures are described in promtool's terms."""
    name = os.fspath(path)
    result = TestResult(name)
    try:
        document = yaml.safe_load(Path(name).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        result.failures.append(f"cannot read the test file: {exc}")
        return result
    base = Path(name).parent
    rule_files = [str(base / f) for f in document.get("rule_files") or []]
    interval = parse_duration(document.get("evaluation_interval", "1m"))
    for index, test in enumerate(document.get("tests") or [], 1):
        result.tests += 1
        label = test.get("name") or f"test {index}"
        try:
            failures = _run_test(test, rule_files, interval, document.get("group_eval_order"))
        except (RuleError, PromQLError, QueryError, ValueError, KeyError, TypeError) as exc:
            failures = [f"error: {exc}"]
        result.failures.extend(f"{label}: {f}" for f in failures)
    return result


def _run_test(
    test: Mapping[str, Any], rule_files: list[str], interval: int, order: list[str] | None
) -> list[str]:
    groups = load_rules(rule_files) if rule_files else []
    if order:
        by_name = {g.name: g for g in groups}
        groups = [by_name[n] for n in order] + [g for g in groups if g.name not in order]
    step = parse_duration(test.get("interval", "1m"))
    store = SeriesStore()
    for series in test.get("input_series") or []:
        labels = parse_series(series["series"])
        for i, value in enumerate(expand_values(series.get("values", ""))):
            if value is not None:
                store.append(labels, i * step, value)
    engine = Engine(
        groups,
        interval_ms=interval,
        store=store,
        external_labels=test.get("external_labels") or {},
        external_url=test.get("external_url") or "",
    )
    store.retention_ms = 1 << 62  # a test's series are all kept
    for group in engine.groups:  # promtool evaluates every group on the test's interval
        group.interval_ms = interval
    alert_tests = sorted(
        test.get("alert_rule_test") or [], key=lambda a: parse_duration(a["eval_time"])
    )
    expr_tests = test.get("promql_expr_test") or []
    last = max(
        [parse_duration(a["eval_time"]) for a in alert_tests]
        + [parse_duration(e["eval_time"]) for e in expr_tests]
        + [0]
    )
    failures: list[str] = []
    pending = list(alert_tests)
    t = 0
    while t <= last:
        engine.evaluate_all(t)
        for group in engine.groups:
            for rule in group.rules:
                if rule.health == "err":
                    return [f"rule: {rule.name}, time: {_fmt(t)}, err: {rule.last_error}"]
        while pending and t <= parse_duration(pending[0]["eval_time"]) < t + interval:
            failures.extend(_check_alerts(engine, pending.pop(0)))
        t += interval
    for case in expr_tests:
        failures.extend(_check_expr(store, case))
    return failures


def _check_alerts(engine: Engine, case: Mapping[str, Any]) -> list[str]:
    name = case["alertname"]
    got = sorted(
        (_key(alert.labels), _key(alert.annotations))
        for _, rule, alert in engine.alerts()
        if rule.spec.alert == name and alert.state == "firing"
    )
    expected = sorted(
        (
            _key(
                {
                    **{str(k): str(v) for k, v in (e.get("exp_labels") or {}).items()},
                    "alertname": name,
                }
            ),
            _key({str(k): str(v) for k, v in (e.get("exp_annotations") or {}).items()}),
        )
        for e in case.get("exp_alerts") or []
    )
    if got == expected:
        return []
    return [
        f"alertname: {name}, time: {case['eval_time']},\n"
        f"        exp:{_show_alerts(expected)},\n        got:{_show_alerts(got)}"
    ]


def _check_expr(store: SeriesStore, case: Mapping[str, Any]) -> list[str]:
    t = parse_duration(case["eval_time"])
    result = evaluate(parse(case["expr"]), t, store)
    got: list[tuple[str, float]]
    if isinstance(result, float):
        got = [("{}", result)]
    elif isinstance(result, list):
        got = sorted((_show_labels(s.labels), s.value) for s in result)
    else:
        return [
            f"expr: {case['expr']!r}, time: {case['eval_time']}: a string result cannot be tested"
        ]
    expected = sorted(
        (_show_labels(parse_series(e["labels"])) if e.get("labels") else "{}", float(e["value"]))
        for e in case.get("exp_samples") or []
    )
    if len(got) == len(expected) and all(
        g[0] == e[0] and (g[1] == e[1] or (math.isnan(g[1]) and math.isnan(e[1])))
        for g, e in zip(got, expected, strict=True)
    ):
        return []
    return [
        f"expr: {case['expr']!r}, time: {case['eval_time']},\n"
        f"        exp: {_show_samples(expected)}\n        got: {_show_samples(got)}"
    ]


def _key(mapping: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(mapping.items()))


def _show_labels(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def _show_alerts(alerts: list[tuple[Labels, Labels]]) -> str:
    if not alerts:
        return "[]"
    return "".join(
        f"\n            {i}:\n              Labels:{_show_labels(labels)}"
        f"\n              Annotations:{_show_labels(ann)}"
        for i, (labels, ann) in enumerate(alerts)
    )


def _show_samples(samples: list[tuple[str, float]]) -> str:
    return "[" + ", ".join(f"{labels} {value!r}" for labels, value in samples) + "]"


def _fmt(ms: int) -> str:
    from ._rules import format_duration

    return format_duration(ms)
