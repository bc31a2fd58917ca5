"""Secrets out of text that leaves the process: error messages, log lines, span attributes.

Exceptions of HTTP clients put the request URL in their message, and an exchange's signed
request carries the API key and signature in its query string. ``scrub_message()`` removes
from any text the query strings and fragments of URLs (with or without a scheme),
``user:pass@`` credentials in URLs, and the values of ``key=value`` and ``"key": "value"``
pairs whose key looks like a secret (``api_key``, ``secret``, ``signature``, ``password``,
``token``, ``passphrase`` and header names such as ``X-MBX-APIKEY`` or ``OK-ACCESS-SIGN``), and
cuts it at ``MAX_ERROR_CHARS``. ``describe()`` is an exception's class name and scrubbed
message. ``scrub_attributes()`` does the same to span and log attributes, and replaces the
whole value of an attribute whose key names a secret (``http.request.header.x-mbx-apikey``).
The export workers run them on every span and log record before it is exported (see
``_export``), so a secret that reached an attribute in any instrumentation stops there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

#: Longest text ``scrub_message()`` returns, in characters (a health check's ``last_error``).
MAX_ERROR_CHARS = 500

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]*")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*://)[^\s/?#]*@")
# A query string after a path without a scheme, as in requests' "url: /v3/order?x=1".
_RELATIVE_QUERY = re.compile(r"(?<=[^\s?])\?[^\s'\"<>()\[\]{}#]*=[^\s'\"<>()\[\]{}]*")
# The words that make a key a secret's, alone or as one part of a longer name
# (X-MBX-APIKEY, APCA-API-SECRET-KEY, OK-ACCESS-SIGN, secretKey): "sign" only as a whole part.
_SECRET_WORDS = (
    r"api[_-]?key|api[_-]?secret|secret|signature|passphrase|password|passwd|"
    r"access[_-]?token|token|access[_-]?key|private[_-]?key|listen[_-]?key|authorization|"
    r"cookie|sign|sig"
)
# The parts of a name around a secret word: "x-mbx-", "client" in clientSecret, "Id" in
# AccessKeyId. A camelCase part must start upper-case, so "signal" is not "sig" + "nal".
_BEFORE = r"(?:[a-z0-9]+[_-]|(?-i:[a-z0-9]+(?=[A-Z])))*"
_AFTER = r"(?:[_-][a-z0-9]+|(?-i:[A-Z][a-z0-9]*))*"
# key=value and "key": "value" pairs whose key names a secret; the value is a quoted string
# (spaces and all, b'' too) or a bare word, with a "Bearer " prefix
_SECRET_VALUE = re.compile(
    rf"(?i)\b({_BEFORE}(?:{_SECRET_WORDS}){_AFTER})"
    r"(\s*=\s*|['\"]?\s*:\s*)((?:b(?=['\"]))?)"
    r"(?:\"[^\"\n]*\"|'[^'\n]*'|(?:(?:bearer|basic)\s+)?[^\s&'\",;)}]+)"
)
# an attribute key naming a secret: one of the words as a part of its last dotted component,
# or that component being "key" (the API-key header of gate, poloniex, zaif)
_SECRET_KEY = re.compile(rf"(?i)^(?:key|{_BEFORE}(?:{_SECRET_WORDS}){_AFTER})$")
_NESTING = 8  # how deep scrubbing goes into mappings and lists of structured logs
#: What replaces a secret.
REDACTED = "***"


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
    return _SECRET_VALUE.sub(_redact, text)


def _redact(match: re.Match[str]) -> str:
    key, separator, prefix = match.group(1, 2, 3)
    value = match.group(0)[match.end(3) - match.start(0) :]
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{key}{separator}{prefix}{quote}{REDACTED}{quote}"


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


def is_secret_key(key: str) -> bool:
    """Does an attribute or header name (``x-mbx-apikey``, ``api_secret``) name a secret?"""
    return _SECRET_KEY.match(key.rpartition(".")[2]) is not None


def _scrub_value(key: str, value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        if is_secret_key(key):
            return REDACTED
        clean = scrub(value)
        return value if clean == value else clean  # the same object: nothing changed
    if depth >= _NESTING or isinstance(value, (bytes, bytearray)):
        return value
    if isinstance(value, Mapping):  # a structured log body or a map attribute
        mapping = {k: _scrub_value(str(k), v, depth + 1) for k, v in value.items()}
        return value if mapping == value else mapping
    if isinstance(value, Sequence) and any(isinstance(v, (str, Mapping, Sequence)) for v in value):
        items = tuple(_scrub_value(key, v, depth + 1) for v in value)
        return value if list(items) == list(value) else items
    return value


def scrub_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Scrubbed attributes, or None when nothing in them needed it (the common case)."""
    if not attributes:
        return None
    changed: dict[str, Any] | None = None
    for key, value in attributes.items():
        clean = _scrub_value(key, value)
        if clean is not value:
            if changed is None:
                changed = dict(attributes)
            changed[key] = clean
    return changed


def shown_endpoint(endpoint: str) -> str:
    """``endpoint`` without its user info, query and fragment: what may be a credential.

    Everything up to the last ``@`` goes, before anything else is looked at: a password may
    hold ``/``, ``?`` or ``#`` (generated tokens do), which would otherwise end the authority
    early and leave the rest of it in the text.
    """
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        scheme, rest = "", endpoint
    rest = rest.rpartition("@")[2]
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}{sep}{rest}"
