"""Where a replay sends: endpoint, protocol and headers, resolved the way OTLP exporters do.

The environment variables and their formats are OpenTelemetry's (``OTEL_EXPORTER_OTLP_*``),
so a shell already set up for a vendor replays to it unchanged. Header values, the
endpoint's user info and its query string are secrets (vendors put API keys there): they
live in a ``Target`` only, never in its repr, and every text that may reach output goes
through ``Target.redact()`` first. ``Target.display`` is the endpoint safe to print.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias
from urllib.parse import quote, unquote, urlsplit

from .._errors import ConfigError
from .._internal import printable
from .._scrub import shown_endpoint

__all__ = ["PROTOCOLS", "Protocol", "Target", "parse_headers", "resolve_target"]

Protocol: TypeAlias = Literal["http/protobuf", "http/json", "grpc"]
PROTOCOLS: tuple[Protocol, ...] = ("http/protobuf", "http/json", "grpc")
_DEFAULT_ENDPOINT = {"http": "http://localhost:4318", "grpc": "http://localhost:4317"}
# OTel's per-signal endpoints end in /v1/<signal>; the others are found next to it.
_SIGNAL_SUFFIX = re.compile(r"/v1/(?:traces|metrics|logs)/?$")
# RFC 9110 token characters, and the visible ASCII a header value may hold: a CR or LF
# would let a value inject headers, and http.client's complaint about one quotes it.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\x20-\x7e\t]*")
_REDACTED = "***"
# Shorter "secrets" (an empty password, "yes") would blank out ordinary words of a message.
_MIN_SECRET = 4


@dataclass(frozen=True)
class Target:
    """A resolved OTLP endpoint: how to connect, what to send, and what never to print."""

    protocol: Protocol
    tls: bool
    host: str
    port: int
    base_path: str = ""
    query: str = field(default="", repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def display(self) -> str:
        """The endpoint without user info or query: safe for output."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{self.base_path}"

    def http_path(self, signal: str) -> str:
        """The request target of a signal over OTLP/HTTP, query included."""
        path = f"{self.base_path}/v1/{signal}"
        return f"{path}?{self.query}" if self.query else path

    def redact(self, text: str) -> str:
        """``text`` with every secret of this target replaced by ``***``, safe to print."""
        for secret in self.secrets:
            text = text.replace(secret, _REDACTED)
        return printable(text)


def resolve_target(
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | str | None = None,
    insecure: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> Target:
    """Resolve the arguments, falling back on OTel's environment variables, into a ``Target``.

    ``headers`` (a mapping, pairs, or OTel's ``k1=v1,k2=v2`` text) are added to those of
    ``OTEL_EXPORTER_OTLP_HEADERS``, replacing ones of the same name. ``insecure`` (else
    ``OTEL_EXPORTER_OTLP_INSECURE``) means plaintext gRPC to an endpoint given without a
    scheme; with a scheme, ``http://`` is plaintext and ``https://`` TLS, as in OTel.

    Raises:
        ConfigError: a value is invalid; the message names it and where it came from, and
            shows no header value.
    """
    env = os.environ if environ is None else environ
    chosen = _protocol(protocol, env)
    where = "endpoint"
    if endpoint is None and env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        endpoint, where = env["OTEL_EXPORTER_OTLP_ENDPOINT"], "OTEL_EXPORTER_OTLP_ENDPOINT"
    if endpoint is None:
        endpoint = _DEFAULT_ENDPOINT["grpc" if chosen == "grpc" else "http"]
    if insecure is None:
        insecure = env.get("OTEL_EXPORTER_OTLP_INSECURE", "").strip().lower() == "true"

    variable = "OTEL_EXPORTER_OTLP_HEADERS"
    merged: dict[str, tuple[str, str]] = {}  # by lowercase name: header names ignore case
    for name, value in [*parse_headers(env.get(variable, ""), variable), *_header_pairs(headers)]:
        merged[name.lower()] = (name, value)
    return _target(endpoint.strip(), where, chosen, list(merged.values()), insecure)


def parse_headers(text: str, where: str) -> list[tuple[str, str]]:
    """Parse OTel's header format: ``k1=v1,k2=v2``, names and values URL-encoded.

    Errors name ``where`` and the header's position or name, never its value.
    """
    pairs = []
    for index, entry in enumerate(text.split(","), 1):
        if not entry.strip():
            continue
        name, equals, value = entry.partition("=")
        if not equals:
            raise ConfigError(f"{where}: header {index} is not KEY=VALUE (its text is not shown)")
        pairs.append(_checked(unquote(name).strip(), unquote(value).strip(), where, index))
    return pairs


def _header_pairs(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | str | None,
) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, str):
        return parse_headers(headers, "headers")
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [
        _checked(str(name).strip(), str(value).strip(), "headers", index)
        for index, (name, value) in enumerate(items, 1)
    ]


def _checked(name: str, value: str, where: str, index: int) -> tuple[str, str]:
    if not _TOKEN.fullmatch(name):
        # Not shown: "Authorization: Bearer abc=..." would put part of a key in the name.
        raise ConfigError(
            f"{where}: the name of header {index} is not a valid header name, such as"
            " 'authorization' or 'x-api-key' (its text is not shown)"
        )
    if not _VALUE.fullmatch(value):
        raise ConfigError(
            f"{where}: the value of header {name!r} holds a control or non-ASCII character"
        )
    return name, value


def _protocol(protocol: str | None, env: Mapping[str, str]) -> Protocol:
    where, value = "protocol", protocol
    if value is None:
        where, value = "OTEL_EXPORTER_OTLP_PROTOCOL", env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    value = (value or "http/protobuf").strip().lower()
    for known in PROTOCOLS:
        if value == known:
            return known
    expected = ", ".join(PROTOCOLS)
    raise ConfigError(f"{where}: unknown protocol {value!r}; expected one of {expected}")


def _target(
    endpoint: str, where: str, protocol: Protocol, headers: list[tuple[str, str]], insecure: bool
) -> Target:
    shown = _shown(endpoint)
    example = _DEFAULT_ENDPOINT["grpc" if protocol == "grpc" else "http"]
    if "://" not in endpoint and protocol == "grpc":
        # OTel's gRPC exporters take host:port, with TLS unless told the link is insecure.
        endpoint = f"{'http' if insecure else 'https'}://{endpoint}"
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:  # a port that is not a number, a bad IPv6 literal
        # not the parser's message: it quotes the part it failed on, which may be a password
        raise ConfigError(f"{where}: {shown} is not a valid URL (its host or port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: {shown} is not an http:// or https:// URL (e.g. {example})")
    tls = parts.scheme == "https"

    secrets = [parts.query, *(value for _, value in headers)]
    if parts.query:
        secrets.extend(value for piece in parts.query.split("&") for value in piece.split("=")[1:])
    if parts.username is not None or parts.password is not None:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        # The user name alone is an account id, not a secret, and often a common word.
        secrets += [password, token, parts.netloc.rpartition("@")[0]]
        if not any(name.lower() == "authorization" for name, _ in headers):
            headers = [*headers, ("Authorization", f"Basic {token}")]
    secrets += [quote(secret, safe="") for secret in secrets]
    kept = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)
    return Target(
        protocol=protocol,
        tls=tls,
        host=parts.hostname,
        port=port if port is not None else (443 if tls else 80),
        base_path="" if protocol == "grpc" else _SIGNAL_SUFFIX.sub("", parts.path).rstrip("/"),
        query="" if protocol == "grpc" else parts.query,
        headers=tuple(headers),
        secrets=tuple(kept),
    )


def _shown(endpoint: str) -> str:
    """``endpoint`` quoted for an error message, without anything that may be a credential."""
    return repr(shown_endpoint(endpoint))
