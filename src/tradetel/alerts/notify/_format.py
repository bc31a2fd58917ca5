"""Plain-text rendering of a notification, shared by the channels that send text.

A notification renders as a title line (``[FIRING:2] DrawdownLimit (critical)``, also the
email subject), one line per alert and, when the channel's rate limit held messages back,
a summary line that says how many and for which alerts, so nothing is lost silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from .._model import Alert
from ._channel import Notification

__all__ = [
    "ZERO_TIME",
    "alert_line",
    "alert_names",
    "format_value",
    "held_back_line",
    "json_value",
    "label_text",
    "other_labels",
    "render_text",
    "rfc3339",
    "starts_at",
    "title",
    "top_severity",
]

#: Alertmanager's rendering of "no end time" in its webhook payloads (Go's zero time)
ZERO_TIME = "0001-01-01T00:00:00Z"
#: most severe first; severities outside this list rank below ``info``
_SEVERITIES = ("emergency", "critical", "warning", "info")
#: alert names listed in a title before "+N more"
_TITLE_NAMES = 3


def rfc3339(timestamp: float) -> str:
    """Epoch seconds as an RFC 3339 UTC time with milliseconds (``2024-05-01T12:00:00.000Z``)."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def starts_at(alert: Alert) -> float:
    """When the alert started firing, as Prometheus sends it (FiredAt; activeAt if unknown)."""
    return alert.fired_at if alert.fired_at is not None else alert.active_at


def format_value(value: float) -> str:
    """A sample value as Prometheus prints it: ``12``, ``0.125``, ``+Inf``, ``NaN``."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def json_value(value: float) -> float | str:
    """A value for a JSON payload: the number, or ``"+Inf"``/``"-Inf"``/``"NaN"`` (not JSON)."""
    return float(value) if math.isfinite(value) else format_value(value)


def alert_names(alerts: Iterable[Alert]) -> list[str]:
    """The distinct alert names, in order of first appearance."""
    return list(dict.fromkeys(alert.name for alert in alerts))


def top_severity(alerts: Iterable[Alert]) -> str:
    """The most severe ``severity`` label among the alerts ("" when none has one)."""
    found = {alert.severity for alert in alerts if alert.severity}
    for severity in _SEVERITIES:
        if severity in found:
            return severity
    return min(found) if found else ""


def title(notification: Notification) -> str:
    """``[FIRING:2] DrawdownLimit (critical)``: status, count, alert names, top severity."""
    names = alert_names(notification.alerts)
    shown = ", ".join(names[:_TITLE_NAMES]) or "alerts"
    if len(names) > _TITLE_NAMES:
        shown += f" +{len(names) - _TITLE_NAMES} more"
    text = f"[{notification.status.upper()}:{len(notification.alerts)}] {shown}"
    severity = top_severity(notification.alerts)
    return f"{text} ({severity})" if severity else text


def other_labels(alert: Alert) -> list[tuple[str, str]]:
    """The labels that the alert name and severity do not already show, sorted by name."""
    return sorted((k, v) for k, v in alert.labels.items() if k not in ("alertname", "severity"))


def label_text(labels: Sequence[tuple[str, str]]) -> str:
    """Labels in PromQL's notation: ``{desk="fx", strategy="mm"}`` ("" for none)."""
    if not labels:
        return ""
    return "{" + ", ".join(f'{key}="{value}"' for key, value in labels) + "}"


def alert_line(alert: Alert) -> str:
    """``DrawdownLimit (critical) {desk="fx"} value=0.12: Drawdown at 12%``."""
    parts = [alert.name]
    if alert.severity:
        parts.append(f"({alert.severity})")
    labels = label_text(other_labels(alert))
    if labels:
        parts.append(labels)
    parts.append(f"value={format_value(alert.value)}")
    line = " ".join(parts)
    summary = alert.annotations.get("summary") or alert.annotations.get("description")
    return f"{line}: {summary}" if summary else line


def held_back_line(count: int, names: Iterable[str]) -> str:
    """``3 more notifications were held back by the rate limit: DrawdownLimit, OrderRejects``."""
    noun = "notification was" if count == 1 else "notifications were"
    line = f"{count} more {noun} held back by the rate limit"
    unique = [name for name in dict.fromkeys(names) if name]
    return f"{line}: {', '.join(unique)}" if unique else line


def render_text(notification: Notification, *, details: bool = False) -> str:
    """The notification as plain text; ``details`` adds annotations, times and source links."""
    lines = [title(notification), ""]
    for alert in notification.alerts:
        lines.append(f"- {alert_line(alert)}")
        if details:
            lines.extend(_details(alert))
    if notification.held_back:
        lines += ["", held_back_line(notification.held_back, notification.held_back_names)]
    return "\n".join(lines) + "\n"


def _details(alert: Alert) -> list[str]:
    # the alert line already shows the summary (or, without one, the description)
    shown = "summary" if alert.annotations.get("summary") else "description"
    lines = [
        f"    {key}: {value}"
        for key, value in sorted(alert.annotations.items())
        if key != shown and value
    ]
    lines.append(f"    started: {rfc3339(starts_at(alert))}")
    if alert.resolved_at is not None:
        lines.append(f"    resolved: {rfc3339(alert.resolved_at)}")
    if alert.generator_url:
        lines.append(f"    source: {alert.generator_url}")
    return lines
