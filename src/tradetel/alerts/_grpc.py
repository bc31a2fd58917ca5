"""OTLP/gRPC ``MetricsService/Export`` for the service: the same path as OTLP/HTTP.

The handler is registered generically (no generated servicer class), so that grpcio, which
has no type information, stays at the edge.  Imported only when ``grpc_listen`` is set.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio has no type information
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from .._errors import ConfigError
from ._otlp import PayloadError

if TYPE_CHECKING:
    from ._service import AlertService

__all__ = ["GrpcReceiver", "start_grpc"]

_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"
_WORKERS = 4


class GrpcReceiver:
    """A started gRPC server, its port, and the threads it runs calls on."""

    def __init__(self, server: Any, port: int, executor: ThreadPoolExecutor) -> None:
        self._server = server
        self._executor = executor
        self.port = port

    def stop(self, grace: float) -> None:
        """Refuse new calls, give running ones ``grace`` seconds, then release the threads."""
        self._server.stop(grace).wait()
        self._executor.shutdown(wait=True)


def start_grpc(service: AlertService, address: tuple[str, int]) -> GrpcReceiver:
    """Serve ``MetricsService/Export`` on ``address`` (port 0 picks a free one)."""

    def export(request: ExportMetricsServiceRequest, context: Any) -> ExportMetricsServiceResponse:
        metadata = dict(context.invocation_metadata())  # gRPC metadata keys are lowercase
        if not service.authorized(metadata.get("authorization")):
            service.metrics.count_request("grpc", "UNAUTHENTICATED")
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "a valid bearer token is required (authorization: Bearer <token>)",
            )
        try:
            result = service.ingest(request)
        except PayloadError as exc:
            service.metrics.count_request("grpc", "INVALID_ARGUMENT")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed OTLP metrics: {exc}")
        service.metrics.count_request("grpc", "OK")
        response = ExportMetricsServiceResponse()
        if result.rejected:
            response.partial_success.rejected_data_points = result.rejected
            response.partial_success.error_message = "; ".join(result.errors)
        return response

    handler = grpc.method_handlers_generic_handler(
        _SERVICE,
        {
            "Export": grpc.unary_unary_rpc_method_handler(
                export,
                request_deserializer=ExportMetricsServiceRequest.FromString,
                response_serializer=ExportMetricsServiceResponse.SerializeToString,
            )
        },
    )
    executor = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="tradetel-alerts-grpc")
    server = grpc.server(
        executor,
        handlers=[handler],
        options=[
            ("grpc.max_receive_message_length", service.max_body_bytes),
            # grpcio turns SO_REUSEPORT on by default, which would let two services share a port
            ("grpc.so_reuseport", 0),
        ],
    )
    host, port = address
    target = f"[{host}]:{port}" if ":" in host else f"{host or '0.0.0.0'}:{port}"
    try:
        bound = server.add_insecure_port(target)
    except RuntimeError:
        bound = 0
    if not bound:
        server.stop(None)
        executor.shutdown(wait=False)
        raise ConfigError(f"cannot listen for OTLP/gRPC on {target}")
    server.start()
    return GrpcReceiver(server, int(bound), executor)
