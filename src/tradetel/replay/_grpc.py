"""OTLP/gRPC through the generated service stubs, gzip-compressed, on one channel.

Which status codes are retried follows the OTLP specification: the transient ones, and
``RESOURCE_EXHAUSTED`` only when the server attaches a ``RetryInfo`` (without one it is
usually a message over the server's size limit, which no retry fixes). Imported only for
``--protocol grpc``: grpcio is a heavy import.
"""

from __future__ import annotations

from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio has no type information
from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]
from google.rpc.error_details_pb2 import RetryInfo  # type: ignore[import-untyped, unused-ignore]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import (
    MetricsServiceStub,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from .._version import __version__
from ..exporters._otlpjson import Request, Signal
from ._retry import Retryable
from ._send import Outcome, accepted
from ._target import Target

__all__ = ["GrpcSender"]

_RETRYABLE = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
# Codes about the endpoint rather than the data: every later request would get the same.
_STOP = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
_RETRY_INFO_KEY = "google.rpc.retryinfo-bin"


class GrpcSender:
    """Calls ``<Signal>Service/Export`` on one channel (TLS unless the target says not)."""

    def __init__(self, target: Target, timeout: float) -> None:
        self._target = target
        self._timeout = timeout
        host = f"[{target.host}]" if ":" in target.host else target.host
        address = f"{host}:{target.port}"
        options = [("grpc.primary_user_agent", f"tradetel-replay/{__version__}")]
        if target.tls:
            credentials = grpc.ssl_channel_credentials()
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        # The generated stubs are untyped (grpcio has no type information).
        stubs: dict[str, Any] = {
            "traces": TraceServiceStub,
            "metrics": MetricsServiceStub,
            "logs": LogsServiceStub,
        }
        self._exports = {signal: stub(self._channel).Export for signal, stub in stubs.items()}
        # gRPC metadata keys must be lowercase; HTTP header names are case-insensitive.
        self._metadata = tuple((name.lower(), value) for name, value in target.headers)

    def attempt(self, signal: Signal, request: Request) -> Outcome:
        """Export ``request`` once; raise ``Retryable`` for what may pass."""
        try:
            response = self._exports[signal](
                request,
                timeout=self._timeout,
                metadata=self._metadata,
                compression=grpc.Compression.Gzip,
            )
        except grpc.RpcError as error:
            code = error.code()
            details = error.details() or ""
            text = f"gRPC {code.name}: {details}" if details else f"gRPC {code.name}"
            message = self._target.redact(text)
            delay = _retry_delay(error)
            if code in _RETRYABLE or (
                code is grpc.StatusCode.RESOURCE_EXHAUSTED and delay is not None
            ):
                raise Retryable(self._where(code, message), delay) from None
            return Outcome("refused", message, stop=code in _STOP)
        return accepted(signal, response, self._target)

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def _where(self, code: Any, message: str) -> str:
        if code is grpc.StatusCode.UNAVAILABLE:
            return f"cannot reach {self._target.display}: {message}"
        return message


def _retry_delay(error: Any) -> float | None:
    """The delay of a ``RetryInfo`` in the error's trailing metadata, if any."""
    trailing = getattr(error, "trailing_metadata", None)
    for key, value in (trailing() if callable(trailing) else None) or ():
        if key == _RETRY_INFO_KEY:
            info = RetryInfo()
            try:
                info.ParseFromString(value)
            except DecodeError:
                return None
            return float(info.retry_delay.seconds + info.retry_delay.nanos / 1e9)
    return None
