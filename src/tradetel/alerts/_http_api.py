"""The service's HTTP side: OTLP/HTTP metrics in, Prometheus' alert API, health and metrics out.

Every request is authenticated first (when a token is set), so an unauthenticated caller
learns nothing, not even which paths exist.  A body is never read past the size limit, and a
reply sent before its request's body was read closes the connection instead of reading it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

# protobuf ships without type information; with types-protobuf installed the ignore is unused.
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from google.protobuf.message import Message  # type: ignore[import-untyped, unused-ignore]
from google.rpc import code_pb2, status_pb2  # type: ignore[import-untyped, unused-ignore]
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)

from ._engine import AlertingRule, Engine, Group, RecordingRule
from ._model import Alert
from ._otlp import PayloadError, decode
from ._selfmetrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

if TYPE_CHECKING:
    from ._service import AlertService

__all__ = ["ApiServer", "alerts_data", "go_float", "rfc3339", "rules_data"]

logger = logging.getLogger("tradetel.alerts")

_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"
_ENCODINGS = ("", "identity", "gzip", "deflate")
#: an idle keep-alive connection is closed after this long, so it cannot pin a thread
_IDLE_TIMEOUT = 30.0
_LINGER = 1.0
_RPC_CODES = {
    HTTPStatus.INTERNAL_SERVER_ERROR: code_pb2.INTERNAL,
    HTTPStatus.UNAUTHORIZED: code_pb2.UNAUTHENTICATED,
    HTTPStatus.NOT_FOUND: code_pb2.NOT_FOUND,
    HTTPStatus.METHOD_NOT_ALLOWED: code_pb2.UNIMPLEMENTED,
}
_API_ERRORS = {
    HTTPStatus.NOT_FOUND: "not_found",
    HTTPStatus.UNAUTHORIZED: "unauthorized",
    HTTPStatus.INTERNAL_SERVER_ERROR: "internal",
}

Route = Callable[["_Handler", dict[str, list[str]]], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the OTLP exporters expect
    timeout = _IDLE_TIMEOUT
    server: ApiServer
    _unread_body = False
    _head = False
    _status = 0  # of the reply to the current request, for the request counter

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_OPTIONS(self) -> None:
        self._handle("OPTIONS")

    def _handle(self, method: str) -> None:
        self._unread_body = bool(self.headers.get("Content-Length", "0").strip("0 ")) or bool(
            self.headers.get("Transfer-Encoding")
        )
        self._head = method == "HEAD"
        path, _, query = self.path.partition("?")
        service = self.server.service
        if not service.authorized(self.headers.get("Authorization")):
            error = "" if "Authorization" not in self.headers else ', error="invalid_token"'
            self._error(
                HTTPStatus.UNAUTHORIZED,
                "a valid bearer token is required (Authorization: Bearer <token>)",
                {"WWW-Authenticate": f'Bearer realm="tradetel"{error}'},
            )
            return
        route = _ROUTES.get(path)
        if route is None:
            self._error(HTTPStatus.NOT_FOUND, f"no such path: {path}")
            return
        methods, handle = route
        if method not in methods:
            allow = ", ".join(methods)
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"use {allow}", {"Allow": allow})
            return
        try:
            handle(self, parse_qs(query))
        except Exception:  # a bug: answer, log, and keep serving
            logger.exception("tradetel alerts: %s %s failed", method, path)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; see the service's log")

    def handle_one_request(self) -> None:
        self._status = 0
        super().handle_one_request()
        if self._status and self.path.partition("?")[0] == "/v1/metrics":
            self.server.service.metrics.count_request("http", self._status)

    # -- routes --------------------------------------------------------------------------

    def _healthy(self, query: dict[str, list[str]]) -> None:
        self._text(HTTPStatus.OK, "tradetel alerts is Healthy.\n")

    def _ready(self, query: dict[str, list[str]]) -> None:
        if self.server.service.ready:
            self._text(HTTPStatus.OK, "tradetel alerts is Ready.\n")
        else:
            self._text(HTTPStatus.SERVICE_UNAVAILABLE, "tradetel alerts is not ready.\n")

    def _metrics(self, query: dict[str, list[str]]) -> None:
        body = self.server.service.metrics_text().encode()
        self._send(HTTPStatus.OK, body, METRICS_CONTENT_TYPE)

    def _alerts(self, query: dict[str, list[str]]) -> None:
        self._api(alerts_data(self.server.service.engine))

    def _rules(self, query: dict[str, list[str]]) -> None:
        try:
            data = rules_data(self.server.service.engine, query)
        except ValueError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        self._api(data)

    def _export(self, query: dict[str, list[str]]) -> None:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        length = self.headers.get("Content-Length", "").strip()
        limit = self.server.service.max_body_bytes
        problem = _export_problem(content_type, encoding, length, limit)
        if problem is not None:
            self._error(*problem)
            return
        body = self.rfile.read(int(length))
        self._unread_body = False
        if len(body) < int(length):
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, "the body is shorter than Content-Length")
            return
        try:
            request = decode(body, content_type, encoding or None, max_size=limit)
            result = self.server.service.ingest(request)
        except PayloadError as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"malformed OTLP metrics: {exc}")
            return
        response = ExportMetricsServiceResponse()
        if result.rejected:
            response.partial_success.rejected_data_points = result.rejected
            response.partial_success.error_message = "; ".join(result.errors)
        self._send(HTTPStatus.OK, _encode(response, content_type), content_type)

    # -- replies -------------------------------------------------------------------------

    def _api(self, data: dict[str, Any]) -> None:
        body = json.dumps({"status": "success", "data": data}, separators=(",", ":"))
        self._send(HTTPStatus.OK, body.encode(), _JSON)

    def _text(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _error(
        self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None
    ) -> None:
        """Reply with an error in the shape the caller expects: an OTLP ``google.rpc.Status``
        in the request's encoding, Prometheus' API error JSON, or plain text."""
        path = self.path.partition("?")[0]
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if path == "/v1/metrics" and content_type in (_PROTOBUF, _JSON):
            code = _RPC_CODES.get(status, code_pb2.INVALID_ARGUMENT)
            body = _encode(status_pb2.Status(code=code, message=message), content_type)
        elif path.startswith("/api/"):
            error_type = _API_ERRORS.get(status, "bad_data")
            payload = {"status": "error", "errorType": error_type, "error": message}
            body, content_type = json.dumps(payload).encode(), _JSON
        else:
            body, content_type = f"{status.value} {status.phrase}: {message}\n".encode(), ""
        self._send(status, body, content_type or "text/plain; charset=utf-8", headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self._status = int(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self._unread_body:  # the body was not read: this connection cannot carry another
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if not self._head:
            self.wfile.write(body)
        if self._unread_body:
            self._linger()

    def _linger(self) -> None:
        """End the reply, then discard what the client still sends (at most the size limit,
        for at most a second): closing with unread data would reset the connection, and the
        client would see a reset instead of this reply."""
        budget = self.server.service.max_body_bytes
        deadline = time.monotonic() + _LINGER
        with contextlib.suppress(OSError):  # a timeout included
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            while budget > 0 and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                chunk = self.connection.recv(min(budget, 65536))
                if not chunk:
                    break
                budget -= len(chunk)

    def log_message(self, format: str, *args: Any) -> None:
        """Access log at DEBUG; the request line holds no secret (the token is a header)."""
        logger.debug("%s %s", self.address_string(), format % args)


_READ = ("GET", "HEAD")
_ROUTES: dict[str, tuple[tuple[str, ...], Route]] = {
    "/v1/metrics": (("POST",), _Handler._export),
    "/api/v1/alerts": (_READ, _Handler._alerts),
    "/api/v1/rules": (_READ, _Handler._rules),
    "/-/healthy": (_READ, _Handler._healthy),
    "/-/ready": (_READ, _Handler._ready),
    "/metrics": (_READ, _Handler._metrics),
}


def _export_problem(
    content_type: str, encoding: str, length: str, limit: int
) -> tuple[HTTPStatus, str] | None:
    """What is wrong with an export's headers, found before its body is read."""
    if content_type not in (_PROTOBUF, _JSON):
        what = f"Content-Type {content_type or 'missing'!r} is not supported"
        return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"{what}; send {_PROTOBUF} or {_JSON}"
    if encoding not in _ENCODINGS:
        what = f"Content-Encoding {encoding[:50]!r} is not supported"
        return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"{what}; use gzip, deflate or identity"
    if not length.isdigit():  # a chunked body has no length; the limit could not be checked
        return HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required"
    if int(length) > limit:
        return (
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"the body ({length} bytes) is over the limit of {limit} bytes",
        )
    return None


def _encode(message: Message, content_type: str) -> bytes:
    if content_type == _JSON:
        return str(json_format.MessageToJson(message, indent=None)).encode()
    return bytes(message.SerializeToString())


class ApiServer(ThreadingHTTPServer):
    """The HTTP server; :meth:`close` ends keep-alive connections so that a stop is prompt."""

    daemon_threads = True  # a client that never reads its reply cannot keep the process up
    block_on_close = False  # close() waits for connections itself, with a timeout
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], service: AlertService) -> None:
        self.service = service
        self._connections: set[socket.socket] = set()
        self._changed = threading.Condition()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host, which can stall."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._changed:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._changed:
            self._connections.discard(request)
            self._changed.notify_all()

    def close(self, timeout: float) -> None:
        """Stop listening (after ``shutdown()``), end every connection's reading side - a
        request being answered still gets its reply, an idle connection ends now - and wait
        up to ``timeout`` for the connections to close."""
        self.server_close()
        deadline = time.monotonic() + timeout
        with self._changed:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RD)
            while self._connections and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


# -- Prometheus' JSON shapes (web/api/v1/api.go) ---------------------------------------------

#: Go's zero time, which Prometheus shows for a rule not evaluated yet
_ZERO_TIME = "0001-01-01T00:00:00Z"
_STATE_RANK = {"inactive": 0, "pending": 1, "firing": 2}


def alerts_data(engine: Engine) -> dict[str, Any]:
    """The ``data`` of ``GET /api/v1/alerts``: pending and firing alerts."""
    return {"alerts": [_alert(alert) for _, _, alert in engine.alerts()]}


def rules_data(engine: Engine, query: dict[str, list[str]]) -> dict[str, Any]:
    """The ``data`` of ``GET /api/v1/rules``; ValueError for a bad parameter.

    Takes Prometheus' filters: ``type`` (alert|record), ``rule_name[]``, ``rule_group[]``,
    ``file[]`` and ``exclude_alerts``.
    """
    kind = (query.get("type") or [""])[0].lower()
    if kind not in ("", "alert", "record"):
        raise ValueError(f"unsupported value for type: {kind!r} (use alert or record)")
    names, groups, files = (
        set(query.get(key, ())) for key in ("rule_name[]", "rule_group[]", "file[]")
    )
    exclude_alerts = (query.get("exclude_alerts") or ["false"])[0].lower() == "true"
    filtered = bool(kind or names or groups or files)
    out = []
    with engine.lock:
        for group in engine.groups:
            if (groups and group.name not in groups) or (files and group.file not in files):
                continue
            rules = [
                _alerting(rule, exclude_alerts)
                if isinstance(rule, AlertingRule)
                else _recording(rule)
                for rule in group.rules
                if (not names or rule.name in names)
                and (not kind or isinstance(rule, AlertingRule) == (kind == "alert"))
            ]
            if rules or not filtered:
                out.append(_group(group, rules))
    return {"groups": out}


def _group(group: Group, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": group.name,
        "file": group.file,
        "rules": rules,
        "interval": group.interval_ms / 1000,
        "limit": group.spec.limit,
        "evaluationTime": group.evaluation_time,
        "lastEvaluation": rfc3339(group.last_evaluation),
    }


def _alerting(rule: AlertingRule, exclude_alerts: bool) -> dict[str, Any]:
    alerts = [alert for alert in rule.alerts() if alert.state != "inactive"]
    state = max((alert.state for alert in alerts), key=_STATE_RANK.__getitem__, default="inactive")
    out: dict[str, Any] = {
        "state": state,
        "name": rule.spec.alert,
        "query": rule.spec.query.text,
        "duration": rule.spec.for_ms / 1000,
        "keepFiringFor": rule.spec.keep_firing_for_ms / 1000,
        "labels": dict(rule.spec.labels),
        "annotations": dict(rule.spec.annotations),
    }
    if not exclude_alerts:
        out["alerts"] = [_alert(alert) for alert in alerts]
    out.update(_health(rule))
    out["type"] = "alerting"
    return out


def _recording(rule: RecordingRule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": rule.spec.record,
        "query": rule.spec.query.text,
        "labels": dict(rule.spec.labels),
    }
    out.update(_health(rule))
    out["type"] = "recording"
    return out


def _health(rule: AlertingRule | RecordingRule) -> dict[str, Any]:
    out: dict[str, Any] = {"health": rule.health}
    if rule.last_error:
        out["lastError"] = rule.last_error
    out["evaluationTime"] = rule.evaluation_time
    out["lastEvaluation"] = rfc3339(rule.last_evaluation)
    return out


def _alert(alert: Alert) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "state": alert.state,
        "activeAt": rfc3339(alert.active_at),
    }
    if alert.keep_firing_since is not None:
        out["keepFiringSince"] = rfc3339(alert.keep_firing_since)
    out["value"] = go_float(alert.value)
    return out


def rfc3339(timestamp: float | None) -> str:
    """Epoch seconds as Go's RFC3339Nano in UTC (trailing zeros of the fraction dropped), as
    Prometheus writes times; None is Go's zero time."""
    if timestamp is None:
        return _ZERO_TIME
    micros = round(timestamp * 1_000_000)
    moment = datetime.fromtimestamp(micros // 1_000_000, tz=timezone.utc)
    fraction = f".{micros % 1_000_000:06d}".rstrip("0").rstrip(".")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def go_float(value: float) -> str:
    """``strconv.FormatFloat(value, 'e', -1, 64)``: the shortest exact digits, ``2.5e-01``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    _, digits, exponent = Decimal(repr(abs(value))).as_tuple()  # repr: the shortest exact
    text = "".join(map(str, digits)).rstrip("0")
    if not text:
        return f"{sign}0e+00"
    power = int(exponent) + len(digits) - 1
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{sign}{mantissa}e{'+' if power >= 0 else '-'}{abs(power):02d}"
