"""The one guard between tradetel's own failures and the user's program.

Telemetry must never break the program it observes: an error inside tradetel is logged once
per kind and swallowed. Under tradetel's own test suite (``TRADETEL_RAISE_INTERNAL_ERRORS=1``)
it is re-raised instead, so that a bug cannot hide behind the guard.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading

logger = logging.getLogger("tradetel")

_seen: set[str] = set()
_seen_lock = threading.Lock()


def _raise_internal() -> bool:
    return os.environ.get("TRADETEL_RAISE_INTERNAL_ERRORS", "") == "1"


def report_internal_error(kind: str, exc: BaseException) -> None:
    """Log an internal error once per ``kind``; re-raise it under tradetel's own tests."""
    if _raise_internal():
        raise exc
    with _seen_lock:
        first = kind not in _seen
        _seen.add(kind)
    if first:
        logger.warning(
            "tradetel: internal error in %s (%s: %s); telemetry may be incomplete, "
            "the program is not affected. Further errors of this kind are not logged.",
            kind,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
    else:
        logger.debug("tradetel: internal error in %s: %r", kind, exc)


def warn_once(kind: str, message: str, *args: object) -> None:
    """Log a warning about something outside tradetel (a reader, a slow backend) once."""
    with _seen_lock:
        first = kind not in _seen
        _seen.add(kind)
    if first:
        logger.warning(message, *args)


def positive_number(value: object) -> bool:
    """Is ``value`` a finite number above 0 (an interval, a timeout), and not a bool?"""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


# C0 and C1 controls (ESC starts a terminal escape sequence), and the format characters that
# reorder or hide text (bidi overrides, zero-width): never shown as they are
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: controls shown as escapes (``\\x1b``)."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def reset_reported_errors() -> None:
    """Forget which kinds were logged (for tests)."""
    with _seen_lock:
        _seen.clear()
