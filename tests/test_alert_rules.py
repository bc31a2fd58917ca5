"""Loading rule files: what is accepted, and errors that name the file, group, rule and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradetel import RuleError
from tradetel.alerts._rules import (
    AlertRuleSpec,
    RecordRuleSpec,
    format_duration,
    load_rules,
    parse_duration,
    parse_rules,
)

GOOD = """
groups:
  - name: trading
    interval: 15s
    limit: 10
    rules:
      - record: venue:rejects:rate5m
        expr: >-
          sum by (trading_venue)
          (rate(trading_order_events_total{trading_order_status="rejected"}[5m]))
        labels: {team: desk}
      - alert: DrawdownLimit
        expr: trading_drawdown_ratio > 0.1
        for: 1m
        keep_firing_for: 5m
        labels: {severity: critical}
        annotations:
          summary: "{{ $labels.trading_strategy_name }}: {{ $value | humanizePercentage }}"
"""


def _error(text: str) -> str:
    with pytest.raises(RuleError) as info:
        parse_rules(text, "rules.yml")
    return str(info.value)


def test_a_prometheus_rule_file_loads_with_its_groups_and_rules() -> None:
    (group,) = parse_rules(GOOD, "rules.yml")
    record, alert = group.rules
    assert (group.name, group.interval_ms, group.limit) == ("trading", 15_000, 10)
    assert isinstance(record, RecordRuleSpec)
    assert record.record == "venue:rejects:rate5m"
    assert record.labels == {"team": "desk"}
    assert isinstance(alert, AlertRuleSpec)
    assert (alert.for_ms, alert.keep_firing_for_ms) == (60_000, 300_000)
    assert alert.labels == {"severity": "critical"}
    assert alert.query.text == "trading_drawdown_ratio > 0.1"


def test_durations_follow_prometheus_notation() -> None:
    assert parse_duration("1h30m") == 5_400_000
    assert parse_duration("0") == 0
    assert parse_duration("100ms") == 100
    assert format_duration(5_400_000) == "1h30m"
    for bad in ("1.5m", "5", "-5m", "m"):
        with pytest.raises(ValueError, match="not a valid duration"):
            parse_duration(bad)


def test_a_function_outside_the_subset_is_rejected_at_load_with_file_group_rule_and_line() -> None:
    message = _error(
        GOOD.replace("trading_drawdown_ratio > 0.1", "sort(trading_drawdown_ratio) > 0.1")
    )
    assert message.startswith("rules.yml:12, group 'trading', rule 2 (alert 'DrawdownLimit')")
    assert "sort" in message


def test_a_promql_syntax_error_names_the_expression() -> None:
    message = _error(GOOD.replace("trading_drawdown_ratio > 0.1", "trading_drawdown_ratio >"))
    assert "alert 'DrawdownLimit'" in message
    assert "trading_drawdown_ratio >" in message


def test_a_template_that_does_not_parse_is_rejected_at_load() -> None:
    message = _error(
        GOOD.replace("{{ $value | humanizePercentage }}", "{{ $value | humanizePercentage ")
    )
    assert "annotation 'summary'" in message
    assert "template" in message


def test_an_unknown_key_is_named_with_the_allowed_ones() -> None:
    message = _error(GOOD.replace("for: 1m", "for: 1m\n        severity: page"))
    assert "'severity'" in message
    assert "allowed: alert, annotations, expr, for" in message


def test_a_recording_rule_cannot_have_for_or_an_invalid_name() -> None:
    assert "'for'" in _error(GOOD.replace("labels: {team: desk}", "for: 1m"))
    assert "not a valid metric name" in _error(
        GOOD.replace("venue:rejects:rate5m", "venue-rejects")
    )


def test_a_rule_needs_exactly_one_of_alert_and_record() -> None:
    assert "either 'alert' or 'record'" in _error(
        GOOD.replace("- record:", "- alert: X\n        record:")
    )
    assert "needs 'alert' or 'record'" in _error(
        "groups:\n  - name: g\n    rules:\n      - expr: up\n"
    )


def test_a_range_vector_is_not_a_rule_result() -> None:
    assert "instant vector or a scalar" in _error(
        GOOD.replace("trading_drawdown_ratio > 0.1", "up[5m]")
    )


def test_a_duplicate_group_name_and_bad_yaml_are_reported() -> None:
    assert "used twice" in _error(GOOD + GOOD.replace("groups:\n", ""))
    assert _error("groups: [\n").startswith("rules.yml:")
    assert "for: not a valid duration" in _error(GOOD.replace("for: 1m", "for: soon"))


def test_rule_labels_cannot_override_alertname() -> None:
    assert "'alertname'" in _error(GOOD.replace("{severity: critical}", "{alertname: X}"))


def test_load_rules_reads_files_and_globs_and_names_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "a.rules.yml").write_text(GOOD)
    (tmp_path / "b.rules.yml").write_text(GOOD.replace("name: trading", "name: other"))
    groups = load_rules(str(tmp_path / "*.rules.yml"))
    assert [g.name for g in groups] == ["trading", "other"]
    assert groups[0].file.endswith("a.rules.yml")
    with pytest.raises(RuleError, match="cannot read the rule file"):
        load_rules(tmp_path / "missing.yml")
    with pytest.raises(RuleError, match="no rule file matches"):
        load_rules(str(tmp_path / "*.nothing"))


def test_the_shipped_rules_file_loads() -> None:
    shipped = Path(__file__).parent.parent / "collector" / "rules" / "trading.rules.yml"
    groups = load_rules(shipped)
    assert sum(len(g.rules) for g in groups) >= 8
