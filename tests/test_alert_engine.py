"""The rule engine's semantics (ALERTING.md), driven at chosen evaluation times.

The conformance suite checks the same semantics against promtool; these tests cover what
promtool cannot show (a query error, restarts, scheduling, memory) and read as the spec does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tradetel.alerts._engine import Engine
from tradetel.alerts._model import Alert
from tradetel.alerts._rules import parse_rules
from tradetel.alerts._series import SeriesStore, labels_from
from tradetel.alerts._state import SQLiteState
from tradetel.alerts.notify import History, Notifier, load_notify

MIN = 60_000


class Recorder:
    """The engine's notifier interface, recording each group evaluation's alerts."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, list[Alert]]] = []

    def update(
        self, now: float, interval: float, alerts: Sequence[Alert], frozen: Sequence[Alert] = ()
    ) -> None:
        self.calls.append((now, [Alert(**vars(a)) for a in alerts]))


def engine(rules: str, *, state: SQLiteState | None = None) -> tuple[Engine, SeriesStore, Recorder]:
    store = SeriesStore()
    recorder = Recorder()
    groups = parse_rules(rules, "test.rules.yml")
    return (
        Engine(groups, interval_ms=MIN, store=store, notifier=recorder, state=state),
        store,
        recorder,
    )


def put(store: SeriesStore, t: int, value: float, **labels: str) -> None:
    store.append(labels_from({"__name__": "dd", **labels}), t, value)


def states(e: Engine) -> dict[str, tuple[str, float]]:
    return {a.labels.get("strategy", ""): (a.state, a.active_at) for _, _, a in e.alerts()}


ALERT = """
groups:
  - name: g
    rules:
      - alert: Drawdown
        expr: dd > 0.1
        for: {for_}
        keep_firing_for: {keep}
        labels: {{severity: critical, strategy: "{{{{ $labels.strategy }}}}"}}
        annotations: {{summary: "{{{{ $value }}}}"}}
"""


def alert_rules(for_: str = "0", keep: str = "0") -> str:
    return ALERT.format(for_=for_, keep=keep)


def test_with_for_zero_a_new_result_fires_in_the_same_evaluation() -> None:
    e, store, recorder = engine(alert_rules())
    put(store, 0, 0.2, strategy="s1")
    e.evaluate_all(0)
    assert states(e) == {"s1": ("firing", 0.0)}
    (alert,) = recorder.calls[-1][1]
    assert alert.labels == {"alertname": "Drawdown", "severity": "critical", "strategy": "s1"}


def test_pending_becomes_firing_once_for_has_passed() -> None:
    e, store, _ = engine(alert_rules(for_="2m"))
    for minute in range(4):
        put(store, minute * MIN, 0.2, strategy="s1")
        e.evaluate_all(minute * MIN)
        expected = "firing" if minute >= 2 else "pending"
        assert states(e) == {"s1": (expected, 0.0)}, minute


def test_a_pending_alert_that_goes_missing_is_dropped_and_its_clock_restarts() -> None:
    e, store, _ = engine(alert_rules(for_="2m"))
    for minute, value in enumerate([0.2, 0.2, 0.0, 0.2, 0.2]):
        put(store, minute * MIN, value, strategy="s1")
        e.evaluate_all(minute * MIN)
    assert states(e) == {"s1": ("pending", 180.0)}


def test_a_firing_alert_resolves_at_once_when_the_result_is_empty() -> None:
    e, store, recorder = engine(alert_rules())
    put(store, 0, 0.2, strategy="s1")
    e.evaluate_all(0)
    put(store, MIN, 0.0, strategy="s1")
    e.evaluate_all(MIN)
    assert states(e) == {}
    (resolved,) = recorder.calls[-1][1]
    assert (resolved.state, resolved.resolved_at) == ("inactive", 60.0)


def test_keep_firing_for_holds_the_alert_with_its_value_and_annotations_frozen() -> None:
    e, store, _ = engine(alert_rules(keep="2m"))
    for minute, value in enumerate([0.2, 0.3, 0.0, 0.0, 0.0]):
        put(store, minute * MIN, value, strategy="s1")
        e.evaluate_all(minute * MIN)
        alerts = [a for _, _, a in e.alerts()]
        if minute <= 3:
            (alert,) = alerts
            assert alert.state == "firing"
            assert alert.annotations["summary"] == ("0.2" if minute == 0 else "0.3")
        else:
            assert alerts == []


def test_labels_are_the_result_minus_name_then_rule_labels_then_alertname() -> None:
    e, store, _ = engine(alert_rules())
    put(store, 0, 0.2, strategy="s1", severity="low", venue="sim")
    e.evaluate_all(0)
    ((_, _, alert),) = e.alerts()
    assert alert.labels == {
        "alertname": "Drawdown",
        "severity": "critical",
        "strategy": "s1",
        "venue": "sim",
    }


def test_results_collapsing_to_one_label_set_make_the_rule_unhealthy() -> None:
    rules = alert_rules().replace('strategy: "{{ $labels.strategy }}"', 'strategy: "all"')
    e, store, recorder = engine(rules)
    put(store, 0, 0.2, strategy="s1")
    put(store, 0, 0.3, strategy="s2")
    e.evaluate_all(0)
    rule = e.groups[0].rules[0]
    assert rule.health == "err"
    assert "same labelset" in rule.last_error
    assert recorder.calls[-1][1] == []


def test_a_query_error_freezes_the_rules_alerts_and_sends_nothing() -> None:
    rules = """
groups:
  - name: g
    rules:
      - alert: Ratio
        expr: dd * on() group_left() limit > 0.1
"""
    e, store, recorder = engine(rules)
    put(store, 0, 0.2, strategy="s1")
    store.append(labels_from({"__name__": "limit", "k": "a"}), 0, 1.0)
    e.evaluate_all(0)
    assert [a.state for _, _, a in e.alerts()] == ["firing"]
    store.append(labels_from({"__name__": "limit", "k": "b"}), MIN, 1.0)  # now many-to-many
    put(store, MIN, 0.0, strategy="s1")
    e.evaluate_all(MIN)
    rule = e.groups[0].rules[0]
    assert rule.health == "err"
    assert [a.state for _, _, a in e.alerts()] == ["firing"]  # frozen, not resolved
    assert recorder.calls[-1][1] == []  # nothing sent for the broken rule


def test_recording_output_and_alerts_series_are_visible_to_later_rules_at_the_same_time() -> None:
    rules = """
groups:
  - name: g
    rules:
      - record: dd:max
        expr: max(dd)
      - alert: Deep
        expr: dd:max > 0.1
      - alert: DeepIsFiring
        expr: ALERTS{alertname="Deep", alertstate="firing"}
"""
    e, store, _ = engine(rules)
    put(store, 0, 0.2, strategy="s1")
    e.evaluate_all(0)
    assert sorted(a.name for _, _, a in e.alerts()) == ["Deep", "DeepIsFiring"]


def test_alert_state_survives_a_restart(tmp_path: Path) -> None:
    state = SQLiteState(tmp_path / "state.db")
    e, store, _ = engine(alert_rules(for_="5m"), state=state)
    put(store, 0, 0.2, strategy="s1")
    e.evaluate_all(0)
    put(store, MIN, 0.2, strategy="s1")
    e.evaluate_all(MIN)
    state.close()

    again = SQLiteState(tmp_path / "state.db")
    e2, store2, _ = engine(alert_rules(for_="5m"), state=again)
    assert states(e2) == {"s1": ("pending", 0.0)}
    for minute in range(2, 6):
        put(store2, minute * MIN, 0.2, strategy="s1")
        e2.evaluate_all(minute * MIN)
    assert states(e2) == {"s1": ("firing", 0.0)}  # for counted from before the restart
    again.close()


def test_groups_run_on_their_interval_and_missed_evaluations_are_skipped() -> None:
    rules = alert_rules().replace("- name: g", "- name: g\n    interval: 10s")
    e, store, recorder = engine(rules)
    put(store, 0, 0.2, strategy="s1")
    assert e.run_due(1_000) == 10.0
    assert e.run_due(5_000) == 6.0
    assert [now for now, _ in recorder.calls] == [1.0]
    e.run_due(41_500)  # 11s, 21s and 31s were missed; 41s runs
    assert [now for now, _ in recorder.calls] == [1.0, 41.0]
    assert e.missed == 3


def test_the_store_keeps_only_what_the_rules_windows_need() -> None:
    rules = alert_rules().replace("dd > 0.1", "rate(dd[10m]) > 0.1")
    e, store, _ = engine(rules)
    for minute in range(60):
        put(store, minute * MIN, float(minute), strategy="s1")
        e.run_due(minute * MIN)
    (series,) = store.all_series()
    assert series.times[0] >= 59 * MIN - store.retention_ms
    assert len(series.times) <= 12


def test_a_restored_alert_waits_for_its_series_instead_of_resolving(tmp_path: Path) -> None:
    state = SQLiteState(tmp_path / "state.db")
    e, store, _ = engine(alert_rules(), state=state)
    put(store, 0, 0.2, strategy="s1")
    e.evaluate_all(0)
    state.close()

    again = SQLiteState(tmp_path / "state.db")
    e2, store2, recorder = engine(alert_rules(), state=again)
    e2.evaluate_all(10 * MIN)  # the restarted process has not recorded the gauge yet
    assert states(e2) == {"s1": ("firing", 0.0)}
    assert [a.state for a in recorder.calls[-1][1]] == ["firing"]
    put(store2, 11 * MIN, 0.3, strategy="s1")
    e2.evaluate_all(11 * MIN)
    assert states(e2) == {"s1": ("firing", 0.0)}  # the same alert, activeAt kept
    again.close()


def test_a_restored_alert_whose_series_never_return_resolves_after_the_grace(
    tmp_path: Path,
) -> None:
    state = SQLiteState(tmp_path / "state.db")
    e, store, _ = engine(alert_rules(), state=state)
    put(store, 0, 0.2, strategy="s1")
    e.evaluate_all(0)
    state.close()

    again = SQLiteState(tmp_path / "state.db")
    e2, _, recorder = engine(alert_rules(), state=again)
    for minute in range(20, 31):
        e2.evaluate_all(minute * MIN)
    assert states(e2) == {}
    (resolved,) = recorder.calls[-1][1]
    assert (resolved.state, resolved.resolved_at) == ("inactive", 30 * 60.0)
    again.close()


def test_a_broken_rules_pending_alert_is_not_recorded_as_ended(tmp_path: Path) -> None:
    rules = """
groups:
  - name: g
    rules:
      - alert: Ratio
        expr: dd * on() group_left() limit > 0.1
        for: 10m
"""
    history = History(tmp_path / "history.db")
    notifier = Notifier(load_notify(None), history=history)
    store = SeriesStore()
    e = Engine(parse_rules(rules), interval_ms=MIN, store=store, notifier=notifier)
    put(store, 0, 0.2, strategy="s1")
    store.append(labels_from({"__name__": "limit", "k": "a"}), 0, 1.0)
    e.evaluate_all(0)
    store.append(labels_from({"__name__": "limit", "k": "b"}), MIN, 1.0)  # now many-to-many
    for minute in range(1, 6):
        e.evaluate_all(minute * MIN)
    assert notifier.flush()
    notifier.close()
    assert [entry.state for entry in history.query()] == ["pending"]
    history.close()
