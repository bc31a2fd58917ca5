"""A real OTLP receiver (HTTP and gRPC) that tests run on loopback.

It decodes what exporters send into the protobuf request messages, keeps them per
signal and lets a test block until something arrives. It can be stopped and started
again on the same ports to play a collector that goes down and comes back.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import socket
import socketserver
import sys
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, NamedTuple

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span

Signal = Literal["traces", "metrics", "logs"]
Protocol = Literal["http", "grpc"]

# URL path -> (signal, request type, response type), as the OTLP/HTTP spec names them.
_HTTP_ROUTES: dict[str, tuple[Signal, type[Message], type[Message]]] = {
    "/v1/traces": (
        "traces",
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
    ),
    "/v1/metrics": (
        "metrics",
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    ),
    "/v1/logs": (
        "logs",
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
    ),
}

_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"

# OTLP/JSON writes these ids as hex, protobuf's JSON mapping expects base64 for bytes;
# the value is the id's length in bytes (0 means "not set" and is allowed).
_HEX_ID_FIELDS = {
    "traceId": 16,
    "trace_id": 16,
    "spanId": 8,
    "span_id": 8,
    "parentSpanId": 8,
    "parent_span_id": 8,
}

# The google.rpc code put in the Status body of an HTTP error reply.
_RPC_CODES = {
    HTTPStatus.BAD_REQUEST: code_pb2.INVALID_ARGUMENT,
    HTTPStatus.NOT_FOUND: code_pb2.NOT_FOUND,
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: code_pb2.INVALID_ARGUMENT,
    HTTPStatus.TOO_MANY_REQUESTS: code_pb2.RESOURCE_EXHAUSTED,
}

# Long enough to hold a connection over a slow test, short enough that an abandoned
# keep-alive connection does not pin a handler thread for the whole session.
_IDLE_CONNECTION_TIMEOUT = 30.0
# The grace in-flight gRPC calls get on stop(), so a stop never cuts one mid-reply.
_GRPC_STOP_GRACE = 0.5


class ReceivedSpan(NamedTuple):
    """A span with the resource attributes and scope name it was sent under."""

    resource: dict[str, Any]
    span: Span
    scope: str


class ReceivedMetric(NamedTuple):
    """A metric with the resource attributes and scope name it was sent under."""

    resource: dict[str, Any]
    metric: Metric
    scope: str


class ReceivedLog(NamedTuple):
    """A log record with the resource attributes and scope name it was sent under."""

    resource: dict[str, Any]
    record: LogRecord
    scope: str


def any_value(value: AnyValue) -> Any:
    """Convert an OTLP ``AnyValue`` to the plain Python value (None when unset)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind)


def attributes(key_values: Iterable[KeyValue]) -> dict[str, Any]:
    """Convert repeated OTLP ``KeyValue`` attributes to a dict."""
    return {kv.key: any_value(kv.value) for kv in key_values}


class RequestError(ValueError):
    """A request the receiver rejects, with the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _hex_ids_to_base64(node: Any) -> Any:
    """Rewrite OTLP/JSON hex ids in a decoded JSON tree to protobuf-JSON base64."""
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        size = _HEX_ID_FIELDS.get(key)
        if size is not None and isinstance(value, str):
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raise RequestError(HTTPStatus.BAD_REQUEST, f"{key} is not hex: {value!r}") from None
            if len(raw) not in (0, size):
                raise RequestError(
                    HTTPStatus.BAD_REQUEST, f"{key} must be {size} bytes, got {len(raw)}"
                )
            converted[key] = base64.b64encode(raw).decode("ascii")
        else:
            converted[key] = _hex_ids_to_base64(value)
    return converted


def _decompress(body: bytes, encoding: str) -> bytes:
    """Undo the request's Content-Encoding."""
    try:
        if encoding in ("", "identity"):
            return body
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            # HTTP "deflate" is zlib-wrapped (what the Python exporter sends), but some
            # clients send a raw deflate stream, so accept both.
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except (OSError, EOFError, zlib.error) as error:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"bad {encoding} body: {error}") from None
    raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported encoding {encoding!r}")


def decode_request(body: bytes, content_type: str, request_type: type[Message]) -> Message:
    """Parse an OTLP/HTTP body (protobuf or OTLP/JSON) into ``request_type``."""
    message = request_type()
    if content_type == _PROTOBUF:
        try:
            message.ParseFromString(body)
        except DecodeError as error:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"bad protobuf: {error}") from None
        return message
    if content_type == _JSON:
        try:
            tree = json.loads(body)
        except ValueError as error:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"bad JSON: {error}") from None
        if not isinstance(tree, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "OTLP/JSON body must be an object")
        try:
            # The OTLP spec asks receivers to ignore fields they do not know.
            json_format.ParseDict(_hex_ids_to_base64(tree), message, ignore_unknown_fields=True)
        except json_format.ParseError as error:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"bad OTLP/JSON: {error}") from None
        return message
    raise RequestError(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported content type {content_type!r}"
    )


def _encode(message: Message, content_type: str) -> bytes:
    if content_type == _JSON:
        return json_format.MessageToJson(message, indent=None).encode("utf-8")
    return message.SerializeToString()


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _HttpHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive like a real collector does, so restart tests
    # exercise the exporter's handling of pooled connections that went stale.
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_CONNECTION_TIMEOUT
    server: _HttpServer

    def do_POST(self) -> None:
        """Handle one OTLP/HTTP export."""
        receiver = self.server.receiver
        # The body is read before anything can fail, so the connection stays usable.
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._reply_error(HTTPStatus.LENGTH_REQUIRED, "Content-Length required", "")
            return
        body = self.rfile.read(int(length))
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()

        route = _HTTP_ROUTES.get(self.path.split("?", 1)[0])
        if route is None:
            self._reply_error(HTTPStatus.NOT_FOUND, f"no OTLP route {self.path}", content_type)
            return
        signal, request_type, response_type = route
        receiver._count("http", signal, {k.lower(): v for k, v in self.headers.items()})

        fail_with = receiver._failure(receiver.fail_with)
        if fail_with is not None:
            self._reply_error(fail_with, receiver.fail_message, content_type)
            return
        try:
            encoding = self.headers.get("Content-Encoding", "").strip().lower()
            message = decode_request(_decompress(body, encoding), content_type, request_type)
        except RequestError as error:
            self._reply_error(error.status, str(error), content_type)
            return
        receiver._record(signal, message)
        response = receiver._response(signal, response_type)
        self._reply(HTTPStatus.OK, _encode(response, content_type), content_type)

    def _reply_error(self, status: int, message: str, content_type: str) -> None:
        # OTLP/HTTP error bodies are a google.rpc.Status in the request's encoding.
        if content_type in (_PROTOBUF, _JSON):
            code = _RPC_CODES.get(
                status, code_pb2.UNAVAILABLE if status >= 500 else code_pb2.UNKNOWN
            )
            body = _encode(status_pb2.Status(code=code, message=message), content_type)
            self._reply(status, body, content_type)
        else:
            self._reply(status, message.encode("utf-8"), "text/plain; charset=utf-8")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        if status >= 400:
            for name, value in self.server.receiver.error_headers.items():
                self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the exporters' own logs are what tests look at."""


class _HttpServer(ThreadingHTTPServer):
    # Handler threads are joined on server_close() so none outlives stop().
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    # Left off so that two receivers can never share a port without an error.
    allow_reuse_port = False

    def __init__(self, address: tuple[str, int], receiver: OtlpReceiver) -> None:
        self.receiver = receiver
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _HttpHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup, which can stall for seconds."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection so stop() can cut it."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection as it closes."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Cut every open connection, as a crashing collector would."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # OSError: the handler closed it first.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore the connection errors that stop() provokes; report anything else."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _GrpcServicer:
    """The Export method shared by the three OTLP gRPC services."""

    signal: Signal
    response_type: type[Message]

    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:
        """Record one OTLP/gRPC export."""
        receiver = self._receiver
        receiver._count("grpc", self.signal, dict(context.invocation_metadata()))
        code = receiver._failure(receiver.grpc_fail_with)
        if code is not None:
            if receiver.grpc_error_metadata:
                context.set_trailing_metadata(receiver.grpc_error_metadata)
            context.abort(code, receiver.fail_message)
        receiver._record(self.signal, request)
        return receiver._response(self.signal, self.response_type)


class _TraceServicer(_GrpcServicer, trace_service_pb2_grpc.TraceServiceServicer):
    signal = "traces"
    response_type = trace_service_pb2.ExportTraceServiceResponse


class _MetricsServicer(_GrpcServicer, metrics_service_pb2_grpc.MetricsServiceServicer):
    signal = "metrics"
    response_type = metrics_service_pb2.ExportMetricsServiceResponse


class _LogsServicer(_GrpcServicer, logs_service_pb2_grpc.LogsServiceServicer):
    signal = "logs"
    response_type = logs_service_pb2.ExportLogsServiceResponse


class OtlpReceiver:
    """OTLP/HTTP and OTLP/gRPC receiver on loopback that keeps what it receives.

    ``port``/``grpc_port`` of 0 pick free ports on the first start(); later starts
    reuse them, so exporters built against the endpoints keep working across a
    stop()/start() cycle. ``fail_with`` (an HTTP status) and ``grpc_fail_with`` (a
    ``grpc.StatusCode``) make the receiver reject exports, as an unhealthy backend:
    all of them, or only the next ``fail_times`` if that is set; ``fail_message`` is
    the reason given, ``error_headers`` (e.g. ``Retry-After``) go on HTTP error
    replies and ``grpc_error_metadata`` (e.g. a ``RetryInfo``) on gRPC ones.
    ``partial_success`` (rejected count, message) is put in every response.
    ``headers`` holds each export's HTTP headers or gRPC metadata (names lowercase).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        grpc_port: int = 0,
        fail_with: int | None = None,
        grpc_fail_with: grpc.StatusCode | None = None,
    ) -> None:
        self.host = host
        self._http_port = port
        self._grpc_port = grpc_port
        self.fail_with = fail_with
        self.grpc_fail_with = grpc_fail_with
        self.fail_times: int | None = None
        self.fail_message = "fail_with is set"
        self.error_headers: dict[str, str] = {}
        self.grpc_error_metadata: tuple[tuple[str, str | bytes], ...] = ()
        self.partial_success: tuple[int, str] | None = None
        # Reentrant so wait_for() predicates can call the helpers below.
        self._cond = threading.Condition(threading.RLock())
        self._received: dict[Signal, list[Message]] = {"traces": [], "metrics": [], "logs": []}
        self._requests: Counter[tuple[Protocol, Signal]] = Counter()
        self._headers: list[dict[str, str]] = []
        self._http: _HttpServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc: grpc.Server | None = None
        self._grpc_executor: ThreadPoolExecutor | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> OtlpReceiver:
        """Bind both ports and serve; raise if already running or a port is taken."""
        if self.running:
            raise RuntimeError("OtlpReceiver is already running")
        http_server = _HttpServer((self.host, self._http_port), self)
        try:
            self._start_grpc()
        except BaseException:
            http_server.server_close()
            raise
        self._http = http_server
        self._http_port = http_server.server_port
        # A short poll interval keeps stop() quick; serve_forever only checks its
        # shutdown flag between polls.
        self._http_thread = threading.Thread(
            target=http_server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"otlp-receiver-http-{self._http_port}",
            daemon=True,
        )
        self._http_thread.start()
        return self

    def _start_grpc(self) -> None:
        executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp-receiver-grpc")
        # grpcio turns SO_REUSEPORT on by default, which would let a second server
        # silently share the port; off, a clash fails the bind instead.
        server = grpc.server(executor, options=[("grpc.so_reuseport", 0)])
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceServicer(self), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            _MetricsServicer(self), server
        )
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsServicer(self), server)
        try:
            port = server.add_insecure_port(_hostport(self.host, self._grpc_port))
            if port == 0:  # older grpcio reports a failed bind this way
                raise RuntimeError(f"cannot bind gRPC port {self._grpc_port}")
            server.start()
        except BaseException:
            server.stop(None)
            executor.shutdown(wait=True)
            raise
        self._grpc, self._grpc_executor, self._grpc_port = server, executor, port

    def stop(self) -> None:
        """Stop serving, cut open connections and release both ports (idempotent)."""
        http_server, self._http = self._http, None
        if http_server is not None:
            http_server.shutdown()
            http_server.drop_connections()
            http_server.server_close()
        if self._http_thread is not None:
            self._http_thread.join()
            self._http_thread = None
        grpc_server, self._grpc = self._grpc, None
        if grpc_server is not None:
            grpc_server.stop(_GRPC_STOP_GRACE).wait()
        if self._grpc_executor is not None:
            self._grpc_executor.shutdown(wait=True)
            self._grpc_executor = None

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the receiver is serving."""
        return self._http is not None

    @property
    def http_port(self) -> int:
        """The OTLP/HTTP port (known once started)."""
        return self._bound(self._http_port)

    @property
    def grpc_port(self) -> int:
        """The OTLP/gRPC port (known once started)."""
        return self._bound(self._grpc_port)

    @property
    def http_endpoint(self) -> str:
        """Base URL for OTLP/HTTP; exporters given it directly need ``/v1/<signal>``."""
        return f"http://{_hostport(self.host, self.http_port)}"

    @property
    def grpc_endpoint(self) -> str:
        """URL for OTLP/gRPC, as OTEL_EXPORTER_OTLP_ENDPOINT or ``endpoint=`` take it."""
        return f"http://{_hostport(self.host, self.grpc_port)}"

    def _bound(self, port: int) -> int:
        if port == 0:
            raise RuntimeError("OtlpReceiver has no port yet; call start() first")
        return port

    # -- recording ---------------------------------------------------------------

    def _count(self, protocol: Protocol, signal: Signal, headers: dict[str, str]) -> None:
        with self._cond:
            self._requests[protocol, signal] += 1
            self._headers.append(headers)
            self._cond.notify_all()

    def _failure(self, failure: Any) -> Any:
        """``failure`` if this export is to fail (spending one of ``fail_times``), else None."""
        with self._cond:
            if failure is None or self.fail_times == 0:
                return None
            if self.fail_times is not None:
                self.fail_times -= 1
            return failure

    def _response(self, signal: Signal, response_type: type[Message]) -> Message:
        response = response_type()
        if self.partial_success is not None:
            rejected, message = self.partial_success
            field = {"traces": "rejected_spans", "metrics": "rejected_data_points"}.get(
                signal, "rejected_log_records"
            )
            setattr(response.partial_success, field, rejected)
            response.partial_success.error_message = message
        return response

    def _record(self, signal: Signal, message: Message) -> None:
        with self._cond:
            self._received[signal].append(message)
            self._cond.notify_all()

    def clear(self) -> None:
        """Forget everything received and reset the request counters."""
        with self._cond:
            for messages in self._received.values():
                messages.clear()
            self._requests.clear()
            self._headers.clear()

    def wait_for(self, predicate: Callable[[OtlpReceiver], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate(self)`` is true; False if ``timeout`` passes first."""
        with self._cond:
            return bool(self._cond.wait_for(lambda: predicate(self), timeout))

    # -- reading -----------------------------------------------------------------

    @property
    def requests(self) -> Counter[tuple[Protocol, Signal]]:
        """Export requests that reached a signal endpoint, keyed ``(protocol, signal)``.

        Rejected ones (``fail_with``, a body that does not parse) count too, so a test
        can see retries; only accepted ones are kept as messages.
        """
        with self._cond:
            return Counter(self._requests)

    @property
    def headers(self) -> list[dict[str, str]]:
        """The HTTP headers or gRPC metadata of each export request, oldest first."""
        with self._cond:
            return list(self._headers)

    def received(self, signal: Signal) -> list[Message]:
        """The accepted Export*ServiceRequest messages of one signal, oldest first."""
        with self._cond:
            return list(self._received[signal])

    def spans(self) -> list[ReceivedSpan]:
        """Every received span with its resource attributes and scope name."""
        return [
            ReceivedSpan(resource, span, scope_spans.scope.name)
            for request in self.received("traces")
            for resource_spans in request.resource_spans
            for resource in [attributes(resource_spans.resource.attributes)]
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]

    def metrics(self) -> list[ReceivedMetric]:
        """Every received metric (one per export) with its resource and scope name."""
        return [
            ReceivedMetric(resource, metric, scope_metrics.scope.name)
            for request in self.received("metrics")
            for resource_metrics in request.resource_metrics
            for resource in [attributes(resource_metrics.resource.attributes)]
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
        ]

    def logs(self) -> list[ReceivedLog]:
        """Every received log record with its resource and scope name."""
        return [
            ReceivedLog(resource, record, scope_logs.scope.name)
            for request in self.received("logs")
            for resource_logs in request.resource_logs
            for resource in [attributes(resource_logs.resource.attributes)]
            for scope_logs in resource_logs.scope_logs
            for record in scope_logs.log_records
        ]

    def span_names(self) -> list[str]:
        """Names of all received spans, in arrival order."""
        return [received.span.name for received in self.spans()]

    def metric_names(self) -> list[str]:
        """Distinct names of received metrics, in order first seen.

        Distinct because periodic readers send the same metric on every export.
        """
        return list(dict.fromkeys(received.metric.name for received in self.metrics()))

    def log_bodies(self) -> list[Any]:
        """Bodies of all received log records as Python values, in arrival order."""
        return [any_value(received.record.body) for received in self.logs()]
