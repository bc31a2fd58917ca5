"""Tick-to-trade latency: from the market data that triggered a decision to the order it sent.

    def on_book_update(book):
        with tradetel.tick_to_trade.received():     # the mark: this tick, now
            strategy.on_tick(book)                  # ... decides, and sends an order:

    tradetel.orders.submitted("c-1", venue="binance", ...)   # records the latency

The mark lives in a context variable, so it follows the code that handles the tick through
``await`` and into tasks it starts, and ticks handled concurrently do not mix. ``sent()``
records the latency where the order tracker is not used. Timestamps may be passed (exchange
or backtest time); without them the two ends are read from a monotonic clock.
"""

from __future__ import annotations

import math
import time
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from types import TracebackType

from . import semconv as sc
from ._decorators import _label as label
from ._internal import report_internal_error, warn_once
from ._metrics import Bound
from ._runtime import STATE

__all__ = ["Mark", "received", "sent"]

_LATENCY = Bound(
    "histogram",
    sc.TICK_TO_TRADE_LATENCY,
    "s",
    "Time from the market data that triggered a decision to the order it sent.",
    (sc.STRATEGY_NAME, sc.VENUE),
    sc.LATENCY_BUCKETS,
)


class Mark:
    """The receipt of one piece of market data; a context manager that scopes it."""

    __slots__ = ("_token", "perf_ns", "wall_ns")

    def __init__(self, wall_ns: int, perf_ns: int | None) -> None:
        self.wall_ns = wall_ns
        self.perf_ns = perf_ns  # None when the time was given: compare wall times then
        self._token: Token[Mark | None] | None = None

    def __enter__(self) -> Mark:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        if token is not None:
            try:
                _MARK.reset(token)
            except ValueError:  # left in another context than it was entered: just clear it
                _MARK.set(None)


_MARK: ContextVar[Mark | None] = ContextVar("tradetel_tick_to_trade", default=None)


#: Timestamps are seconds since the epoch: larger numbers are taken for milliseconds or
#: microseconds (as exchanges send them) and refused, not read as dates centuries ahead.
MAX_SECONDS = 10_000_000_000.0  # the year 2286


def to_ns(ts: float | datetime | None) -> int | None:
    """A timestamp (seconds since the epoch, or a datetime; naive means UTC) in nanoseconds.

    None for a missing or unreadable value, and for a number that is not a finite count of
    seconds from 1970 to 2286 (a millisecond timestamp, for one).
    """
    if ts is None:
        return None
    try:
        if isinstance(ts, datetime):
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=timezone.utc)
            seconds = ts.timestamp()
        else:
            seconds = float(ts)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    if not (math.isfinite(seconds) and 0.0 <= seconds < MAX_SECONDS):
        return None
    return round(seconds * 1e9)


def received(ts: float | datetime | None = None) -> Mark:
    """Mark the receipt of market data in the current context; returns the mark.

    Use it as ``with tick_to_trade.received(): ...`` to limit the mark to the block;
    otherwise it stays set for the rest of the current context (the task, the thread).
    """
    given = to_ns(ts)
    if given is None and ts is not None:
        warn_once(
            "tick_to_trade timestamp",
            "tradetel: tick_to_trade.received(ts=%r) is not a time in seconds since the epoch; "
            "the tick is marked now",
            ts,
        )
    mark = Mark(given, None) if given is not None else Mark(time.time_ns(), time.perf_counter_ns())
    mark._token = _MARK.set(mark)
    return mark


def sent(
    *,
    venue: str | None = None,
    strategy: str | None = None,
    ts: float | datetime | None = None,
) -> float | None:
    """Record the tick-to-trade latency of an order sent now (or at ``ts``).

    Returns the latency in seconds, or None when no market data was marked in this context.
    The order tracker calls this itself from ``orders.submitted()``.
    """
    try:
        return record(venue, strategy, to_ns(ts))
    except Exception as exc:
        report_internal_error("tick_to_trade", exc)
        return None


def record(venue: str | None, strategy: str | None, sent_ns: int | None) -> float | None:
    """The latency from the current mark to ``sent_ns`` (None: now), recorded when configured."""
    mark = _MARK.get()
    if mark is None:
        return None
    if sent_ns is None and mark.perf_ns is not None:
        elapsed = time.perf_counter_ns() - mark.perf_ns
    else:
        elapsed = (time.time_ns() if sent_ns is None else sent_ns) - mark.wall_ns
    if elapsed < 0:  # an exchange clock behind ours: no latency rather than a negative one
        return None
    seconds = elapsed / 1e9
    rt = STATE.runtime or STATE.resume()
    if rt is not None:
        key = (label(sc.STRATEGY_NAME, strategy), label(sc.VENUE, venue))
        _LATENCY.series(rt.registry, key).record(seconds)
    return seconds
