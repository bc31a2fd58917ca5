"""When to try a request again, and how long to wait first.

Exponential backoff with jitter, as the OTLP specification asks of exporters: many replays
(or exporters) refused at once by an overloaded backend should not all come back at the
same instant. A server's own hint (``Retry-After``, gRPC ``RetryInfo``) wins over the
backoff, but every wait is capped, so a misconfigured server cannot stall a replay for hours.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = ["Backoff", "Retryable", "retry_after"]


class Retryable(Exception):
    """An attempt failed in a way that may pass: a busy server, a dropped connection.

    ``delay`` is the server's hint in seconds, if it gave one. The message is already
    redacted: it may reach output.
    """

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.delay = delay


@dataclass(frozen=True)
class Backoff:
    """The waits between attempts: ``base * 2**n`` with jitter, at most ``cap`` seconds.

    ``sleep`` is injectable so tests wait for nothing.
    """

    base: float = 0.5
    cap: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, retry: int, hint: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first)."""
        if hint is not None:
            return min(max(hint, 0.0), self.cap)
        ceiling = min(self.cap, self.base * 2.0**retry)
        # Half fixed, half random: never a near-zero wait, yet spread out.
        return ceiling * random.uniform(0.5, 1.0)

    def wait(self, retry: int, hint: float | None = None) -> None:
        """Sleep before retry number ``retry``."""
        seconds = self.delay(retry, hint)
        if seconds > 0:
            self.sleep(seconds)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked by an HTTP ``Retry-After`` header (delay-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; a sloppy one without a zone is taken so
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())
