"""Prometheus durations (``1h30m``, ``15s``, ``0``), for rule files, notify files and the CLI."""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration"]

_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_SUFFIXES = ("y", "w", "d", "h", "m", "s", "ms")
_UNITS_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def parse_duration(text: object) -> int:
    """A Prometheus duration in milliseconds; ValueError naming the text otherwise.

    As Prometheus' ``model.ParseDuration``: units from years down to milliseconds, each at
    most once and in that order; no fractions, no sign; a bare ``0`` is allowed.
    """
    value = str(text).strip()
    if value == "0":
        return 0
    match = _DURATION.fullmatch(value)
    if not value or match is None:
        raise ValueError(f"not a valid duration string: {value!r} (use e.g. 30s, 5m, 1h30m)")
    return sum(
        int(part) * unit for part, unit in zip(match.groups(), _UNITS_MS, strict=True) if part
    )


def format_duration(ms: int) -> str:
    """The inverse of :func:`parse_duration`, as Prometheus prints durations (``1h30m``)."""
    if ms == 0:
        return "0s"
    out = []
    for suffix, unit in zip(_SUFFIXES, _UNITS_MS, strict=True):
        count, ms = divmod(ms, unit)
        if count:
            out.append(f"{count}{suffix}")
    return "".join(out)
