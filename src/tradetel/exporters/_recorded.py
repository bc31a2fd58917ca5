"""Recorded telemetry: the OTLP/JSON files a run left behind, found and read line by line.

``tradetel report`` and ``tradetel replay`` read through here. A path is a file (any name: the
Collector's ``file`` exporter writes wherever it is told) or a folder, whose ``*.jsonl`` files
are read oldest first: rotated backups (``traces.2.jsonl``, ``traces.1.jsonl``) before the
live file. Each line's signal comes from its top-level key, so one file may mix signals. A
line that is not a valid request (a process killed mid-write, a foreign file) is skipped and
counted, with where it was, never raised; so is a file that cannot be read (rotated away or
unreadable between finding and reading it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ._otlpjson import MalformedLine, Request, Signal, decode_document, parse_json, signal_of

__all__ = ["Recorded", "RecordedLine", "find_files"]

# traces.jsonl, traces.1.jsonl ... (RotatingLineWriter.backup_path)
_BACKUP = re.compile(r"^(?P<stem>.+?)\.(?P<index>\d+)$")
_MAX_EXAMPLES = 5


@dataclass(frozen=True)
class RecordedLine:
    """One decoded line: its signal, its request, and where it was read."""

    signal: Signal
    request: Request
    path: Path
    line: int


@dataclass
class Recorded:
    """Reads the lines of recorded files and counts what it read and skipped.

    ``Recorded(paths).lines()`` yields every valid line; afterwards ``lines_read`` holds the
    valid lines per signal, ``malformed`` the skipped ones and ``examples`` where the first
    few of those were (``path:line: reason``), and ``unreadable`` the files that could not
    be read (``path: reason``). Read the lines once: the counts add up on every pass.
    """

    paths: list[Path]
    lines_read: dict[str, int] = field(default_factory=dict)
    malformed: int = 0
    examples: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Recorded:
        """Find the files of ``sources`` (files or folders); raise ``FileNotFoundError``."""
        return cls(find_files(sources))

    def lines(
        self, signals: Iterable[Signal] = ("traces", "metrics", "logs")
    ) -> Iterator[RecordedLine]:
        wanted = set(signals)
        for path in self.paths:
            try:
                yield from self._file_lines(path, wanted)
            except OSError as exc:
                # The lines already yielded stay counted; the rest of the file is lost.
                self.unreadable.append(f"{path}: cannot read it ({exc.strerror or exc})")

    def _file_lines(self, path: Path, wanted: set[Signal]) -> Iterator[RecordedLine]:
        with open(path, "rb") as file:
            # Binary lines split on b"\n" only; a character cut by a crash stays in its line.
            for number, raw in enumerate(file, 1):
                if not raw.strip():
                    continue
                try:
                    document = parse_json(raw)
                    signal = signal_of(document)
                    if signal not in wanted:
                        continue
                    request = decode_document(signal, document)
                except MalformedLine as exc:
                    self._skip(path, number, str(exc))
                    continue
                self.lines_read[signal] = self.lines_read.get(signal, 0) + 1
                yield RecordedLine(signal, request, path, number)

    def _skip(self, path: Path, number: int, reason: str) -> None:
        self.malformed += 1
        if len(self.examples) < _MAX_EXAMPLES:
            self.examples.append(f"{path}:{number}: {reason[:200]}")


def find_files(sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files to read: each file as given, each folder's ``*.jsonl`` oldest first.

    ``sources`` is one path or several; a file named twice (given, and in a folder given) is
    read once, where first named. Raises ``FileNotFoundError`` naming a source that does not
    exist or a folder without any ``.jsonl`` file.
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]  # a str is iterable too, but its characters are not paths
    found: list[Path] = []
    seen: set[Path] = set()
    for source in sources:
        path = Path(source)
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = sorted((p for p in path.glob("*.jsonl") if p.is_file()), key=_age_order)
            if not files:
                raise FileNotFoundError(f"{path}: no telemetry files (*.jsonl) in this folder")
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
        for file in files:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                found.append(file)
    return found


def _age_order(path: Path) -> tuple[str, int]:
    """Sort key: by base name, then the oldest backup first and the live file last."""
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    match = _BACKUP.match(stem)
    if match:
        return match["stem"], -int(match["index"])
    return stem, 0
