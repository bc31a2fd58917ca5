"""Alert state that survives a restart of the evaluator (semantic 19), in SQLite."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from .._errors import ConfigError
from ._model import Alert

logger = logging.getLogger("tradetel")

__all__ = ["SQLiteState"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (
    rule_group TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    alert TEXT NOT NULL,
    PRIMARY KEY (rule_group, fingerprint)
)
"""


class SQLiteState:
    """Each group's alerts (pending, firing, resolved within retention), saved after evaluations.

    Only groups whose alerts changed are written, so a steady state costs no disk writes.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                os.fspath(path), check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"{os.fspath(path)}: the alert state file cannot be used ({exc}); "
                "remove it to start without the saved alert state"
            ) from None
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}

    def load(self, key: str) -> list[Alert]:
        with self._lock:
            rows = self._db.execute(
                "SELECT alert FROM alert_state WHERE rule_group = ?", (key,)
            ).fetchall()
        alerts = []
        for (text,) in rows:
            try:
                alerts.append(_decode(text))
            except (ValueError, KeyError, TypeError):
                logger.warning(
                    "tradetel: skipped an unreadable saved alert of %s",
                    key.rsplit("\x00", maxsplit=1)[-1],
                )
        self._last[key] = _signature(alerts)
        return alerts

    def save(self, key: str, alerts: Sequence[Alert]) -> None:
        signature = _signature(alerts)
        if self._last.get(key) == signature:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM alert_state WHERE rule_group = ?", (key,))
                self._db.executemany(
                    "INSERT INTO alert_state VALUES (?, ?, ?)",
                    [(key, a.fingerprint, _encode(a)) for a in alerts],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._last[key] = signature

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _signature(alerts: Sequence[Alert]) -> str:
    # Values change on every evaluation; state and times are what a restart needs.
    return "|".join(
        sorted(
            f"{a.fingerprint}:{a.state}:{a.active_at}:{a.fired_at}:{a.resolved_at}:{a.keep_firing_since}"
            for a in alerts
        )
    )


def _encode(alert: Alert) -> str:
    return json.dumps(
        {
            "labels": alert.labels,
            "annotations": alert.annotations,
            "state": alert.state,
            "value": alert.value if alert.value == alert.value else None,
            "active_at": alert.active_at,
            "fired_at": alert.fired_at,
            "resolved_at": alert.resolved_at,
            "keep_firing_since": alert.keep_firing_since,
            "generator_url": alert.generator_url,
        }
    )


def _decode(text: str) -> Alert:
    data = json.loads(text)
    value = data.get("value")
    return Alert(
        labels=data["labels"],
        annotations=data["annotations"],
        state=data["state"],
        value=float("nan") if value is None else float(value),
        active_at=data["active_at"],
        fired_at=data.get("fired_at"),
        resolved_at=data.get("resolved_at"),
        keep_firing_since=data.get("keep_firing_since"),
        generator_url=data.get("generator_url", ""),
    )
