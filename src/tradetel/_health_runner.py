"""The health checks' state, their circuit breakers, and the thread that runs them.

``health.register()`` puts a ``RegisteredCheck`` in ``registered``. One daemon thread per
process (``runner``, started by ``ensure_runner()``) runs each check when it is due, on a
private event loop: async checks on that loop, sync checks in a few daemon worker threads
(``_Pool``), each with a timeout; ``_record`` applies the outcome to the check's breaker.
``lock`` guards ``registered``, every check's state and ``runner``. A forked child replaces
``lock`` and ``runner`` (a thread of the parent may have held the lock): other modules look
them up on this module at each use (``_health_runner.lock``), never import them by name.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from ._internal import report_internal_error
from ._scrub import describe

logger = logging.getLogger("tradetel")

#: Sync checks that may run at once; a run stuck past its timeout does not take a place.
MAX_WORKERS = 4
Check = Callable[[], Any]


# -- the registered checks ------------------------------------------------------------------


class RegisteredCheck:
    """One registered check: its settings, its breaker and its last result."""

    def __init__(
        self,
        name: str,
        fn: Check,
        *,
        interval: float,
        timeout: float,
        threshold: int,
        cooldown: float,
        critical: bool,
    ) -> None:
        self.name = name
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
        )
        self.interval = float(interval)
        self.timeout = float(timeout)
        self.threshold = threshold
        self.cooldown = float(cooldown)
        self.critical = critical
        # result: None until the first run ends ("pending"), then True or False
        self.healthy: bool | None = None
        self.breaker = "closed"  # "closed" | "open" | "half_open" (a trial is running)
        self.failures = 0
        self.opened_at = 0.0
        self.last_run: float | None = None  # wall clock, when the last run started
        self.last_duration: float | None = None
        self.last_error: str | None = None
        self.due = time.monotonic()  # the first run starts straight away
        # owned by the runner's loop thread
        self.task: asyncio.Task[None] | None = None  # the run in flight
        self.stuck: Any = None  # a run that timed out and is still going (has .done())
        self.stuck_since = 0.0

    def breaker_now(self, now: float) -> str:
        if self.breaker == "open" and now >= self.opened_at + self.cooldown:
            return "half_open"
        return self.breaker

    def view(self, now: float) -> dict[str, Any]:
        last_run = None
        if self.last_run is not None:
            last_run = (
                datetime.fromtimestamp(self.last_run, timezone.utc)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z")
            )
        return {
            "healthy": self.healthy is not False,
            "pending": self.healthy is None,
            "breaker": self.breaker_now(now),
            "consecutive_failures": self.failures,
            "last_run": last_run,
            "last_duration": (
                round(self.last_duration, 6) if self.last_duration is not None else None
            ),
            "last_error": self.last_error,
            "critical": self.critical,
        }


lock = threading.Lock()
registered: dict[str, RegisteredCheck] = {}


# -- recording a result ---------------------------------------------------------------------


def _record(
    c: RegisteredCheck,
    error: str | None,
    wall: float,
    started: float,
    end: float,
    duration: float | None = None,
) -> None:
    """Apply one run's outcome (``error`` None: it passed) to ``c``'s state and breaker."""
    if duration is None:
        duration = max(0.0, end - started)
    with lock:
        was_healthy, was_breaker = c.healthy, c.breaker
        c.last_run, c.last_duration, c.last_error = wall, duration, error
        if error is None:
            c.healthy, c.failures, c.breaker = True, 0, "closed"
            c.due = started + c.interval
        else:
            c.healthy = False
            c.failures += 1
            if c.breaker == "half_open" or (c.breaker == "closed" and c.failures >= c.threshold):
                c.breaker, c.opened_at = "open", end
                c.due = end + c.cooldown
            else:
                c.due = started + c.interval
        current = registered.get(c.name) is c
        failures, breaker = c.failures, c.breaker
    if not current:  # unregistered or replaced meanwhile: nobody asks about it any more
        return
    if error is not None and was_healthy is not False:
        logger.warning("tradetel: health check %r is failing: %s", c.name, error)
    if breaker == "open" and was_breaker == "closed":
        logger.warning(
            "tradetel: health check %r failed %d times in a row; its circuit breaker is open, "
            "next trial in %g s",
            c.name,
            failures,
            c.cooldown,
        )
    elif breaker == "open" and was_breaker == "half_open":
        logger.debug("tradetel: health check %r failed its trial run: %s", c.name, error)
    if error is None and was_healthy is False:
        logger.info("tradetel: health check %r is healthy again", c.name)


# -- the runner: one daemon thread with a private event loop --------------------------------


class _Pool:
    """Daemon threads that run sync checks.

    Not a ThreadPoolExecutor: the interpreter joins its threads at exit, so one hung check
    would keep the program from exiting. A run abandoned after its timeout gives up its place,
    so a hung check does not hold up the others.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._cond = threading.Condition(threading.Lock())
        self._jobs: deque[tuple[concurrent.futures.Future[Any], Check]] = deque()
        self._idle = 0
        self._workers = 0  # threads holding a place (idle, or running a job not abandoned)
        self._abandoned: set[concurrent.futures.Future[Any]] = set()
        self._closed = False

    def submit(self, fn: Check) -> concurrent.futures.Future[Any]:
        job: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._cond:
            self._jobs.append((job, fn))
            if self._idle >= len(self._jobs):
                self._cond.notify()
                return job
            if self._workers >= self._size:
                return job  # waits for a place
            self._workers += 1
        try:
            threading.Thread(target=self._work, name="tradetel-health-worker", daemon=True).start()
        except RuntimeError as exc:  # no new threads at interpreter shutdown
            with self._cond:
                self._workers -= 1
                if (job, fn) in self._jobs:
                    self._jobs.remove((job, fn))
            job.set_exception(exc)
        return job

    def abandon(self, job: concurrent.futures.Future[Any]) -> bool:
        """Give up on ``job`` (timed out); True when it is running on and holds a thread."""
        job.cancel()  # never started: it will not start
        with self._cond:
            if job.done() or job in self._abandoned:
                return False
            self._abandoned.add(job)
            self._workers -= 1
            if self._jobs and self._idle < len(self._jobs) and not self._closed:
                self._workers += 1
                start = True
            else:
                start = False
        if start:
            try:
                threading.Thread(
                    target=self._work, name="tradetel-health-worker", daemon=True
                ).start()
            except RuntimeError:
                with self._cond:
                    self._workers -= 1
        return True

    def close(self) -> None:
        """Let idle threads end (running ones end after their job)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                if not self._jobs:
                    self._workers -= 1
                    return
                job, fn = self._jobs.popleft()
            if not job.set_running_or_notify_cancel():
                continue
            try:
                result = fn()
            except BaseException as exc:  # the check's own failure, whatever it is
                job.set_exception(exc)
            else:
                job.set_result(result)
            with self._cond:
                if job in self._abandoned:  # its place was given away: take one or end
                    self._abandoned.discard(job)
                    if self._closed or self._workers >= self._size:
                        return
                    self._workers += 1


async def _call_async(fn: Check) -> Any:
    result = fn()
    if inspect.isawaitable(result):
        result = await result
    return result


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _retrieve(task: asyncio.Future[Any]) -> None:
    # an abandoned run's exception is not news: keep asyncio from logging it
    if not task.cancelled():
        task.exception()


class _Runner:
    """The thread that runs every check of this process, on its own event loop."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.pool = _Pool(MAX_WORKERS)
        self.tasks: set[asyncio.Future[Any]] = set()  # runs and abandoned async runs
        self.requests = 0  # run_now() calls on their way to the loop
        self._wake_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, name="tradetel-health", daemon=True)
        try:
            self.thread.start()
        except BaseException:
            self.loop.close()
            raise

    def wake(self) -> None:
        """Have the scheduler look at the checks again (from any thread)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: this runner has ended
            self.loop.call_soon_threadsafe(self._set_wake)

    def _set_wake(self) -> None:
        if self._wake_event is not None:
            self._wake_event.set()

    def _main(self) -> None:
        global runner
        try:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._schedule())
        except Exception as exc:
            report_internal_error("health checks", exc)
        finally:
            with lock:
                if runner is self:
                    runner = None
            self.pool.close()
            self.loop.close()

    async def _schedule(self) -> None:
        global runner
        self._wake_event = wake = asyncio.Event()
        while True:
            wake.clear()
            with lock:
                checks = list(registered.values())
                if not checks and not self.tasks and not self.requests:
                    if runner is self:
                        runner = None
                    return
            delay = self._start_due(checks)
            if delay is None:
                await wake.wait()
            else:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), delay)

    def _track(self, future: asyncio.Future[Any]) -> None:
        self.tasks.add(future)
        future.add_done_callback(self.tasks.discard)

    def _start_due(self, checks: list[RegisteredCheck]) -> float | None:
        """Start the runs that are due; seconds until the next one (None: nothing waits)."""
        now = time.monotonic()
        soonest: float | None = None
        for c in checks:
            if c.task is not None:
                continue
            with lock:
                due = c.due
                if due <= now and c.breaker == "open":
                    c.breaker = "half_open"  # the cool-down is over: one trial run
            if due > now:
                soonest = due if soonest is None else min(soonest, due)
                continue
            if c.stuck is not None and not c.stuck.done():
                running_for = now - c.stuck_since
                _record(
                    c,
                    f"TimeoutError: the previous run is still running, {running_for:.1f} s "
                    "after it started",
                    time.time(),
                    now,
                    now,
                    running_for,
                )
                soonest = c.due if soonest is None else min(soonest, c.due)
                continue
            c.stuck = None
            c.task = self.loop.create_task(self._run(c))
            self._track(c.task)
        return None if soonest is None else max(0.0, soonest - now)

    async def _run(self, c: RegisteredCheck) -> None:
        wall, started = time.time(), time.monotonic()
        try:
            error = await self._outcome(c, started)
            _record(c, error, wall, started, time.monotonic())
        finally:
            c.task = None
            self._set_wake()

    async def _outcome(self, c: RegisteredCheck, started: float) -> str | None:
        """Run ``c`` once: None when it passed, else why it failed."""
        loop = self.loop
        deadline = loop.time() + c.timeout
        job: concurrent.futures.Future[Any] | None = None
        waiting: asyncio.Future[Any]
        if c.is_async:
            waiting = loop.create_task(_call_async(c.fn))
        else:
            job = self.pool.submit(c.fn)
            waiting = asyncio.wrap_future(job, loop=loop)
        done = await _within(waiting, deadline - loop.time())
        if done and not waiting.cancelled() and waiting.exception() is None:
            result = waiting.result()
            if inspect.isawaitable(result):  # a plain function that returned a coroutine
                job = None
                waiting = loop.create_task(_await(result))
                done = await _within(waiting, deadline - loop.time())
        if not done:
            waiting.cancel()
            if job is not None:
                if self.pool.abandon(job):
                    c.stuck, c.stuck_since = job, started
            else:  # an async run: cancelled, and done once it lets the cancellation through
                waiting.add_done_callback(_retrieve)
                self._track(waiting)
                c.stuck, c.stuck_since = waiting, started
            return f"TimeoutError: no result within {c.timeout:g} s"
        if waiting.cancelled():
            return "CancelledError: the check was cancelled"
        exc = waiting.exception()
        if exc is not None:
            return describe(exc)
        if waiting.result() is False:
            return "the check returned False"
        return None

    async def run_selected(self, checks: list[RegisteredCheck]) -> None:
        """``run_now()``: make ``checks`` due (unless cooling down) and wait for their runs."""
        try:
            now = time.monotonic()
            with lock:
                for c in checks:
                    if c.task is None and c.breaker_now(now) != "open":
                        c.due = now
            self._start_due(checks)
            running = [c.task for c in checks if c.task is not None]
            if running:
                await asyncio.wait(running)
        finally:
            with lock:
                self.requests -= 1
            self._set_wake()


async def _within(future: asyncio.Future[Any], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``future``, without cancelling it; is it done?"""
    if not future.done():
        await asyncio.wait([future], timeout=max(0.0, timeout))
    return future.done()


#: This process's runner: None until a check needs one, and again once it has ended.
runner: _Runner | None = None
#: Runners inherited from a parent process: kept so that their loop and tasks are never
#: garbage-collected (which would warn about an unclosed loop and pending tasks).
_inherited: list[_Runner] = []


def ensure_runner() -> _Runner | None:
    """This process's runner, started if needed (call with ``lock`` held)."""
    global runner
    existing = runner
    if existing is not None and existing.pid == os.getpid() and existing.thread.is_alive():
        return existing
    if existing is not None and existing.pid != os.getpid():
        _inherited.append(existing)
    runner = None
    try:
        runner = _Runner()
    except Exception as exc:  # no threads at interpreter shutdown, no file descriptors left
        if not isinstance(exc, RuntimeError):
            report_internal_error("health checks", exc)
    return runner


def _after_fork_in_child() -> None:
    """The runner's threads do not exist in a forked child: forget them (start nothing)."""
    global lock, runner
    lock = threading.Lock()  # a thread of the parent may have held it
    if runner is not None:
        _inherited.append(runner)
        runner = None
    for c in registered.values():
        c.task = None
        c.stuck = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
