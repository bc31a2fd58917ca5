"""The replay summary as text for people and as JSON for scripts.

Plain text, not a rich table: the summary usually ends up in a CI log or a terminal
scrollback, where box drawing and colour codes get in the way. Every message in a summary
was redacted where it was made, so nothing here needs to know about secrets.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ._run import Summary

__all__ = ["summary_json", "summary_text"]

_UNITS = {"traces": "spans", "metrics": "data points", "logs": "log records"}
_COLUMNS = ("lines", "requests", "sent", "refused", "unsent", "retries")


def summary_text(summary: Summary) -> str:
    """The summary as lines of plain text (no trailing newline)."""
    files = len(summary.files)
    out = [
        f"Replayed {files} file{'' if files == 1 else 's'} to {summary.endpoint}"
        f" ({summary.protocol})",
        "",
    ]
    # Signals the files hold no line of are noise here (the JSON keeps them).
    shown = {s: counts for s, counts in summary.signals.items() if counts.lines}
    shown = shown or summary.signals
    rows = [["signal", *_COLUMNS, "from (UTC)", "to (UTC)"]]
    for signal, counts in shown.items():
        rows.append(
            [
                signal,
                *(str(getattr(counts, column)) for column in _COLUMNS),
                _when(counts.first_ns, " ") or "-",
                _when(counts.last_ns, " ") or "-",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    numeric = range(1, 1 + len(_COLUMNS))  # counts align right, names and times left
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        out.append("  ".join(cells).rstrip())
    units = ", ".join(_UNITS[signal] for signal in shown)
    out.append(f"(sent, refused and unsent count {units})")

    if summary.malformed:
        plural = "" if summary.malformed == 1 else "s"
        out += ["", f"Skipped {summary.malformed} malformed line{plural}:"]
        out += [f"  {example}" for example in summary.malformed_examples]
        if summary.malformed > len(summary.malformed_examples):
            out.append(f"  ... and {summary.malformed - len(summary.malformed_examples)} more")
    if summary.unreadable:
        out += ["", "Could not read:"]
        out += [f"  {problem}" for problem in summary.unreadable]
    refusals = [(s, r) for s, counts in summary.signals.items() for r in counts.reasons]
    if refusals:
        out += ["", "Refused by the endpoint:"]
        out += [f"  {signal}: {reason}" for signal, reason in refusals]
    if summary.stopped:
        out += ["", f"Stopped early: {summary.stopped}"]
    out += ["", _verdict(summary)]
    return "\n".join(out)


def summary_json(summary: Summary) -> str:
    """The summary as one JSON document."""
    document: dict[str, Any] = {
        "ok": summary.ok,
        "endpoint": summary.endpoint,
        "protocol": summary.protocol,
        "files": summary.files,
        "signals": {
            signal: {
                **{column: getattr(counts, column) for column in _COLUMNS},
                "unit": _UNITS[signal],
                "first": _when(counts.first_ns, "T", "Z"),
                "last": _when(counts.last_ns, "T", "Z"),
                "first_unix_nano": counts.first_ns,
                "last_unix_nano": counts.last_ns,
                "refusals": counts.reasons,
            }
            for signal, counts in summary.signals.items()
        },
        "malformed": {"lines": summary.malformed, "examples": summary.malformed_examples},
        "unreadable": summary.unreadable,
        "stopped": summary.stopped,
    }
    return json.dumps(document, indent=2)


def _verdict(summary: Summary) -> str:
    counts = summary.signals.values()
    sent = sum(s.sent for s in counts)
    if summary.ok:
        if not sent:
            return "OK: nothing to send."
        return f"OK: all {sent} items were accepted."
    problems = []
    if refused := sum(s.refused for s in counts):
        problems.append(f"{refused} refused")
    if unsent := sum(s.unsent for s in counts):
        problems.append(f"{unsent} not sent")
    if unreadable := len(summary.unreadable):
        problems.append(f"{unreadable} file{'' if unreadable == 1 else 's'} unreadable")
    if summary.stopped:
        problems.append("stopped early")
    return f"FAILED: {sent} items accepted, {', '.join(problems)}."


def _when(unix_nano: int | None, separator: str, suffix: str = "") -> str | None:
    """A Unix-nanosecond time as UTC with milliseconds, or None."""
    if unix_nano is None:
        return None
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, ValueError, OSError):  # a bogus time in a file: show it raw
        return str(unix_nano)
    return f"{moment:%Y-%m-%d}{separator}{moment:%H:%M:%S}.{nanos // 1_000_000:03d}{suffix}"
