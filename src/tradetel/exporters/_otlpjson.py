"""OTLP/JSON lines: the format of the Collector's ``file`` exporter and ``otlpjsonfile`` receiver.

Each line is one ``Export{Trace,Metrics,Logs}ServiceRequest`` in the OTLP/JSON mapping. That
mapping is protobuf's JSON mapping with two differences that matter here: enums are integers,
and trace and span ids are hex strings where protobuf would give base64. Ids are rewritten
only at the paths where the OTLP schema puts them, because ``AnyValue.bytesValue`` stays
base64 and a value alone cannot tell the two apart.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Literal, TypeAlias, overload

# protobuf ships without type information; with types-protobuf installed the ignore is unused.
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from opentelemetry.exporter.otlp.proto.common import (
    _log_encoder,
    metrics_encoder,
    trace_encoder,
)
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.metrics.export import MetricsData
from opentelemetry.sdk.trace import ReadableSpan

from tradetel._errors import TradetelError

__all__ = [
    "MalformedLine",
    "Request",
    "Signal",
    "decode_document",
    "decode_line",
    "encode_logs",
    "encode_metrics",
    "encode_spans",
    "parse_json",
    "read_file",
    "signal_of",
]

Signal: TypeAlias = Literal["traces", "metrics", "logs"]
Request: TypeAlias = (
    ExportTraceServiceRequest | ExportMetricsServiceRequest | ExportLogsServiceRequest
)

# (path of nested repeated/singular messages, id keys in each message found there)
_IdPaths: TypeAlias = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
_SPAN = ("resourceSpans", "scopeSpans", "spans")
_TRACE_IDS: _IdPaths = (
    (_SPAN, ("traceId", "spanId", "parentSpanId")),
    ((*_SPAN, "links"), ("traceId", "spanId")),
)
_METRIC = ("resourceMetrics", "scopeMetrics", "metrics")
# Summary data points carry no exemplars, so they have no ids.
_METRIC_IDS: _IdPaths = tuple(
    ((*_METRIC, kind, "dataPoints", "exemplars"), ("traceId", "spanId"))
    for kind in ("gauge", "sum", "histogram", "exponentialHistogram")
)
_LOG_IDS: _IdPaths = ((("resourceLogs", "scopeLogs", "logRecords"), ("traceId", "spanId")),)

_SIGNALS: dict[str, tuple[type[Request], _IdPaths]] = {
    "traces": (ExportTraceServiceRequest, _TRACE_IDS),
    "metrics": (ExportMetricsServiceRequest, _METRIC_IDS),
    "logs": (ExportLogsServiceRequest, _LOG_IDS),
}
_TOP_KEYS: dict[str, Signal] = {
    "resourceSpans": "traces",
    "resourceMetrics": "metrics",
    "resourceLogs": "logs",
}
_ID_BYTES = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_HEX = re.compile(r"[0-9a-fA-F]*")


class MalformedLine(TradetelError, ValueError):
    """A line is not a valid OTLP/JSON request of the expected signal."""


def encode_spans(spans: Sequence[ReadableSpan]) -> str:
    """Encode spans as one OTLP/JSON ``ExportTraceServiceRequest`` line, without a newline."""
    return _to_line(trace_encoder.encode_spans(spans), _TRACE_IDS)


def encode_metrics(data: MetricsData) -> str:
    """Encode metrics as one OTLP/JSON ``ExportMetricsServiceRequest`` line, without a newline."""
    return _to_line(metrics_encoder.encode_metrics(data), _METRIC_IDS)


def encode_logs(records: Sequence[ReadableLogRecord]) -> str:
    """Encode log records as one OTLP/JSON ``ExportLogsServiceRequest`` line, without a newline."""
    return _to_line(_log_encoder.encode_logs(records), _LOG_IDS)


@overload
def decode_line(signal: Literal["traces"], line: str | bytes) -> ExportTraceServiceRequest: ...
@overload
def decode_line(signal: Literal["metrics"], line: str | bytes) -> ExportMetricsServiceRequest: ...
@overload
def decode_line(signal: Literal["logs"], line: str | bytes) -> ExportLogsServiceRequest: ...
def decode_line(signal: Signal, line: str | bytes) -> Request:
    """Decode one OTLP/JSON line into its request message; raise ``MalformedLine`` if invalid."""
    return decode_document(signal, parse_json(line))


def parse_json(line: str | bytes) -> dict[str, object]:
    """The JSON object of one line; raise ``MalformedLine`` if it is not one."""
    try:
        document = json.loads(line)
    except (ValueError, RecursionError) as exc:  # ValueError covers bad UTF-8 in bytes too
        raise MalformedLine(f"not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise MalformedLine(f"expected a JSON object, found {type(document).__name__}")
    return document


def signal_of(document: dict[str, object]) -> Signal:
    """The signal of a parsed line, by its top-level key; raise ``MalformedLine`` if none."""
    for key, signal in _TOP_KEYS.items():
        if key in document:
            return signal
    raise MalformedLine(f"no {', '.join(_TOP_KEYS)} in the line")


def decode_document(signal: Signal, document: dict[str, object]) -> Request:
    """The request message of a parsed line (its ids rewritten in place)."""
    message_type, id_paths = _signal(signal)
    _rewrite_ids(document, id_paths, _hex_to_base64)
    message = message_type()
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except Exception as exc:  # ParseDict lets some errors out unwrapped, e.g. OverflowError
        raise MalformedLine(f"not a valid {message_type.__name__}: {exc}") from None
    return message


@overload
def read_file(
    path: str | os.PathLike[str], signal: Literal["traces"]
) -> tuple[list[ExportTraceServiceRequest], int]: ...
@overload
def read_file(
    path: str | os.PathLike[str], signal: Literal["metrics"]
) -> tuple[list[ExportMetricsServiceRequest], int]: ...
@overload
def read_file(
    path: str | os.PathLike[str], signal: Literal["logs"]
) -> tuple[list[ExportLogsServiceRequest], int]: ...
def read_file(path: str | os.PathLike[str], signal: Signal) -> tuple[list[Request], int]:
    """Return the requests in a .jsonl file and how many malformed lines were skipped.

    Blank lines are ignored without counting. Bad content never raises; a missing or
    unreadable file raises ``OSError``.
    """
    _signal(signal)
    messages: list[Request] = []
    skipped = 0
    # Binary lines split on b"\n" only; text mode would also split inside strings holding
    # U+2028 and similar, and would fail on a multi-byte character cut by a crash.
    with open(path, "rb") as file:
        for raw in file:
            if not raw.strip():
                continue
            try:
                messages.append(decode_line(signal, raw))
            except MalformedLine:
                skipped += 1
    return messages, skipped


def _signal(signal: str) -> tuple[type[Request], _IdPaths]:
    try:
        return _SIGNALS[signal]
    except KeyError:
        raise ValueError(f"unknown signal {signal!r}; expected one of {sorted(_SIGNALS)}") from None


def _to_line(message: Request, id_paths: _IdPaths) -> str:
    document: dict[str, object] = json_format.MessageToDict(message, use_integers_for_enums=True)
    _rewrite_ids(document, id_paths, _base64_to_hex)
    # ensure_ascii keeps the line pure ASCII, so its length is its size and encoding cannot fail.
    return json.dumps(document, separators=(",", ":"))


def _rewrite_ids(
    document: object, id_paths: _IdPaths, convert: Callable[[str, object], str]
) -> None:
    for path, keys in id_paths:
        for node in _nodes(document, path):
            for key in keys:
                if key in node:
                    node[key] = convert(key, node[key])


def _nodes(node: object, path: tuple[str, ...]) -> Iterator[dict[str, object]]:
    """Yield the objects at ``path``, stepping into every element of each list on the way."""
    if isinstance(node, list):
        for item in node:
            yield from _nodes(item, path)
        return
    if not isinstance(node, dict):
        raise MalformedLine(f"expected a JSON object, found {type(node).__name__}")
    if not path:
        yield node
    elif (child := node.get(path[0])) is not None:
        yield from _nodes(child, path[1:])


def _base64_to_hex(_key: str, value: object) -> str:
    assert isinstance(value, str)  # MessageToDict renders bytes fields as base64 strings
    return base64.b64decode(value).hex()


def _hex_to_base64(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise MalformedLine(f"{key} must be a hex string, found {type(value).__name__}")
    if value and (len(value) != 2 * _ID_BYTES[key] or not _HEX.fullmatch(value)):
        raise MalformedLine(f"{key} must be {2 * _ID_BYTES[key]} hex digits, found {value!r}")
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")
