"""Alert history: every state change of every alert, in SQLite, queryable by time, name and
severity (``tradetel alerts history``).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..._errors import ConfigError
from .._model import Alert
from ._format import format_value, label_text, rfc3339

__all__ = ["History", "HistoryEntry", "format_history"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_history (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    alertname TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    value REAL,
    fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_history_at ON alert_history (at);
"""
_COLUMNS = "at, alertname, severity, state, labels, annotations, value, fingerprint"
_FORMATS = ("text", "json")


@dataclass
class HistoryEntry:
    """One state change: ``state`` is ``pending``, ``firing``, ``resolved`` (a firing alert
    ended) or ``inactive`` (a pending alert ended without firing)."""

    at: float
    alertname: str
    severity: str
    state: str
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    fingerprint: str


class History:
    """An SQLite file of alert state changes; safe to use from several threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            # readers (the CLI) do not block the writer, nor the writer them
            self._db.execute("PRAGMA journal_mode=WAL")
            # in WAL mode, NORMAL cannot corrupt the file; a power cut may lose the last changes
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"alert history {self.path}: cannot open it ({exc})") from None

    def record(self, alert: Alert, state: str, at: float) -> None:
        """Store one state change of ``alert``."""
        self.record_many([(alert, state, at)])

    def record_many(self, changes: Iterable[tuple[Alert, str, float]]) -> None:
        """Store several state changes (alert, state, time) in one transaction."""
        rows = [_row(alert, state, at) for alert, state, at in changes]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    f"INSERT INTO alert_history ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)", rows
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        alertname: str | None = None,
        severity: str | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """The state changes in ``[since, until]`` of that name and severity, oldest first;
        with ``limit``, the newest ``limit`` of them."""
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("at >= ?", since),
            ("at <= ?", until),
            ("alertname = ?", alertname),
            ("severity = ?", severity),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = f"SELECT {_COLUMNS} FROM alert_history"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_entry(row) for row in reversed(rows)]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def _row(alert: Alert, state: str, at: float) -> tuple[Any, ...]:
    return (
        at,
        alert.name,
        alert.severity,
        state,
        json.dumps(alert.labels, sort_keys=True),
        json.dumps(alert.annotations, sort_keys=True),
        None if math.isnan(alert.value) else alert.value,  # SQLite has no NaN
        alert.fingerprint,
    )


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    at, alertname, severity, state, labels, annotations, value, fingerprint = row
    return HistoryEntry(
        at=at,
        alertname=alertname,
        severity=severity,
        state=state,
        labels=json.loads(labels),
        annotations=json.loads(annotations),
        value=math.nan if value is None else value,
        fingerprint=fingerprint,
    )


def format_history(entries: Iterable[HistoryEntry], *, fmt: str) -> str:
    """The entries for ``tradetel alerts history``: ``text`` (aligned lines) or ``json``."""
    if fmt not in _FORMATS:
        raise ConfigError(f"history format must be one of {', '.join(_FORMATS)}, not {fmt!r}")
    entries = list(entries)
    if fmt == "json":
        out = []
        for entry in entries:
            item = asdict(entry)
            item["time"] = rfc3339(entry.at)
            item["value"] = entry.value if math.isfinite(entry.value) else format_value(entry.value)
            out.append(item)
        return json.dumps(out, indent=2, sort_keys=True) + "\n"
    if not entries:
        return "no alert state changes\n"
    rows = [
        (
            rfc3339(entry.at),
            entry.state,
            entry.severity or "-",
            entry.alertname,
            label_text(
                sorted(
                    (k, v) for k, v in entry.labels.items() if k not in ("alertname", "severity")
                )
            )
            or "-",
            format_value(entry.value),
        )
        for entry in entries
    ]
    # every column padded to its widest cell, except the last (the value)
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    widths[-1] = 0
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]  # fmt: skip
    return "\n".join(lines) + "\n"
