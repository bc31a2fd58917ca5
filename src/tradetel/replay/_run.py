"""A replay from start to end: read recorded lines, batch them, send, count what happened.

The loop stops at the first request that cannot be delivered (an endpoint still unreachable
after its retries, bad credentials, a wrong path): what follows would fare the same, and
the summary of what did get through is more use than a long run of identical failures.
A refused request (a 400, a partial success) is counted and the replay goes on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from .._errors import ConfigError
from ..exporters._otlpjson import Signal
from ..exporters._recorded import Recorded, RecordedLine
from ._batch import MAX_BATCH_BYTES, MAX_BATCH_LINES, Batch
from ._retry import Backoff
from ._send import Outcome, Sender, open_sender, send
from ._target import Target, resolve_target

__all__ = ["SIGNALS", "Replay", "SignalSummary", "Summary", "replay"]

SIGNALS: tuple[Signal, ...] = get_args(Signal)
_MAX_REASONS = 5


@dataclass
class SignalSummary:
    """What became of one signal's lines.

    Items are spans, metric data points or log records. ``unsent`` items were read but
    never delivered, because the replay stopped; ``first_ns``/``last_ns`` bound the
    timestamps (Unix nanoseconds) of what the endpoint accepted.
    """

    lines: int = 0
    requests: int = 0
    sent: int = 0
    refused: int = 0
    unsent: int = 0
    retries: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    reasons: list[str] = field(default_factory=list)

    def _add(self, batch: Batch, outcome: Outcome) -> None:
        self.requests += 1
        self.retries += outcome.retries
        if outcome.kind == "failed":
            self.unsent += batch.items
        elif outcome.kind == "refused":
            self.refused += batch.items
        else:
            self.refused += outcome.rejected
            self.sent += batch.items - outcome.rejected
            if batch.first_ns is not None:
                self.first_ns = min(batch.first_ns, self.first_ns or batch.first_ns)
            if batch.last_ns is not None:
                self.last_ns = max(batch.last_ns, self.last_ns or batch.last_ns)
        reason = outcome.message if outcome.kind == "refused" or outcome.rejected else ""
        if reason and reason not in self.reasons and len(self.reasons) < _MAX_REASONS:
            self.reasons.append(reason)


@dataclass
class Summary:
    """What a replay read, sent and could not send; ``ok`` when everything got through."""

    endpoint: str
    protocol: str
    files: list[str]
    signals: dict[str, SignalSummary]
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        """Whether everything recorded was accepted (malformed lines aside: they hold none)."""
        return (
            self.stopped is None
            and not self.unreadable
            and not any(s.refused or s.unsent for s in self.signals.values())
        )


class Replay:
    """A configured replay of recorded files to one endpoint; ``run()`` sends them.

    ``summary`` is filled in as the replay goes, so it tells what was sent even when
    ``run()`` is interrupted.

    Raises:
        ConfigError: an option is invalid (named in the message).
        FileNotFoundError: a path does not exist, or a folder holds no ``*.jsonl`` file.
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | str | None = None,
        signals: Iterable[str] = SIGNALS,
        timeout: float = 10.0,
        retries: int = 5,
        insecure: bool | None = None,
        backoff: Backoff | None = None,
        environ: Mapping[str, str] | None = None,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        max_batch_lines: int = MAX_BATCH_LINES,
    ) -> None:
        wanted = list(dict.fromkeys(signals))
        unknown = [s for s in wanted if s not in SIGNALS]
        if unknown or not wanted:
            raise ConfigError(f"signals: expected some of {', '.join(SIGNALS)}, got {wanted}")
        if not timeout > 0:
            raise ConfigError(f"timeout: must be more than 0 seconds, got {timeout}")
        if retries < 0:
            raise ConfigError(f"retries: must be 0 or more, got {retries}")
        self.target: Target = resolve_target(endpoint, protocol, headers, insecure, environ)
        self.signals: list[Signal] = [s for s in SIGNALS if s in wanted]
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff or Backoff()
        self.max_batch_bytes = max_batch_bytes
        self.max_batch_lines = max_batch_lines
        self.recorded = Recorded.of(paths)  # a file named twice is read once
        self._ran = False
        self.summary = Summary(
            endpoint=self.target.display,
            protocol=self.target.protocol,
            files=[str(path) for path in self.recorded.paths],
            signals={signal: SignalSummary() for signal in self.signals},
        )

    def run(self, on_line: Callable[[RecordedLine], Any] | None = None) -> Summary:
        """Send every line, in order; ``on_line`` is called with each line as it is read.

        A file that cannot be read is skipped and listed in ``summary.unreadable``.
        """
        if self._ran:  # the counts would add up twice
            raise RuntimeError("a Replay runs once; make a new one to send the files again")
        self._ran = True
        sender = open_sender(self.target, self.timeout)
        lines = self.recorded.lines(self.signals)
        batch: Batch | None = None  # read, not yet sent
        try:
            for line in lines:
                self.summary.signals[line.signal].lines += 1
                if on_line is not None:
                    on_line(line)
                if batch is not None and batch.fits(
                    line, self.max_batch_bytes, self.max_batch_lines
                ):
                    batch.add(line)
                    continue
                full, batch = batch, Batch(line)
                if full is not None and not self._send(sender, full):
                    break
            else:
                full, batch = batch, None
                if full is not None:
                    self._send(sender, full)
        except KeyboardInterrupt:
            self.summary.stopped = "interrupted"
            raise
        finally:
            if batch is not None:
                self.summary.signals[batch.signal].unsent += batch.items
            close = getattr(lines, "close", None)  # a generator left early holds its file open
            if close is not None:
                close()
            sender.close()
            self.summary.malformed = self.recorded.malformed
            self.summary.malformed_examples = list(self.recorded.examples)
            self.summary.unreadable = list(self.recorded.unreadable)
        return self.summary

    def _send(self, sender: Sender, batch: Batch) -> bool:
        """Send ``batch`` and count the outcome; False when the replay must stop."""
        try:
            outcome = send(sender, batch.signal, batch.request, self.retries, self.backoff)
        except BaseException:  # interrupted mid-request: whether it arrived is unknown
            self.summary.signals[batch.signal].unsent += batch.items
            raise
        self.summary.signals[batch.signal]._add(batch, outcome)
        if outcome.stop:
            self.summary.stopped = f"{outcome.message} (nothing from {batch.start} on was sent)"
            return False
        return True


def replay(
    paths: Iterable[str | os.PathLike[str]],
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | str | None = None,
    signals: Iterable[str] = SIGNALS,
    timeout: float = 10.0,
    retries: int = 5,
    insecure: bool | None = None,
) -> Summary:
    """Send recorded OTLP/JSON files to an OTLP endpoint, ids and timestamps as recorded.

    Args:
        paths: files, or folders whose ``*.jsonl`` files are read oldest backup first.
        endpoint: the OTLP endpoint URL; else ``OTEL_EXPORTER_OTLP_ENDPOINT``, else
            ``http://localhost:4318`` (``4317`` for gRPC).
        protocol: ``http/protobuf``, ``http/json`` or ``grpc``; else
            ``OTEL_EXPORTER_OTLP_PROTOCOL``, else ``http/protobuf``.
        headers: sent with every request, added to ``OTEL_EXPORTER_OTLP_HEADERS``.
        signals: the signals to send, of ``traces``, ``metrics``, ``logs``.
        timeout: seconds per attempt.
        retries: attempts after the first for busy or unreachable endpoints.
        insecure: plaintext gRPC to an endpoint given as ``host:port``.

    Returns:
        The summary; ``summary.ok`` is False if anything was refused or not sent.

    Raises:
        ConfigError: an option is invalid.
        FileNotFoundError: a path does not exist or a folder holds no ``*.jsonl`` file.
    """
    return Replay(
        paths,
        endpoint=endpoint,
        protocol=protocol,
        headers=headers,
        signals=signals,
        timeout=timeout,
        retries=retries,
        insecure=insecure,
    ).run()
