"""Secrets out of text that leaves the process: error messages, log lines, span attributes.

Exceptions of HTTP clients put the request URL in their message, and an exchange's signed
request carries the API key and signature in its query string. ``scrub_message()`` removes
from any text the query strings and fragments of URLs (with or without a scheme),
``user:pass@`` credentials in URLs, and the values of ``key=value`` and ``"key": "value"``
pairs whose key looks like a secret (``api_key``, ``secret``, ``signature``, ``password``,
``token`` and the like), and cuts it at ``MAX_ERROR_CHARS``. ``describe()`` is an
exception's class name and scrubbed message. Health checks use them for ``last_error``;
nothing here is specific to them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: Longest text ``scrub_message()`` returns, in characters (a health check's ``last_error``).
MAX_ERROR_CHARS = 500

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]*")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*://)[^\s/?#]*@")
# A query string after a path without a scheme, as in requests' "url: /v3/order?x=1".
_RELATIVE_QUERY = re.compile(r"(?<=[^\s?])\?[^\s'\"<>()\[\]{}#]*=[^\s'\"<>()\[\]{}]*")
# key=value and "key": "value" pairs whose key names a secret
_SECRET_VALUE = re.compile(
    r"(?i)\b(api[_-]?key|api[_-]?secret|secret|signature|password|passwd|access[_-]?token|token)"
    r"(\s*=\s*['\"]?|['\"]\s*:\s*['\"]?)[^\s&'\",;)}]+"
)


def _scrub_url(match: re.Match[str]) -> str:
    url = match.group(0)
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}{parts.path}"
    except ValueError:  # a malformed port or IPv6 host: cut by hand
        return _USERINFO.sub(r"\1", re.split(r"[?#]", url, maxsplit=1)[0])


def scrub(text: str) -> str:
    """``text`` without URL credentials, query strings, fragments and ``key=secret`` values.

    Exceptions of HTTP clients put the request URL in their message, and an exchange's signed
    request carries the API key and signature in its query string.
    """
    if "=" not in text and "@" not in text and "?" not in text and ":" not in text:
        return text  # nothing a secret could hide in
    text = _URL.sub(_scrub_url, text)
    text = _RELATIVE_QUERY.sub("", text)
    return _SECRET_VALUE.sub(r"\1\2***", text)


def scrub_message(text: str) -> str:
    """``scrub(text)``, cut at ``MAX_ERROR_CHARS``."""
    text = scrub(text)
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 3] + "..."
    return text


def describe(exc: BaseException) -> str:
    """``"ClassName: scrubbed message"``, or the class name alone when the message is empty."""
    message = scrub_message(str(exc).strip())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
