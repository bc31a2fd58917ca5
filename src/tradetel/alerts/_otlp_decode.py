"""Reading OTLP/HTTP metric bodies (protobuf or JSON, gzip or deflate) into requests.

The SDK's own collections become the same request with the OTLP exporter's encoder, so that
:mod:`._otlp` has one translation path for the collector's payloads and the process's metrics.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

# protobuf ships without type information; with types-protobuf installed the ignore is unused.
from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from tradetel._errors import TradetelError
from tradetel.exporters._otlpjson import MalformedLine, decode_line

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricsData

__all__ = ["PayloadError", "decode", "from_sdk"]

_MEDIA_TYPES = ("application/x-protobuf", "application/json")
_MAX_BODY = 64 * 1024 * 1024


class PayloadError(TradetelError, ValueError):
    """A payload that cannot be decoded or is malformed; the message says what and where."""


def decode(
    body: bytes,
    content_type: str,
    content_encoding: str | None = None,
    *,
    max_size: int = _MAX_BODY,
) -> ExportMetricsServiceRequest:
    """Decode an OTLP/HTTP metrics body (protobuf or JSON, optionally gzip or deflate).

    Raises:
        PayloadError: unsupported content type or encoding, a body that cannot be
            decompressed or inflates past ``max_size`` bytes, or one that is not a request.
    """
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type not in _MEDIA_TYPES:
        raise PayloadError(
            f"unsupported content type {content_type[:100]!r}: "
            "send application/x-protobuf or application/json"
        )
    data = _inflate(body, content_encoding, max_size)
    if media_type == "application/json":
        try:
            return decode_line("metrics", data)
        except MalformedLine as exc:
            raise PayloadError(f"OTLP/JSON body: {exc}"[:300]) from None
    request = ExportMetricsServiceRequest()
    try:
        request.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise PayloadError(f"protobuf body is not an ExportMetricsServiceRequest: {exc}") from None
    return request


def _inflate(body: bytes, content_encoding: str | None, max_size: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        # RFC 9110's deflate is zlib-wrapped, but some clients send raw deflate.
        zlib_header = len(body) > 1 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0
        wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
    else:
        raise PayloadError(
            f"unsupported content encoding {encoding[:50]!r}: send gzip, deflate or identity"
        )
    out = bytearray()
    rest = body
    try:
        while rest:  # a gzip body may hold several members
            inflater = zlib.decompressobj(wbits)
            out += inflater.decompress(rest, max_size + 1 - len(out))
            if not inflater.unconsumed_tail:  # else the limit was hit, and flush() is unbounded
                out += inflater.flush()
            if len(out) > max_size or inflater.unconsumed_tail:
                raise PayloadError(f"{encoding} body inflates past {max_size} bytes")
            if not inflater.eof:
                raise PayloadError(f"{encoding} body is truncated")
            rest = inflater.unused_data if wbits > zlib.MAX_WBITS else b""
    except zlib.error as exc:
        raise PayloadError(f"{encoding} body cannot be decompressed: {exc}") from None
    return bytes(out)


def from_sdk(data: MetricsData) -> ExportMetricsServiceRequest:
    """The SDK's metrics as the OTLP request its exporter would send."""
    return encode_metrics(data)
