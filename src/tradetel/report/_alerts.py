"""The alerts of a run: firing-to-resolved episodes from the SQLite alert history.

The history (``alerts-history.db`` in the data folder, written by the alert evaluator) holds
every state change. A report never fails for its sake: a missing or unreadable file gives a
section with a note instead.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Collection, Iterable
from pathlib import Path

from .._internal import printable
from ..alerts.notify import History, HistoryEntry
from ._model import AlertEpisode, AlertSection

__all__ = ["HISTORY_FILE", "alert_section", "episodes"]

HISTORY_FILE = "alerts-history.db"

# Prometheus' names of the labels that say which venue and which service an alert is about.
_VENUE_LABELS = ("trading_venue", "venue")
_SERVICE_LABELS = ("service_name", "job")


def alert_section(
    data_dir: Path | None,
    *,
    since: float | None = None,
    until: float | None = None,
    services: Collection[str] = (),
    venues: Collection[str] = (),
) -> AlertSection:
    """The episodes in ``[since, until]`` of the history in ``data_dir``, or why none."""
    if data_dir is None:
        return AlertSection(None, [], "no data folder given, so no alert history")
    path = data_dir / HISTORY_FILE
    if not path.is_file():
        return AlertSection(str(path), [], f"no alert history ({HISTORY_FILE} not found)")
    # History(path) would create a missing file, hence the check above; it then only reads.
    try:
        store = History(path)
        try:
            # Up to ``until`` from the start: an alert that fired before the window and
            # resolved in it belongs to the window too.
            entries = store.query(until=until)
        finally:
            store.close()
    except (sqlite3.Error, OSError, ValueError) as exc:  # ConfigError is a ValueError
        return AlertSection(str(path), [], f"alert history unreadable: {exc}")
    found = [
        episode
        for episode in episodes(entries)
        if (
            since is None
            or (episode.resolved_at is None and not episode.end_unknown)
            or (episode.resolved_at or episode.fired_at or 0) >= since
        )
        and _wanted(episode.labels, services, venues)
    ]
    return AlertSection(str(path), found)


def episodes(entries: Iterable[HistoryEntry]) -> list[AlertEpisode]:
    """Pair each alert's ``firing`` with its next ``resolved``, by fingerprint, in time order.

    An alert still firing at the end has no ``resolved_at``; one resolved without a firing
    entry (before the history's start) has no ``fired_at``. A ``firing`` while the alert is
    already open means that no ``resolved`` was recorded (the evaluating process stopped while
    it fired): the open episode ends there, its end unknown, and a new one starts.
    """
    open_: dict[str, AlertEpisode] = {}
    done: list[AlertEpisode] = []
    for entry in entries:
        key = entry.fingerprint or entry.alertname
        if entry.state == "firing":
            if key in open_:
                lost = open_.pop(key)
                lost.end_unknown = True
                done.append(lost)
            open_[key] = _episode(entry, fired_at=entry.at)
        elif entry.state == "resolved":
            episode = open_.pop(key, None)
            if episode is None:
                episode = _episode(entry, fired_at=None)
            episode.resolved_at = entry.at
            done.append(episode)
    done.extend(open_.values())
    done.sort(key=lambda e: (e.fired_at if e.fired_at is not None else -math.inf, e.alertname))
    return done


def _episode(entry: HistoryEntry, fired_at: float | None) -> AlertEpisode:
    annotations = entry.annotations
    summary = annotations.get("summary") or annotations.get("description") or ""
    return AlertEpisode(
        alertname=printable(entry.alertname),
        severity=printable(entry.severity),
        labels={printable(k): printable(v) for k, v in entry.labels.items()},
        fired_at=fired_at,
        resolved_at=None,
        value=entry.value if math.isfinite(entry.value) else None,
        summary=printable(str(summary)),
    )


def _wanted(labels: dict[str, str], services: Collection[str], venues: Collection[str]) -> bool:
    """Kept unless a label names a service or venue other than those asked for."""
    for wanted, keys in ((services, _SERVICE_LABELS), (venues, _VENUE_LABELS)):
        values = [labels[key] for key in keys if key in labels]
        if wanted and values and not any(value in wanted for value in values):
            return False
    return True


def labels_text(labels: dict[str, str]) -> str:
    """The labels that tell one alert of a name from another (``{strategy="momo"}``)."""
    shown = sorted((k, v) for k, v in labels.items() if k not in ("alertname", "severity"))
    return "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in shown) + "}" if shown else ""
