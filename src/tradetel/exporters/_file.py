"""Span, metric and log exporters that append OTLP/JSON lines to rotating files.

The files (``traces.jsonl``, ``metrics.jsonl``, ``logs.jsonl``) can be replayed into a
Collector with its ``otlpjsonfile`` receiver, or read back with ``_otlpjson.read_file``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .._config import DEFAULT_FILE_BACKUPS, DEFAULT_FILE_MAX_BYTES
from . import CUMULATIVE
from ._otlpjson import encode_logs, encode_metrics, encode_spans

__all__ = [
    "DEFAULT_BACKUPS",
    "DEFAULT_MAX_BYTES",
    "FileLogExporter",
    "FileMetricExporter",
    "FileSpanExporter",
    "RotatingLineWriter",
]

DEFAULT_MAX_BYTES = DEFAULT_FILE_MAX_BYTES
DEFAULT_BACKUPS = DEFAULT_FILE_BACKUPS

_logger = logging.getLogger(__name__)


class RotatingLineWriter:
    """Thread-safe appender of whole lines to a file that rotates to numbered backups."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        if backups < 0:
            raise ValueError(f"backups must be zero or more, got {backups}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._size = 0
        self._closed = False

    def backup_path(self, index: int) -> Path:
        """Return the path of backup ``index`` (1 is the newest): ``traces.1.jsonl``."""
        return self.path.with_name(f"{self.path.stem}.{index}{self.path.suffix}")

    def write_line(self, line: str) -> None:
        """Append ``line`` and a newline; raise ``OSError`` on I/O failure, ValueError if closed."""
        data = line.encode("utf-8") + b"\n"
        with self._lock:
            if self._closed:
                raise ValueError(f"writer for {self.path} is closed")
            if self._file is None:
                self._open()
            # An empty file takes any line, so a line larger than max_bytes is still written
            # whole; the next write then rotates it away.
            if self._size and self._size + len(data) > self.max_bytes:
                self._rotate()
                self._open()
            assert self._file is not None
            try:
                # One write then flush: a reader never sees part of one line mixed with another.
                self._file.write(data)
                self._file.flush()
            except OSError:
                # Reopen next time, so a half-written line is terminated before the next one.
                self._discard()
                raise
            self._size += len(data)

    def flush(self) -> None:
        """Flush the open file, if any."""
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        """Close the file; later writes raise ``ValueError``."""
        with self._lock:
            self._closed = True
            file, self._file = self._file, None
            if file is not None:
                file.close()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+b")  # noqa: SIM115 - kept open across calls, closed in close()
        try:
            size = file.seek(0, os.SEEK_END)
            if size:
                file.seek(size - 1)
                if file.read(1) != b"\n":
                    # A writer died mid-line; end that line so ours is not glued onto it.
                    file.write(b"\n")
                    file.flush()
                    size += 1
        except OSError:
            file.close()
            raise
        self._file, self._size = file, size

    def _rotate(self) -> None:
        self._discard()
        # os.replace overwrites the destination, so the oldest backup is dropped by the shift.
        for index in range(self.backups - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.backup_path(index), self.backup_path(index + 1))
        if self.backups:
            os.replace(self.path, self.backup_path(1))
        else:
            self.path.unlink(missing_ok=True)

    def _discard(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()


class _Sink:
    """Turn a writer's errors into a boolean, logging the first failure of each streak."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.writer = RotatingLineWriter(path, max_bytes=max_bytes, backups=backups)
        self._failing = False

    def write(self, line: str) -> bool:
        try:
            self.writer.write_line(line)
        except ValueError:
            _logger.warning("tradetel: export to %s after shutdown; dropped", self.writer.path)
            return False
        except OSError as exc:
            # Disk full or permissions stay broken for a while: warn once, not on every export.
            log = _logger.debug if self._failing else _logger.warning
            log("tradetel: cannot write %s (%s); telemetry is dropped", self.writer.path, exc)
            self._failing = True
            return False
        if self._failing:
            _logger.warning("tradetel: writing %s again", self.writer.path)
            self._failing = False
        return True

    def flush(self) -> bool:
        try:
            self.writer.flush()
        except OSError as exc:
            _logger.debug("tradetel: cannot flush %s: %s", self.writer.path, exc)
            return False
        return True

    def close(self) -> None:
        try:
            self.writer.close()
        except OSError as exc:
            _logger.warning("tradetel: cannot close %s: %s", self.writer.path, exc)


class _FileExporter:
    """What the three file exporters share: one file under ``data_dir``, flushed and closed."""

    file_name = ""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
    ) -> None:
        self._sink = _Sink(Path(data_dir) / self.file_name, max_bytes, backups)

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return self._sink.flush()

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        self._sink.close()


class FileSpanExporter(_FileExporter, SpanExporter):
    """Append each batch of spans to ``<data_dir>/traces.jsonl`` as one OTLP/JSON line."""

    file_name = "traces.jsonl"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if spans and not self._sink.write(encode_spans(spans)):
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


class FileMetricExporter(_FileExporter, MetricExporter):
    """Append each collection to ``<data_dir>/metrics.jsonl`` as one cumulative OTLP/JSON line.

    Cumulative points are self-contained, so a reader of any one line or of a rotated-away
    file still gets correct totals.
    """

    file_name = "metrics.jsonl"

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
    ) -> None:
        _FileExporter.__init__(self, data_dir, max_bytes=max_bytes, backups=backups)
        MetricExporter.__init__(self, preferred_temporality=dict(CUMULATIVE))

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: object
    ) -> MetricExportResult:
        if metrics_data.resource_metrics and not self._sink.write(encode_metrics(metrics_data)):
            return MetricExportResult.FAILURE
        return MetricExportResult.SUCCESS


class FileLogExporter(_FileExporter, LogRecordExporter):
    """Append each batch of log records to ``<data_dir>/logs.jsonl`` as one OTLP/JSON line."""

    file_name = "logs.jsonl"

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if batch and not self._sink.write(encode_logs(batch)):
            return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS
