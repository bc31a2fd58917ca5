"""The embedded evaluator: configure(alert_rules=...) watches the process's own metrics."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import tradetel
from http_sink import HttpSink, http_sink
from tradetel import _setup, performance
from tradetel.alerts import Alert, on_alert
from tradetel.alerts.notify import History

RULES = """
groups:
  - name: risk
    rules:
      - alert: DrawdownLimit
        expr: trading_drawdown_ratio > 0.1
        labels: {severity: critical}
        annotations:
          summary: >-
            {{ $labels.trading_strategy_name }} is {{ $value | humanizePercentage }} below its peak
"""


@pytest.fixture
def webhook() -> Iterator[HttpSink]:
    with http_sink() as sink:
        yield sink


def configure(tmp_path: Path, webhook: HttpSink, rules: str = RULES) -> None:
    (tmp_path / "rules.yml").write_text(rules)
    tradetel.configure(
        service_name="risk-bot",
        exporter="none",
        data_dir=tmp_path,
        system_metrics=False,
        alert_rules=tmp_path / "rules.yml",
        alert_interval=0.2,
        notify={
            "channels": {"hook": {"type": "webhook", "url": webhook.url}},
            "routes": [{"channels": ["hook"]}],
        },
    )


def test_a_drawdown_over_the_limit_reaches_the_webhook_and_its_recovery_resolves_it(
    tmp_path: Path, webhook: HttpSink
) -> None:
    configure(tmp_path, webhook)
    try:
        perf = performance.tracker("momentum")
        perf.update_equity(10_000.0)
        perf.update_equity(8_500.0)  # 15 % below the peak
        (fired,) = webhook.wait_json(1)
        perf.update_equity(10_100.0)  # a new peak: no drawdown
        fired, resolved = webhook.wait_json(2)
    finally:
        tradetel.shutdown()
    assert fired["status"] == "firing"
    (alert,) = fired["alerts"]
    assert alert["labels"]["alertname"] == "DrawdownLimit"
    assert alert["labels"]["trading_strategy_name"] == "momentum"
    assert alert["labels"]["job"] == "risk-bot"
    assert alert["annotations"]["summary"] == "momentum is 15% below its peak"
    assert resolved["status"] == "resolved"


def test_a_python_handler_runs_when_the_alert_fires(tmp_path: Path, webhook: HttpSink) -> None:
    seen: list[Alert] = []
    fired = threading.Event()

    @on_alert(alertname="DrawdownLimit", on=("firing",))
    def pause_trading(alert: Alert) -> None:
        seen.append(alert)
        fired.set()

    configure(tmp_path, webhook)
    try:
        perf = performance.tracker("carry")
        perf.update_equity(100.0)
        perf.update_equity(50.0)
        assert fired.wait(10)
    finally:
        tradetel.shutdown()
    assert seen[0].labels["trading_strategy_name"] == "carry"
    assert seen[0].state == "firing"


def test_state_changes_are_kept_in_the_history(tmp_path: Path, webhook: HttpSink) -> None:
    configure(tmp_path, webhook)
    try:
        perf = performance.tracker("momentum")
        perf.update_equity(10_000.0)
        perf.update_equity(8_000.0)
        webhook.wait_json(1)
    finally:
        tradetel.shutdown()
    history = History(tmp_path / "alerts-history.db")
    try:
        entries = history.query(alertname="DrawdownLimit")
    finally:
        history.close()
    assert [e.state for e in entries][:1] == ["firing"]
    assert entries[0].severity == "critical"


def test_a_bad_rule_file_fails_configure_and_keeps_the_running_setup(
    tmp_path: Path, webhook: HttpSink
) -> None:
    (tmp_path / "bad.yml").write_text(RULES.replace("trading_drawdown_ratio > 0.1", "sort(x)"))
    with pytest.raises(tradetel.RuleError, match=r"bad\.yml"):
        tradetel.configure(exporter="none", data_dir=tmp_path, alert_rules=tmp_path / "bad.yml")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
# Python 3.12+ warns about forking a process that has threads; that risk is what is tested.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_does_not_run_the_parents_evaluator(
    tmp_path: Path, webhook: HttpSink
) -> None:
    configure(tmp_path, webhook)
    try:
        pid = os.fork()
        if pid == 0:  # the child: its own pipeline comes up on first use, without alerts
            code = 1
            try:
                with tradetel.span("child work"):
                    pass
                p = _setup._pipeline
                code = 0 if p is not None and p.alerts is None else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert _setup._pipeline is not None
        assert _setup._pipeline.alerts is not None
    finally:
        tradetel.shutdown()


def test_a_restarted_process_keeps_its_firing_alerts_active_since(
    tmp_path: Path, webhook: HttpSink
) -> None:
    def run_once(requests: int) -> float:
        configure(tmp_path, webhook)
        try:
            perf = performance.tracker("momentum")
            perf.update_equity(10_000.0)
            perf.update_equity(8_000.0)
            webhook.wait_json(requests)
            p = _setup._pipeline
            assert p is not None
            assert p.alerts is not None
            (alert,) = [
                a
                for _, _, a in p.alerts.engine.alerts()
                if a.labels["trading_strategy_name"] == "momentum"
            ]
            assert "instance" not in alert.labels
            return alert.active_at
        finally:
            tradetel.shutdown()

    first = run_once(1)
    assert run_once(2) == first
