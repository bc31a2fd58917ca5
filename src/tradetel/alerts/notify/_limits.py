"""What keeps a channel from being flooded or hammered: a token bucket and a circuit breaker.

Both are plain state machines driven by the caller's clock (epoch seconds), so the dispatcher
can run them under its lock and tests can step time by hand.
"""

from __future__ import annotations

import math

__all__ = ["CircuitBreaker", "TokenBucket"]

# 6 s of refill at 10 per minute is 0.9999999999999999 tokens in floating point
_EPSILON = 1e-9


class TokenBucket:
    """``per_minute`` tokens a minute, at most ``burst`` saved up; it starts full."""

    def __init__(self, per_minute: float, burst: int, now: float) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        # a clock that steps back must not mint tokens later
        self.updated = now

    def ready(self, now: float) -> bool:
        """Is a token available at ``now``?  Takes nothing."""
        self._refill(now)
        return self.tokens >= 1.0 - _EPSILON

    def take(self, now: float) -> bool:
        """Take one token if there is one."""
        if not self.ready(now):
            return False
        self.tokens = max(0.0, self.tokens - 1.0)
        return True

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0 if one is)."""
        if self.ready(now):
            return 0.0
        return (1.0 - self.tokens) / self.rate


class CircuitBreaker:
    """Opens after ``failures`` failed deliveries in a row; after ``reset_after`` seconds it
    lets one trial delivery through (half-open), whose success closes it again."""

    def __init__(self, failures: int, reset_after: float) -> None:
        self.threshold = failures
        self.reset_after = reset_after
        self.failures = 0
        self.opened_at: float | None = None
        self.trial = False  # a half-open trial delivery is under way

    @property
    def open(self) -> bool:
        """Open or half-open: deliveries other than the trial are held back."""
        return self.opened_at is not None

    def ready(self, now: float) -> bool:
        """Would :meth:`allow` let a delivery through at ``now``?  Changes nothing."""
        if self.opened_at is None:
            return True
        return not self.trial and now - self.opened_at >= self.reset_after

    def allow(self, now: float) -> bool:
        """May a delivery go out now?  In the half-open state only one may, until it ends."""
        if not self.ready(now):
            return False
        if self.opened_at is not None:
            self.trial = True
        return True

    def wait(self, now: float) -> float:
        """Seconds until a delivery may go out (``inf`` while the trial is under way)."""
        if self.opened_at is None:
            return 0.0
        if self.trial:
            return math.inf
        return max(0.0, self.opened_at + self.reset_after - now)

    def success(self) -> bool:
        """Record a delivered message; True if this closed an open breaker."""
        was_open = self.open
        self.failures = 0
        self.opened_at = None
        self.trial = False
        return was_open

    def failure(self, now: float) -> bool:
        """Record a failed delivery; True if this opened the breaker (or re-opened it)."""
        self.failures += 1
        if self.trial or (self.opened_at is None and self.failures >= self.threshold):
            self.opened_at = now
            self.trial = False
            return True
        return False
