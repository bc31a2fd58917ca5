"""The built-in channels: log, webhook, Slack, Discord and Telegram.

Email and Alertmanager live in their own modules, imported here so that importing this one
(what :func:`~._channel.channel_types` does) registers every kind.

Webhook signatures: with ``hmac_secret`` set, each request carries ``X-Tradetel-Timestamp``
(unix seconds) and ``X-Tradetel-Signature: sha256=<hex>``, the HMAC-SHA256 under the secret of
the timestamp, a dot and the exact body bytes: ``f"{timestamp}.".encode() + body``.  A
receiver recomputes it over the raw body before parsing it, compares with
``hmac.compare_digest`` and rejects old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from ..._errors import ConfigError
from .._model import Alert
from . import _alertmanager, _email  # noqa: F401 - imported to register their channels
from ._channel import Channel, Notification, register, secret
from ._format import (
    ZERO_TIME,
    alert_line,
    format_value,
    held_back_line,
    json_value,
    other_labels,
    rfc3339,
    starts_at,
    title,
)
from ._http import check_url, encode_json, post, post_json, seconds, tls_context

__all__ = [
    "DiscordChannel",
    "LogChannel",
    "SlackChannel",
    "TelegramChannel",
    "WebhookChannel",
    "telegram_text",
    "webhook_payload",
]

logger = logging.getLogger("tradetel.alerts")

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_COLORS = {"resolved": 0x2E7D32, "emergency": 0x8E24AA, "critical": 0xD32F2F, "warning": 0xF9A825}
_DEFAULT_COLOR = 0x1E88E5
_DISCORD_EMBEDS, _DISCORD_CONTENT, _DISCORD_TOTAL, _DISCORD_FIELDS = 10, 2000, 6000, 25
_SLACK_ALERTS, _SLACK_SECTION = 20, 3000
_TELEGRAM_TEXT, _TELEGRAM_LINE = 4096, 1000


def _not_shown(count: int) -> str:
    return f"{count} more alert{'' if count == 1 else 's'} not shown"


@register
class LogChannel(Channel):
    """One log line per alert on ``tradetel.alerts``: WARNING when firing, INFO when resolved."""

    kind = "log"

    def send(self, notification: Notification) -> None:
        level = logging.WARNING if notification.status == "firing" else logging.INFO
        status = notification.status.upper()
        for alert in notification.alerts:
            extra = {"alertname": alert.name, "alert_status": notification.status}
            logger.log(level, "%s %s", status, alert_line(alert), extra=extra)
        if notification.held_back:
            line = held_back_line(notification.held_back, notification.held_back_names)
            logger.log(level, "channel %r: %s", self.name, line)


def webhook_payload(notification: Notification, receiver: str) -> dict[str, Any]:
    """Alertmanager's webhook payload, plus each alert's ``value`` and the held-back count."""
    alerts = notification.alerts
    return {
        "version": "1",
        "status": notification.status,
        "receiver": receiver,
        "alerts": [_alert_json(alert) for alert in alerts],
        "commonLabels": _common([alert.labels for alert in alerts]),
        "commonAnnotations": _common([alert.annotations for alert in alerts]),
        "heldBack": notification.held_back,
        "heldBackAlertnames": list(dict.fromkeys(notification.held_back_names)),
    }


def _alert_json(alert: Alert) -> dict[str, Any]:
    resolved_at = alert.resolved_at if alert.state == "inactive" else None
    return {
        "status": "firing" if resolved_at is None else "resolved",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": rfc3339(starts_at(alert)),
        "endsAt": ZERO_TIME if resolved_at is None else rfc3339(resolved_at),
        "fingerprint": alert.fingerprint,
        "value": json_value(alert.value),
        "generatorURL": alert.generator_url,
    }


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    return {k: v for k, v in maps[0].items() if all(m.get(k) == v for m in maps[1:])}


def _headers(config: Mapping[str, Any], channel: str) -> dict[str, str]:
    raw = config.get("headers") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"channel {channel!r}: headers must be a map of header names to values")
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if not _HEADER_NAME.fullmatch(str(name)):
            raise ConfigError(f"channel {channel!r}: headers: {str(name)!r} is not a header name")
        text = str(value)
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):  # the value may be a token
            raise ConfigError(f"channel {channel!r}: headers: {name} has a control character")
        headers[str(name)] = text
    return headers


@register
class WebhookChannel(Channel):
    """POST :func:`webhook_payload` as JSON to ``url``, optionally signed (module docstring)."""

    kind = "webhook"

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self._url = str(secret(config, "url", channel=name))
        check_url(self._url, channel=name)
        self._headers = _headers(config, name)
        self._key = secret(config, "hmac_secret", channel=name, required=False)
        self._timeout = seconds(config, "timeout", 10.0, channel=name)
        self._context = tls_context(config, channel=name)

    def send(self, notification: Notification) -> None:
        body = encode_json(webhook_payload(notification, self.name))
        headers = dict(self._headers)
        if self._key is not None:
            timestamp = str(int(time.time()))
            signed = f"{timestamp}.".encode() + body
            digest = hmac.new(self._key.encode(), signed, hashlib.sha256).hexdigest()
            headers["X-Tradetel-Timestamp"] = timestamp
            headers["X-Tradetel-Signature"] = f"sha256={digest}"
        post(
            self._url,
            body,
            channel=self.name,
            timeout=self._timeout,
            headers=headers,
            context=self._context,
        )


class _ChatChannel(Channel):
    """A chat webhook: the URL is a secret, the payload is rendered by :meth:`payload`."""

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self._url = str(secret(config, "url", channel=name))
        check_url(self._url, channel=name)
        self._timeout = seconds(config, "timeout", 10.0, channel=name)

    def payload(self, notification: Notification) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, notification: Notification) -> None:
        payload = self.payload(notification)
        post_json(self._url, payload, channel=self.name, timeout=self._timeout, detail=_detail)


def _detail(body: bytes) -> str | None:
    """Slack answers ``invalid_payload``-style words, Discord and Telegram JSON with a message."""
    text = body.decode("utf-8", "replace").strip()
    if re.fullmatch(r"[a-z_]{1,64}", text):
        return text
    data = json.loads(text)
    if isinstance(data, dict):
        found = data.get("description") or data.get("message")
        return str(found) if found else None
    return None


def _color(status: str, alerts: list[Alert]) -> int:
    if status == "resolved":
        return _COLORS["resolved"]
    for severity in ("emergency", "critical", "warning"):
        if any(alert.severity == severity for alert in alerts):
            return _COLORS[severity]
    return _DEFAULT_COLOR


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@register
class SlackChannel(_ChatChannel):
    """A Slack incoming webhook: a bold title, then a colour bar with one section per alert."""

    kind = "slack"

    def payload(self, notification: Notification) -> dict[str, Any]:
        shown = notification.alerts[:_SLACK_ALERTS]
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": self._alert(alert)}}
            for alert in shown
        ]
        notes = []
        if len(notification.alerts) > len(shown):
            notes.append(_not_shown(len(notification.alerts) - len(shown)))
        if notification.held_back:
            notes.append(held_back_line(notification.held_back, notification.held_back_names))
        if notes:
            text = _slack_escape("\n".join(notes))
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
        color = f"#{_color(notification.status, notification.alerts):06x}"
        return {
            "text": f"*{_slack_escape(title(notification))}*",
            "attachments": [{"color": color, "blocks": blocks}],
        }

    @staticmethod
    def _alert(alert: Alert) -> str:
        head = f"*{_slack_escape(alert.name)}*"
        if alert.severity:
            head += f" · {_slack_escape(alert.severity)}"
        lines = [head]
        for key in ("summary", "description"):
            if alert.annotations.get(key):
                lines.append(_slack_escape(alert.annotations[key]))
        facts = [f"`{_slack_escape(f'{k}={v}')}`" for k, v in other_labels(alert)]
        facts.append(f"value {_slack_escape(format_value(alert.value))}")
        if alert.generator_url and not set("|<>") & set(alert.generator_url):
            facts.append(f"<{alert.generator_url}|source>")
        lines.append(" ".join(facts))
        return _cut("\n".join(lines), _SLACK_SECTION)


def _discord_escape(text: str) -> str:
    return re.sub(r"([\\*_~`|>])", r"\\\1", text)


@register
class DiscordChannel(_ChatChannel):
    """A Discord webhook: the title as content, one embed per alert, within Discord's limits."""

    kind = "discord"

    def payload(self, notification: Notification) -> dict[str, Any]:
        embeds: list[dict[str, Any]] = []
        total = 0
        for alert in notification.alerts[:_DISCORD_EMBEDS]:
            embed = self._embed(alert, notification.status)
            size = _embed_size(embed)
            if total + size > _DISCORD_TOTAL:
                break
            embeds.append(embed)
            total += size
        lines = [_discord_escape(title(notification))]
        if len(notification.alerts) > len(embeds):
            hidden = len(notification.alerts) - len(embeds)
            lines.append(f"{_not_shown(hidden)} (Discord's limit per message)")
        if notification.held_back:
            line = held_back_line(notification.held_back, notification.held_back_names)
            lines.append(_discord_escape(line))
        return {
            "content": _cut("\n".join(lines), _DISCORD_CONTENT),
            "embeds": embeds,
            # label values must never ping @everyone or a role
            "allowed_mentions": {"parse": []},
        }

    @staticmethod
    def _embed(alert: Alert, status: str) -> dict[str, Any]:
        name = f"{alert.name} ({alert.severity})" if alert.severity else alert.name
        notes = (alert.annotations.get(key) for key in ("summary", "description"))
        text = "\n".join(note for note in notes if note)
        fields = [{"name": "value", "value": format_value(alert.value), "inline": True}]
        fields += [
            {"name": _cut(key, 256), "value": _cut(value or "-", 1024), "inline": True}
            for key, value in other_labels(alert)
        ]
        embed: dict[str, Any] = {
            "title": _cut(f"{status.upper()}: {name}", 256),
            "color": _color(status, [alert]),
            "fields": fields[:_DISCORD_FIELDS],
            "timestamp": rfc3339(starts_at(alert)),
        }
        if text:
            embed["description"] = _cut(text, 4096)
        if alert.generator_url.startswith(("http://", "https://")):
            embed["url"] = alert.generator_url
        return embed


def _embed_size(embed: dict[str, Any]) -> int:
    """The characters that count towards Discord's 6000 per message."""
    size = len(embed["title"]) + len(embed.get("description", ""))
    return size + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@register
class TelegramChannel(Channel):
    """A Telegram bot message (HTML) to ``chat_id``; the bot ``token`` is a secret."""

    kind = "telegram"

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        token = str(secret(config, "token", channel=name))
        if not re.fullmatch(r"[0-9]+:[A-Za-z0-9_-]+", token):
            raise ConfigError(f"channel {name!r}: token does not look like a bot token (123:ABC)")
        chat_id = config.get("chat_id")
        if chat_id is None or isinstance(chat_id, bool) or str(chat_id).strip() == "":
            raise ConfigError(f"channel {name!r}: chat_id is required (a number or @channel)")
        self._chat_id: int | str = chat_id if isinstance(chat_id, int) else str(chat_id).strip()
        api_url = str(config.get("api_url") or "https://api.telegram.org").rstrip("/")
        check_url(api_url, channel=name, key="api_url")
        self._url = f"{api_url}/bot{token}/sendMessage"
        self._timeout = seconds(config, "timeout", 10.0, channel=name)

    def send(self, notification: Notification) -> None:
        payload = {
            "chat_id": self._chat_id,
            "text": telegram_text(notification),
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        }
        post_json(self._url, payload, channel=self.name, timeout=self._timeout, detail=_detail)


def telegram_text(notification: Notification) -> str:
    """The message in Telegram's HTML, cut at a line so that it fits 4096 characters."""
    head = f"<b>{html.escape(title(notification), quote=False)}</b>\n"
    tail = ""
    if notification.held_back:
        line = held_back_line(notification.held_back, notification.held_back_names)
        tail = f"\n<i>{html.escape(line, quote=False)}</i>"
    lines = [
        html.escape(_cut(f"• {alert_line(alert)}", _TELEGRAM_LINE), quote=False)
        for alert in notification.alerts
    ]
    for keep in range(len(lines), -1, -1):
        more = len(lines) - keep
        note = [f"… {_not_shown(more)}"] if more else []
        text = head + "\n".join(lines[:keep] + note) + tail
        if _utf16_len(text) <= _TELEGRAM_TEXT:
            return text
    return _cut(html.escape(title(notification), quote=False), _TELEGRAM_TEXT)
