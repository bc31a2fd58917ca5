"""The email channel: SMTP with STARTTLS, the server's certificate verified.

The certificate is checked against the system's CAs, or against ``ca_file`` for a self-hosted
server with a private CA.  A password is never sent over a connection without TLS unless the
channel says ``insecure: true`` (a local relay on a trusted network).
"""

from __future__ import annotations

import email.utils
import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from ..._errors import ConfigError
from ._channel import Channel, DeliveryError, Notification, register, secret
from ._format import render_text, title
from ._http import connection_error, seconds, tls_context

__all__ = ["EmailChannel"]

logger = logging.getLogger("tradetel.alerts")


def _text(config: Mapping[str, Any], key: str, channel: str, *, required: bool = True) -> str:
    value = config.get(key)
    if value is None or str(value).strip() == "":
        if required:
            raise ConfigError(f"channel {channel!r}: {key} is required")
        return ""
    text = str(value).strip()
    if "\r" in text or "\n" in text:
        raise ConfigError(f"channel {channel!r}: {key} must be on one line")
    return text


def _flag(config: Mapping[str, Any], key: str, default: bool, channel: str) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"channel {channel!r}: {key} must be true or false (got {value!r})")
    return value


def _recipients(config: Mapping[str, Any], channel: str) -> list[str]:
    raw = config.get("to")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise ConfigError(f"channel {channel!r}: to must be an address or a list of addresses")
    return [_text({"to": item}, "to", channel) for item in items]


@register
class EmailChannel(Channel):
    """One email per notification: the title as subject, the alerts with details as text."""

    kind = "email"

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self._host = _text(config, "host", name)
        port = config.get("port", 587)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"channel {name!r}: port must be a number from 1 to 65535")
        self._port = port
        self._starttls = _flag(config, "starttls", True, name)
        self._username = _text(config, "username", name, required=False)
        self._password = secret(config, "password", channel=name, required=False)
        if bool(self._username) != bool(self._password):
            raise ConfigError(f"channel {name!r}: username and password go together")
        if self._password and not self._starttls and not _flag(config, "insecure", False, name):
            raise ConfigError(
                f"channel {name!r}: refusing to send the SMTP password without TLS "
                "(set starttls: true, or insecure: true for a trusted local relay)"
            )
        self._from = _text(config, "from", name)
        self._to = _recipients(config, name)
        self._timeout = seconds(config, "timeout", 10.0, channel=name)
        self._context = tls_context(config, channel=name) or ssl.create_default_context()

    def message(self, notification: Notification) -> EmailMessage:
        """The email for a notification (its subject is ``[FIRING:2] DrawdownLimit (critical)``)."""
        message = EmailMessage()
        message["Subject"] = title(notification)
        message["From"] = self._from
        message["To"] = ", ".join(self._to)
        message["Date"] = email.utils.formatdate(usegmt=True)
        domain = self._from.rpartition("@")[2].strip(">") or None
        message["Message-ID"] = email.utils.make_msgid("tradetel", domain=domain)
        message.set_content(render_text(notification, details=True))
        return message

    def send(self, notification: Notification) -> None:
        message = self.message(notification)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.ehlo()
                if self._starttls:
                    if not smtp.has_extn("starttls"):
                        raise self._error("the server does not offer STARTTLS", retryable=False)
                    smtp.starttls(context=self._context)
                    smtp.ehlo()
                if self._username and self._password:
                    smtp.login(self._username, self._password)
                refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise self._error(f"SMTP authentication failed ({exc.smtp_code})", False) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            temporary = all(400 <= code < 500 for code in codes)
            raise self._error(f"the server refused every recipient {codes}", temporary) from None
        except smtplib.SMTPResponseException as exc:
            temporary = 400 <= exc.smtp_code < 500
            raise self._error(f"the server answered {exc.smtp_code}", temporary) from None
        except smtplib.SMTPNotSupportedError:
            raise self._error("the server does not support SMTP AUTH", False) from None
        except smtplib.SMTPServerDisconnected:
            raise self._error("the server closed the connection") from None
        except smtplib.SMTPException as exc:
            raise self._error(f"SMTP failed ({type(exc).__name__})") from None
        except OSError as exc:
            raise connection_error(self.name, exc, timeout=self._timeout) from None
        if refused:
            # the others have the email: a retry would send it to them twice
            logger.warning(
                "channel %r: the server refused %d of %d recipients: %s",
                self.name,
                len(refused),
                len(self._to),
                ", ".join(sorted(refused)),
            )

    def _error(self, what: str, retryable: bool = True) -> DeliveryError:
        return DeliveryError(f"channel {self.name!r}: {what}", retryable=retryable)
