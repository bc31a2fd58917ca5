"""How late an asyncio event loop runs its timers: ``trading.runtime.event_loop.lag``.

``monitor_event_loop()`` schedules a timer on the loop every ``interval`` seconds and records,
in the live configuration, how long after its due time each one ran: the time the loop was
blocked. Re-exported by ``tradetel.health``, the public home of ``monitor_event_loop`` and
``LoopMonitor``; see ``docs/health.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from . import semconv
from ._errors import ConfigError
from ._internal import positive_number, report_internal_error
from ._metrics import Bound
from ._runtime import STATE

__all__ = ["LoopMonitor", "monitor_event_loop"]

_LAG = Bound(
    "histogram",
    semconv.EVENT_LOOP_LAG,
    "s",
    "How late an asyncio event loop ran a timer callback: time the loop was blocked.",
    (),
    semconv.LATENCY_BUCKETS,
)


class LoopMonitor:
    """Measures one event loop's lag until ``stop()``; returned by ``monitor_event_loop()``.

    Also a context manager, plain or async: the block's end stops it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = float(interval)
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._stopped = False

    @property
    def running(self) -> bool:
        """True until ``stop()``."""
        return not self._stopped

    def _schedule(self) -> None:
        if self._stopped:
            return
        self._due = self.loop.time() + self.interval
        self._handle = self.loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        if self._stopped:
            return
        lag = self.loop.time() - self._due
        try:
            rt = STATE.runtime or STATE.resume()
            if rt is not None:
                _LAG.series(rt.registry, ()).record(lag if lag > 0.0 else 0.0)
        except Exception as exc:
            report_internal_error("event loop lag", exc)
        self._schedule()

    def stop(self) -> None:
        """Stop measuring (safe from any thread, and more than once)."""
        self._stopped = True
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            handle.cancel()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to cancel
                self.loop.call_soon_threadsafe(handle.cancel)

    def __enter__(self) -> LoopMonitor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LoopMonitor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def monitor_event_loop(
    loop: asyncio.AbstractEventLoop | None = None, *, interval: float = 0.25
) -> LoopMonitor:
    """Record how late ``loop`` runs a timer due every ``interval`` seconds.

    Each measurement goes into the histogram ``trading.runtime.event_loop.lag`` (seconds) of
    the live configuration; while tradetel is not configured it is dropped. Without ``loop``,
    call it from inside the running loop (in a coroutine). Monitor each loop once.

    Raises:
        ConfigError: ``interval`` is not a positive number, no loop is running, or the loop
            is closed.
    """
    if not positive_number(interval):
        raise ConfigError(
            f"monitor_event_loop(): interval={interval!r} must be a positive number of seconds"
        )
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is None:
        if running is None:
            raise ConfigError(
                "monitor_event_loop(): no event loop is running in this thread; call it "
                "from a coroutine, or pass the loop"
            )
        loop = running
    if loop.is_closed():
        raise ConfigError("monitor_event_loop(): the event loop is closed")
    monitor = LoopMonitor(loop, interval)
    if loop is running:
        monitor._schedule()
    else:
        loop.call_soon_threadsafe(monitor._schedule)
    return monitor
