"""The alert history: SQLite records of state changes, queries, and the CLI's rendering."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tradetel import ConfigError
from tradetel.alerts._model import Alert
from tradetel.alerts.notify import History, HistoryEntry, format_history

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def alert(name: str = "DrawdownLimit", severity: str = "critical", value: float = 0.15) -> Alert:
    return Alert(
        labels={"alertname": name, "severity": severity, "strategy": "momentum"},
        annotations={"summary": "momentum is 15% below its peak"},
        state="firing",
        value=value,
        active_at=T0,
    )


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    store = History(tmp_path / "history.db")
    yield store
    store.close()


def test_a_recorded_state_change_comes_back_whole(history: History) -> None:
    recorded = alert()
    history.record(recorded, "firing", T0 + 60)
    assert history.query() == [
        HistoryEntry(
            at=T0 + 60,
            alertname="DrawdownLimit",
            severity="critical",
            state="firing",
            labels=recorded.labels,
            annotations=recorded.annotations,
            value=0.15,
            fingerprint=recorded.fingerprint,
        )
    ]


def test_queries_filter_by_time_name_and_severity(history: History) -> None:
    history.record(alert("A", "critical"), "firing", T0)
    history.record(alert("B", "warning"), "firing", T0 + 10)
    history.record(alert("A", "critical"), "resolved", T0 + 20)
    history.record(alert("C", "critical"), "pending", T0 + 30)
    assert [(e.alertname, e.state) for e in history.query(since=T0 + 10, until=T0 + 20)] == [
        ("B", "firing"),
        ("A", "resolved"),
    ]
    assert [e.state for e in history.query(alertname="A")] == ["firing", "resolved"]
    assert [e.alertname for e in history.query(severity="critical", since=T0 + 5)] == ["A", "C"]


def test_a_limit_keeps_the_newest_entries_oldest_first(history: History) -> None:
    for step in range(5):
        history.record(alert(), "firing", T0 + step)
    assert [e.at for e in history.query(limit=2)] == [T0 + 3, T0 + 4]


def test_a_nan_value_is_kept(history: History) -> None:
    history.record(alert(value=math.nan), "firing", T0)
    assert math.isnan(history.query()[0].value)


def test_the_history_survives_reopening_the_file(tmp_path: Path) -> None:
    first = History(tmp_path / "sub" / "history.db")
    first.record(alert(), "firing", T0)
    first.close()
    again = History(tmp_path / "sub" / "history.db")
    assert [e.state for e in again.query()] == ["firing"]
    again.close()


def test_several_threads_may_record_at_once(history: History) -> None:
    def write(index: int) -> None:
        for step in range(50):
            history.record(alert(f"A{index}"), "firing", T0 + step)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(history.query()) == 200


def test_a_history_that_cannot_be_opened_is_a_config_error_naming_the_path(
    tmp_path: Path,
) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(ConfigError, match=r"alert history .*dir\.db: cannot open it"):
        History(tmp_path / "dir.db")


def test_text_format_is_one_aligned_line_per_entry_in_utc(history: History) -> None:
    history.record(alert("DrawdownLimit"), "firing", T0)
    history.record(alert("Rejects", "warning", value=3), "resolved", T0 + 90.5)
    assert format_history(history.query(), fmt="text") == (
        '2023-11-14T22:13:20.000Z  firing    critical  DrawdownLimit  {strategy="momentum"}  0.15\n'
        '2023-11-14T22:14:50.500Z  resolved  warning   Rejects        {strategy="momentum"}  3\n'
    )


def test_text_format_says_when_there_is_nothing() -> None:
    assert format_history([], fmt="text") == "no alert state changes\n"


def test_json_format_is_a_list_of_entries_with_their_time(history: History) -> None:
    history.record(alert(value=math.inf), "firing", T0)
    (entry,) = json.loads(format_history(history.query(), fmt="json"))
    assert (entry["time"], entry["at"], entry["state"], entry["value"]) == (
        "2023-11-14T22:13:20.000Z",
        T0,
        "firing",
        "+Inf",
    )
    assert entry["labels"]["strategy"] == "momentum"


def test_an_unknown_format_is_an_error() -> None:
    with pytest.raises(ConfigError, match="history format must be one of text, json, not 'csv'"):
        format_history([], fmt="csv")
