"""OTLP/HTTP with the standard library: gzip'd protobuf (or OTLP/JSON) POSTs on one connection.

``http.client`` rather than urllib: it keeps the connection alive between requests (a TLS
handshake per batch would dominate a replay to a vendor), and it lets this module decide
what an error says, so that no header value or URL query ever ends up in a message.
Statuses are treated as the OTLP specification says: 429, 502, 503 and 504 are retried
(after ``Retry-After`` when given), any other failure refuses the request.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import ssl
from typing import Any

# protobuf ships without type information; with types-protobuf installed the ignore is unused.
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]
from google.rpc import status_pb2  # type: ignore[import-untyped, unused-ignore]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from .._version import __version__
from ..exporters._otlpjson import _SIGNALS, Request, Signal, _to_line
from ._retry import Retryable, retry_after
from ._send import Outcome, accepted
from ._target import Target

__all__ = ["HttpSender"]

_RESPONSES = {
    "traces": ExportTraceServiceResponse,
    "metrics": ExportMetricsServiceResponse,
    "logs": ExportLogsServiceResponse,
}
_RETRYABLE = frozenset({429, 502, 503, 504})
# Statuses about the endpoint rather than the data: every later request would get the same.
_STOP = frozenset({301, 302, 303, 307, 308, 401, 403, 404, 405, 407})
_PROTOBUF, _JSON = "application/x-protobuf", "application/json"
_EXCERPT = 200
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


class HttpSender:
    """POSTs export requests to ``<endpoint>/v1/<signal>``, one keep-alive connection."""

    def __init__(self, target: Target, timeout: float) -> None:
        self._target = target
        self._timeout = timeout
        self._json = target.protocol == "http/json"
        self._connection: http.client.HTTPConnection | None = None
        self._headers = {
            **dict(target.headers),
            "Content-Type": _JSON if self._json else _PROTOBUF,
            "Content-Encoding": "gzip",
            "User-Agent": f"tradetel-replay/{__version__}",
        }

    def attempt(self, signal: Signal, request: Request) -> Outcome:
        """POST ``request`` once; raise ``Retryable`` for what may pass."""
        payload = (
            _to_line(request, _SIGNALS[signal][1]).encode()
            if self._json
            else (request.SerializeToString())
        )
        # mtime=0: the same request compresses to the same bytes.
        body = gzip.compress(payload, compresslevel=6, mtime=0)
        try:
            connection = self._connect()
            connection.request("POST", self._target.http_path(signal), body, self._headers)
            response = connection.getresponse()
            data = response.read()
        except ssl.SSLCertVerificationError as exc:
            # Retrying cannot fix a certificate; say so at once.
            self.close()
            return Outcome("failed", self._describe(exc), stop=True)
        except (OSError, http.client.HTTPException) as exc:
            # Timeouts, refused or dropped connections: a fresh connection may work.
            self.close()
            raise Retryable(self._describe(exc)) from None
        if response.will_close:
            self.close()

        if 200 <= response.status < 300:
            return accepted(signal, self._response(signal, data), self._target)
        reason = f"HTTP {response.status} {response.reason}".rstrip()
        detail = _status_message(data, response.getheader("Content-Type", ""))
        message = self._target.redact(f"{reason}: {detail}" if detail else reason)
        if response.status in _RETRYABLE:
            raise Retryable(message, retry_after(response.getheader("Retry-After")))
        return Outcome("refused", message, stop=response.status in _STOP)

    def close(self) -> None:
        """Close the connection; the next attempt opens a new one."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            target = self._target
            if target.tls:
                context = ssl.create_default_context()
                self._connection = http.client.HTTPSConnection(
                    target.host, target.port, timeout=self._timeout, context=context
                )
            else:
                self._connection = http.client.HTTPConnection(
                    target.host, target.port, timeout=self._timeout
                )
        return self._connection

    def _response(self, signal: Signal, data: bytes) -> object:
        response: Any = _RESPONSES[signal]()
        try:
            if self._json:
                json_format.Parse(data or b"{}", response, ignore_unknown_fields=True)
            else:
                response.ParseFromString(data)
        except (DecodeError, json_format.ParseError, ValueError):
            pass  # accepted all the same; only a partial success would be lost
        return response

    def _describe(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError) or text == "timed out":
            text = f"no answer within {self._timeout:g}s"
        return self._target.redact(f"cannot reach {self._target.display}: {text}")


def _status_message(data: bytes, content_type: str) -> str:
    """The reason in an error reply: a ``google.rpc.Status``'s message, else a text excerpt."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == _PROTOBUF:
        status = status_pb2.Status()
        try:
            status.ParseFromString(data)
        except DecodeError:
            pass
        else:
            return _excerpt(str(status.message))
    if kind == _JSON:
        try:
            document = json.loads(data)
        except ValueError:
            pass
        else:
            if isinstance(document, dict) and isinstance(document.get("message"), str):
                return _excerpt(document["message"])
    return _excerpt(_TAG.sub(" ", data.decode("utf-8", "replace")))


def _excerpt(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."
