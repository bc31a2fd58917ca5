"""Numbers for people: durations scaled to their size, UTC clock times, percentages."""

from __future__ import annotations

import math
from datetime import datetime, timezone

__all__ = ["Glyphs", "clock", "day", "duration", "number", "percent"]


def _three(value: float) -> str:
    """Three significant digits, without exponent: 1.42, 12.3, 850."""
    if value < 9.995:
        return f"{value:.2f}"
    if value < 99.95:
        return f"{value:.1f}"
    return f"{value:.0f}"


#: (below, factor, unit) from the smallest scale up
_SCALES = ((1e-6, 1e9, "ns"), (9.995e-4, 1e6, "µs"), (0.9995, 1e3, "ms"), (59.95, 1.0, "s"))


def duration(seconds: float | None, *, micro: str = "µs") -> str:
    """``850 µs``, ``12.3 ms``, ``1.42 s``, ``2m 05s``, ``3h 04m``; ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s == 0:
        return "0"
    for below, factor, unit in _SCALES:
        if s < below:
            text = f"{s * factor:.0f}" if unit == "ns" else _three(s * factor)
            return f"{sign}{text} {micro if unit == 'µs' else unit}"
    if s < 3600:
        minutes, rest = divmod(round(s), 60)
        return f"{sign}{minutes}m {rest:02d}s"
    hours, rest = divmod(round(s) // 60, 60)
    return f"{sign}{hours}h {rest:02d}m"


def clock(timestamp: float | None, *, with_day: bool = False) -> str:
    """A unix time as UTC ``HH:MM:SS`` (``YYYY-MM-DD HH:MM:SS`` with the day)."""
    if timestamp is None:
        return "-"
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_day else "%H:%M:%S")


def day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")


def percent(value: float | None, *, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value * 100:+.2f} %" if signed else f"{value * 100:.2f} %"


def number(value: float | None, digits: int = 2) -> str:
    """A figure with ``digits`` decimals (thousands separated); whole counts without any."""
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and digits == 0:
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


class Glyphs:
    """The marks of the text output; plain ASCII where the output encoding is not UTF."""

    def __init__(self, encoding: str) -> None:
        utf = encoding.lower().replace("-", "").startswith("utf")
        self.error = "✗" if utf else "x"
        self.link = "↪" if utf else "->"
        self.bar = "━" if utf else "="
        self.tick = "│" if utf else "|"
        self.arrow = "→" if utf else "->"
        self.dot = "·" if utf else "-"
        self.micro = "µs" if utf else "us"
        self.more = "…" if utf else "..."
        self.le = "≤" if utf else "<="
