"""``tradetel alerts check | test | history``: what a user sees at the command line."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner

from tradetel.alerts._model import Alert
from tradetel.alerts.notify import History
from tradetel.cli import cli

RULES = """
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 1m
        labels: {severity: critical}
        annotations: {summary: "{{ $labels.job }} is down"}
"""

TEST = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="bot"}'
        values: '1 0 0 0 1'
    alert_rule_test:
      - eval_time: 1m
        alertname: Down
        exp_alerts: []
      - eval_time: 2m
        alertname: Down
        exp_alerts:
          - exp_labels: {job: bot, severity: critical}
            exp_annotations: {summary: "bot is down"}
    promql_expr_test:
      - expr: ALERTS{alertstate="pending"}
        eval_time: 1m
        exp_samples:
          - labels: 'ALERTS{alertname="Down", alertstate="pending", job="bot", severity="critical"}'
            value: 1
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_check_reports_the_rules_found(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    code, out = run("alerts", "check", str(tmp_path / "rules.yml"))
    assert code == 0
    assert "SUCCESS" in out
    assert "1 groups, 1 rules found" in out


def test_check_fails_naming_the_file_rule_and_construct(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES.replace("up == 0", "sort(up) == 0"))
    code, out = run("alerts", "check", str(tmp_path / "rules.yml"))
    assert code == 1
    assert "FAILED" in out
    assert "rules.yml:5" in out
    assert "alert 'Down'" in out
    assert "'sort'" in out


def test_test_runs_promtool_format_unit_tests(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "rules.test.yml").write_text(TEST)
    code, out = run("alerts", "test", str(tmp_path / "rules.test.yml"))
    assert code == 0, out
    assert "SUCCESS" in out


def test_a_failing_unit_test_shows_expected_and_got(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "rules.test.yml").write_text(TEST.replace('"bot is down"', '"bot is up"'))
    code, out = run("alerts", "test", str(tmp_path / "rules.test.yml"))
    assert code == 1
    assert "FAILED" in out
    assert "alertname: Down, time: 2m" in out
    assert 'summary="bot is up"' in out
    assert 'summary="bot is down"' in out


def test_history_lists_state_changes_filtered_by_severity(tmp_path: Path) -> None:
    db = tmp_path / "alerts-history.db"
    history = History(db)
    now = time.time()
    for name, severity in (("Down", "critical"), ("Slow", "warning")):
        alert = Alert({"alertname": name, "severity": severity}, {}, "firing", 1.0, now - 60)
        history.record(alert, "firing", now - 60)
    history.close()
    code, out = run("alerts", "history", "--db", str(db), "--since", "1h", "--severity", "critical")
    assert code == 0, out
    assert "Down" in out
    assert "Slow" not in out
    code, out = run("alerts", "history", "--db", str(db), "--format", "json")
    assert {entry["alertname"] for entry in json.loads(out)} == {"Down", "Slow"}


def test_history_without_a_database_says_where_it_looked(tmp_path: Path) -> None:
    code, out = run("alerts", "history", "--db", str(tmp_path / "none.db"))
    assert code == 2
    assert "no history at" in out
