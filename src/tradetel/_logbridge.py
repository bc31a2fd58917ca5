"""The bridge from stdlib ``logging`` to OpenTelemetry logs.

It adds no handler to the root logger: a handler there would make ``logging.basicConfig()``
a silent no-op for a program that configures logging after tradetel (the usual order under
a launcher). Instead ``Logger.callHandlers`` is wrapped once, so every record that passes the
logger's own level also reaches the OTel handler, whatever handlers the program has. Records
from tradetel's and OpenTelemetry's own loggers are not bridged, so an exporter that logs its
failure cannot feed itself.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from ._internal import report_internal_error

_handler: logging.Handler | None = None
_original: Any = None
_SKIP = ("tradetel", "opentelemetry")


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    handler = _handler
    # Records emitted while an export runs (an HTTP client's debug lines) would be exported
    # in turn, and so on for ever: exports run with instrumentation suppressed.
    if (
        handler is not None
        and record.name.partition(".")[0] not in _SKIP
        and is_instrumentation_enabled()
    ):
        try:
            handler.handle(record)
        except Exception as exc:
            report_internal_error("logging bridge", exc)
    _original(self, record)


def install(handler: logging.Handler) -> None:
    """Send every log record to ``handler`` too (replacing a previous one)."""
    global _handler, _original
    if _original is None:
        _original = logging.Logger.callHandlers
        logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]
    _handler = handler


def remove() -> None:
    """Stop bridging (the wrapper stays, and passes records straight through)."""
    global _handler
    _handler = None
