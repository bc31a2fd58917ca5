"""The shipped trading rules (collector/rules/trading.rules.yml).

Valid for promtool and for tradetel, unit-tested by both from one promtool-format test file,
and written against the series that tradetel's SDK really emits once Prometheus' OTLP
translation has named them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from prom_names import Emitted, sdk_series
from test_conformance import require_promtool_2
from tradetel.alerts._promtest import run_test_file
from tradetel.alerts._rules import load_rules

RULES = Path(__file__).parents[1] / "collector" / "rules" / "trading.rules.yml"
RULE_TESTS = RULES.with_name("trading.rules.test.yml")
SEVERITIES = {"info", "warning", "critical"}


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_promtool_2()


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


@pytest.mark.integration
def test_promtool_check_rules_accepts_the_shipped_rules(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


@pytest.mark.integration
def test_promtool_passes_the_shipped_rules_unit_tests(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_tradetel_passes_the_shipped_rules_unit_tests() -> None:
    result = run_test_file(RULE_TESTS)
    assert result.ok, "\n".join(result.failures)
    assert result.tests == len(yaml.safe_load(RULE_TESTS.read_text())["tests"])


def test_the_shipped_rules_are_two_groups_of_15s_with_a_recording_rule_feeding_an_alert() -> None:
    groups = load_rules(RULES)
    assert [(g.name, g.interval_ms) for g in groups] == [
        ("tradetel-trading", 15_000),
        ("tradetel-runtime", 15_000),
    ]
    records = {rule["record"] for rule in rules() if "record" in rule}
    assert records == {"trading_venue:order_reject_ratio:rate5m"}
    alert_exprs = " ".join(str(rule["expr"]) for rule in rules() if "alert" in rule)
    assert all(record in alert_exprs for record in records)


def test_every_shipped_alert_has_a_severity_a_summary_and_a_description() -> None:
    for rule in (rule for rule in rules() if "alert" in rule):
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]


def test_every_shipped_alert_is_tested_firing_and_quiet() -> None:
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test") or []:
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    assert firing == alerts
    assert quiet == alerts


@pytest.fixture
def emitted() -> Emitted:
    """Every series of a real SDK collection, named as Prometheus' OTLP receiver names it.

    The process records what each rule watches (and what the dashboards watch): order events
    of every status, order latency, an open order, a strategy's drawdown, a failing market data
    health check, the system metrics (see ``prom_names``).
    """
    return sdk_series()


def test_every_metric_and_label_in_the_shipped_rules_is_one_the_sdk_emits(
    emitted: Emitted,
) -> None:
    records = {rule["record"] for rule in rules() if "record" in rule}
    checked: set[str] = set()
    for rule in rules():
        expr = str(rule["expr"])
        selectors, grouping = _selectors_and_grouping(expr)
        watched: set[str] = set()
        for selector in selectors:
            if selector.name in records:
                continue
            assert selector.name in emitted, f"{selector.name} in {expr!r} is never emitted"
            labels = emitted[selector.name]
            watched |= set(labels)
            checked.add(selector.name)
            for matcher in selector.matchers.matchers:
                assert matcher.name in labels, f"{selector.name} has no label {matcher.name}"
                values = labels[matcher.name]
                if str(matcher.op) == "MatchOp.Equal":
                    assert matcher.value in values, (selector.name, matcher.name, values)
                elif str(matcher.op) == "MatchOp.Re":
                    pattern = re.compile(matcher.value)
                    assert any(pattern.fullmatch(v) for v in values), (matcher.value, values)
        if watched:
            assert grouping <= watched, f"{expr!r} groups by labels never emitted"
    assert checked >= {
        "trading_order_events_total",
        "trading_order_latency_seconds_bucket",
        "trading_drawdown_ratio",
        "trading_health_status_ratio",
        "trading_order_open_max_age_seconds",
        "tradetel_telemetry_dropped_total",
        "process_cpu_utilization_ratio",
        "process_memory_usage_bytes",
        "system_memory_utilization_ratio",
    }


def _selectors_and_grouping(expr: str) -> tuple[list[promql_parser.VectorSelector], set[str]]:
    """The vector selectors of an expression, and the labels it aggregates or matches on."""
    selectors: list[promql_parser.VectorSelector] = []
    grouping: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            selectors.append(node)
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            grouping.update(node.modifier.labels)
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            matching = node.modifier.matching
            grouping.update(matching.labels if matching is not None else ())

    promql_parser.walk(promql_parser.parse(expr), visit)
    return selectors, grouping
