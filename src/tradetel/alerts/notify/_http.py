"""HTTP POST for the channels (urllib, no dependency), and the settings they share.

Webhook URLs and the paths of bot APIs carry secrets, so nothing here ever puts a URL in an
error message: a :class:`DeliveryError` says which channel, and what happened (``HTTP 500
from the server``, ``connection refused``, ``timed out after 10s``).  Redirects are not
followed: urllib would turn the POST into a GET and drop the body.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import math
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from ..._errors import ConfigError
from ..._version import __version__
from ._channel import DeliveryError

__all__ = [
    "check_url",
    "connection_error",
    "encode_json",
    "post",
    "post_json",
    "seconds",
    "tls_context",
]

#: response bytes read (and then dropped) so that the connection closes cleanly
_MAX_BODY = 64 * 1024
#: the longest server-provided error detail put into a message
_MAX_DETAIL = 200
_USER_AGENT = f"tradetel/{__version__}"

#: parses a server's error body into a short, safe description (or None)
Detail = Callable[[bytes], str | None]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turn a redirect into an error: following it would resend the request as a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def seconds(config: Mapping[str, Any], key: str, default: float, *, channel: str) -> float:
    """A positive duration setting: a number of seconds or a Prometheus duration (``10s``)."""
    raw = config.get(key, default)
    value = math.nan
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        from .._duration import parse_duration

        with contextlib.suppress(ValueError):
            value = parse_duration(raw) / 1000
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"channel {channel!r}: {key} must be a positive duration such as 10s (got {raw!r})"
        )
    return value


def check_url(url: str, *, channel: str, key: str = "url") -> None:
    """Reject what urllib would choke on at send time; the message never repeats the URL."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or any(ch.isspace() or ord(ch) < 32 for ch in url)
    ):
        raise ConfigError(f"channel {channel!r}: {key} must be an http:// or https:// URL")


def tls_context(config: Mapping[str, Any], *, channel: str) -> ssl.SSLContext | None:
    """A verifying TLS context for ``ca_file`` (a private CA), or None for the system's CAs."""
    ca_file = config.get("ca_file")
    if not ca_file:
        return None
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(
            f"channel {channel!r}: ca_file {ca_file} cannot be loaded ({reason})"
        ) from None


def encode_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON; the exact bytes that are sent (and signed)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def post_json(
    url: str,
    payload: Any,
    *,
    channel: str,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    context: ssl.SSLContext | None = None,
    detail: Detail | None = None,
) -> int:
    """POST ``payload`` as JSON; the 2xx status, or :class:`DeliveryError`."""
    return post(
        url,
        encode_json(payload),
        channel=channel,
        timeout=timeout,
        headers=headers,
        context=context,
        detail=detail,
    )


def post(
    url: str,
    body: bytes,
    *,
    channel: str,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    context: ssl.SSLContext | None = None,
    detail: Detail | None = None,
) -> int:
    """POST ``body`` (JSON) to ``url``; the 2xx status, or :class:`DeliveryError`.

    5xx, 408, 429 (with its Retry-After), connection errors and timeouts are retryable;
    other statuses are not.  ``detail`` may pick a short reason out of an error body.
    """
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", _USER_AGENT)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(_MAX_BODY)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            error_body = _read(exc)
        raise _status_error(channel, url, exc.code, exc.headers, error_body, detail) from None
    except urllib.error.URLError as exc:
        raise connection_error(channel, exc.reason, timeout=timeout, url=url) from None
    except (OSError, http.client.HTTPException) as exc:
        raise connection_error(channel, exc, timeout=timeout, url=url) from None


def _read(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(_MAX_BODY)
    except (OSError, http.client.HTTPException):
        return b""


def _status_error(
    channel: str, url: str, code: int, headers: Message, body: bytes, detail: Detail | None
) -> DeliveryError:
    message = f"channel {channel!r}: HTTP {code} from the server"
    if 300 <= code < 400:
        message += " (redirects are not followed: configure the final URL)"
    reason = _safe_detail(detail, body, url)
    if reason:
        message += f": {reason}"
    retryable = code >= 500 or code in (408, 429)
    retry_after = _retry_after(headers, body) if code in (429, 503) else None
    return DeliveryError(message, retryable=retryable, retry_after=retry_after)


def _safe_detail(detail: Detail | None, body: bytes, url: str) -> str:
    if detail is None or not body:
        return ""
    try:
        text = detail(body) or ""
    except ValueError:  # a body that is not what the parser expects: no detail
        return ""
    return _scrub(" ".join(text.split()), url)[:_MAX_DETAIL]


def _scrub(text: str, url: str) -> str:
    """Remove the URL, its host and its path from a server-provided text, however unlikely."""
    if not url:
        return text
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.netloc, parts.query):
        if len(secret) > 1:
            text = text.replace(secret, "<redacted>")
    return text


def _retry_after(headers: Message, body: bytes) -> float | None:
    """Seconds to wait: the Retry-After header (seconds or a date), else the JSON body's."""
    value = headers.get("Retry-After") if headers is not None else None
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - time.time())
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        # Discord puts it at the top, Telegram under "parameters"
        params = data.get("parameters")
        nested = params.get("retry_after") if isinstance(params, dict) else None
        found = data.get("retry_after", nested)
        if isinstance(found, (int, float)) and not isinstance(found, bool) and found >= 0:
            return float(found)
    return None


def connection_error(
    channel: str, reason: object, *, timeout: float, url: str = ""
) -> DeliveryError:
    """What went wrong below HTTP (refused, timed out, TLS...), as a retryable-or-not error."""
    retryable = True
    if isinstance(reason, TimeoutError):
        what = f"timed out after {timeout:g}s"
    elif isinstance(reason, ConnectionRefusedError):
        what = "connection refused"
    elif isinstance(reason, http.client.RemoteDisconnected):
        what = "the server closed the connection without a response"
    elif isinstance(reason, ConnectionResetError):
        what = "connection reset by the server"
    elif isinstance(reason, ssl.SSLCertVerificationError):
        what = f"TLS certificate verification failed ({_scrub(str(reason.verify_message), url)})"
        retryable = False
    elif isinstance(reason, ssl.SSLError):
        what = "TLS handshake failed"
    elif isinstance(reason, socket.gaierror):
        what = "the host name could not be resolved"
    elif isinstance(reason, http.client.HTTPException):
        what = f"invalid HTTP response ({type(reason).__name__})"
    elif isinstance(reason, OSError):
        what = f"connection failed ({reason.strerror or type(reason).__name__})"
    else:
        what = "request failed"
    return DeliveryError(f"channel {channel!r}: {what}", retryable=retryable)
