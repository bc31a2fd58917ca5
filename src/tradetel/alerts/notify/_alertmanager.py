"""The Alertmanager channel: alerts sent the way Prometheus sends them (ALERTING.md semantic 18).

Alertmanager does the grouping, inhibition, silences and repeat intervals itself, so this
channel is ``raw``: it gets every group evaluation's snapshot and applies Prometheus' sending
rules (``rules/alerting.go`` ``needsSending``/``sendAlerts``, ``rules/manager.go``
``SendAlerts``):

- a pending alert is never sent;
- a firing or resolved alert is sent when it has not been sent yet, when it resolved after its
  last send, or when its last send is ``resend_delay`` (default 1m) or more ago; the engine keeps
  a resolved alert for 15 minutes, so its resolution is repeated through that time;
- ``startsAt`` is when it started firing (Prometheus' FiredAt); ``endsAt`` is the resolution
  time of a resolved alert, and ``now + 4 * max(interval, resend_delay)`` for a firing one, so
  that Alertmanager resolves it by itself if the evaluator stops sending.

Two deliberate differences from Prometheus: a re-send is due at *exactly* ``resend_delay``
(Prometheus waits for strictly more, which with a 1m interval re-sends only every 2 minutes),
and an alert counts as sent only once Alertmanager accepted it (Prometheus marks it before
queueing), so a failed or retried POST repeats it at the next evaluation.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._model import Alert
from ._channel import Channel, Notification, register, secret
from ._format import rfc3339, starts_at
from ._http import check_url, post_json, seconds, tls_context

__all__ = ["AlertmanagerChannel", "postable_alert"]

#: alerts per POST, as Prometheus' notifier batches them (maxBatchSize)
_BATCH = 64
_PATH = "/api/v2/alerts"


def postable_alert(alert: Alert, ends_at: float | None) -> dict[str, Any]:
    """One element of ``POST /api/v2/alerts``.

    Without ``ends_at`` the alert has no ``endsAt``, and Alertmanager's ``resolve_timeout``
    applies.
    """
    item: dict[str, Any] = {
        # Prometheus never has empty label values, and Alertmanager rejects them
        "labels": {k: v for k, v in alert.labels.items() if v != ""},
        "annotations": {k: v for k, v in alert.annotations.items() if v != ""},
        "startsAt": rfc3339(starts_at(alert)),
    }
    if ends_at is not None:
        item["endsAt"] = rfc3339(ends_at)
    if alert.generator_url:
        item["generatorURL"] = alert.generator_url
    return item


@dataclass
class _Sent:
    """What the channel remembers of one alert instance (a fingerprint and its activeAt)."""

    active_at: float
    sent_at: float | None
    seen_at: float
    interval: float


@register
class AlertmanagerChannel(Channel):
    """POST alerts to Alertmanager's ``/api/v2/alerts``, following Prometheus' sending rules."""

    kind = "alertmanager"
    raw = True

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        base = str(secret(config, "url", channel=name)).rstrip("/")
        check_url(base, channel=name)
        self._url = base if base.endswith(_PATH) else base + _PATH
        token = secret(config, "bearer_token", channel=name, required=False)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = seconds(config, "timeout", 10.0, channel=name)
        self._resend_delay = seconds(config, "resend_delay", 60.0, channel=name)
        self._context = tls_context(config, channel=name)
        self._sent: dict[str, _Sent] = {}
        self._lock = threading.Lock()

    def send_snapshot(self, now: float, interval: float, alerts: Sequence[Alert]) -> None:
        """Send what Prometheus would send for one group evaluation at ``now``."""
        with self._lock:
            due: list[tuple[dict[str, Any], _Sent]] = []
            for alert in alerts:
                entry = self._entry(alert, now, interval)
                if alert.state != "pending" and self._needs_sending(alert, entry, now):
                    due.append((postable_alert(alert, self._ends_at(alert, now, interval)), entry))
            self._forget(now)
            for start in range(0, len(due), _BATCH):
                batch = due[start : start + _BATCH]
                self._post([item for item, _ in batch])
                for _, entry in batch:
                    entry.sent_at = now

    def send(self, notification: Notification) -> None:
        """Post a dispatcher's notification as is (``send_snapshot`` is the normal path)."""
        items = [
            postable_alert(alert, alert.resolved_at if alert.state == "inactive" else None)
            for alert in notification.alerts
        ]
        for start in range(0, len(items), _BATCH):
            self._post(items[start : start + _BATCH])

    def _entry(self, alert: Alert, now: float, interval: float) -> _Sent:
        entry = self._sent.get(alert.fingerprint)
        if entry is None or entry.active_at != alert.active_at:
            # a new instance (it went away and came back): Prometheus starts it unsent
            entry = self._sent[alert.fingerprint] = _Sent(alert.active_at, None, now, interval)
        entry.seen_at, entry.interval = now, interval
        return entry

    def _needs_sending(self, alert: Alert, entry: _Sent, now: float) -> bool:
        if entry.sent_at is None:
            return True
        if alert.resolved_at is not None and alert.resolved_at > entry.sent_at:
            return True
        return now - entry.sent_at >= self._resend_delay

    def _ends_at(self, alert: Alert, now: float, interval: float) -> float:
        if alert.state == "inactive":
            return alert.resolved_at if alert.resolved_at is not None else now
        # "allow for two Eval or Alertmanager send failures" (Prometheus' comment)
        return now + 4 * max(interval, self._resend_delay)

    def _forget(self, now: float) -> None:
        """Drop alerts gone from their group's snapshots.

        A snapshot holds one group's alerts, so an alert missing from it may belong to another
        group: it is forgotten once missing for two intervals of the group it was seen in.
        """
        gone = [fp for fp, e in self._sent.items() if now - e.seen_at > 2 * e.interval]
        for fingerprint in gone:
            del self._sent[fingerprint]

    def _post(self, items: list[dict[str, Any]]) -> None:
        post_json(
            self._url,
            items,
            channel=self.name,
            timeout=self._timeout,
            headers=self._headers,
            context=self._context,
            detail=_detail,
        )


def _detail(body: bytes) -> str | None:
    """Alertmanager's 400 answers say what is invalid, as JSON or as plain text."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        data = json.loads(text)
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
    return text or None
