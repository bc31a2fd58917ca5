"""Health checks with circuit breakers, and asyncio event-loop lag.

    from tradetel import health

    health.register("exchange", ping_exchange, interval=15, timeout=3)
    health.register("prices fresh", lambda: time.time() - last_tick < 5, critical=False)
    health.status()   # {"status": "healthy", "http_status": 200, "checks": {...}}

Checks run on one background daemon thread of tradetel's, never on the caller's: async checks
on a private event loop there, sync checks in a few daemon worker threads, each run with a
timeout. Each check has a circuit breaker, and its result is the gauge
``trading.health.status`` (1 healthy, 0 failing) in every collection. ``monitor_event_loop()``
records how late an asyncio loop runs its timers into ``trading.runtime.event_loop.lag``.
See ``docs/health.md``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import semconv
from ._errors import ConfigError
from ._internal import report_internal_error
from ._metrics import Bound, add_source, gauge_metric
from ._runtime import STATE

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric

__all__ = [
    "LoopMonitor",
    "clear",
    "monitor_event_loop",
    "register",
    "reset",
    "run_now",
    "status",
    "unregister",
]

logger = logging.getLogger("tradetel")

#: Sync checks that may run at once; a run stuck past its timeout does not take a place.
MAX_WORKERS = 4
#: Longest ``last_error`` kept, in characters.
MAX_ERROR_CHARS = 500

Check = Callable[[], Any]


# -- error messages -------------------------------------------------------------------------

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]*")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*://)[^\s/?#]*@")
# A query string after a path without a scheme, as in requests' "url: /v3/order?x=1".
_RELATIVE_QUERY = re.compile(r"(?<=[^\s?])\?[^\s'\"<>()\[\]{}#]*=[^\s'\"<>()\[\]{}]*")
# key=value and "key": "value" pairs whose key names a secret
_SECRET_VALUE = re.compile(
    r"(?i)\b(api[_-]?key|api[_-]?secret|secret|signature|password|passwd|access[_-]?token|token)"
    r"(\s*=\s*['\"]?|['\"]\s*:\s*['\"]?)[^\s&'\",;)}]+"
)


def _scrub_url(match: re.Match[str]) -> str:
    url = match.group(0)
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}{parts.path}"
    except ValueError:  # a malformed port or IPv6 host: cut by hand
        return _USERINFO.sub(r"\1", re.split(r"[?#]", url, maxsplit=1)[0])


def _scrub_message(text: str) -> str:
    """``text`` without URL credentials, query strings, fragments and ``key=secret`` values.

    Exceptions of HTTP clients put the request URL in their message, and an exchange's signed
    request carries the API key and signature in its query string.
    """
    text = _URL.sub(_scrub_url, text)
    text = _RELATIVE_QUERY.sub("", text)
    text = _SECRET_VALUE.sub(r"\1\2***", text)
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 3] + "..."
    return text


def _describe(exc: BaseException) -> str:
    message = _scrub_message(str(exc).strip())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# -- the registered checks ------------------------------------------------------------------


class _Check:
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


_lock = threading.Lock()
_checks: dict[str, _Check] = {}


def _positive(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _validate(name: object, check: object, **numbers: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"health.register(): the name must be a non-empty string, not {name!r}")
    where = f"health check {name!r}"
    if not callable(check):
        raise ConfigError(f"{where}: check={check!r} is not callable")
    try:
        inspect.signature(check).bind()
    except TypeError:
        raise ConfigError(f"{where}: check={check!r} must be callable without arguments") from None
    except ValueError:  # no signature to look at (some builtins): call it and see
        pass
    for argument in ("interval", "timeout", "cooldown"):
        value = numbers[argument]
        if not _positive(value):
            raise ConfigError(f"{where}: {argument}={value!r} must be a positive number of seconds")
    threshold = numbers["failure_threshold"]
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise ConfigError(f"{where}: failure_threshold={threshold!r} must be an integer >= 1")


def register(
    name: str,
    check: Check,
    *,
    interval: float = 30.0,
    timeout: float = 5.0,
    failure_threshold: int = 3,
    cooldown: float = 60.0,
    critical: bool = True,
) -> None:
    """Run ``check`` every ``interval`` seconds, in the background, starting now.

    ``check`` is a function or an ``async`` function taking no arguments. It passes when it
    returns anything but ``False`` and raises nothing within ``timeout`` seconds. After
    ``failure_threshold`` failures in a row its circuit breaker opens: the check is not run
    for ``cooldown`` seconds, then one trial run decides. A failing ``critical`` check makes
    ``status()`` unhealthy (HTTP 503); a failing non-critical one only degraded. Registering a
    name again replaces that check.

    Raises:
        ConfigError: an argument is invalid (nothing is registered).
    """
    _validate(
        name,
        check,
        interval=interval,
        timeout=timeout,
        cooldown=cooldown,
        failure_threshold=failure_threshold,
    )
    entry = _Check(
        name,
        check,
        interval=interval,
        timeout=timeout,
        threshold=failure_threshold,
        cooldown=cooldown,
        critical=bool(critical),
    )
    with _lock:
        _checks[name] = entry
        runner = _ensure_runner()
    if runner is not None:
        runner.wake()


def unregister(name: str) -> bool:
    """Stop running the check ``name``; False when there was none of that name."""
    with _lock:
        found = _checks.pop(name, None) is not None
        runner = _runner
    if found and runner is not None:
        runner.wake()
    return found


def clear() -> None:
    """Unregister every check (the background thread ends once runs in flight are done)."""
    with _lock:
        _checks.clear()
        runner = _runner
    if runner is not None:
        runner.wake()


def reset(name: str) -> None:
    """Close the check's circuit breaker by hand: failures back to 0, and run it soon.

    Raises:
        ConfigError: no check of that name is registered.
    """
    with _lock:
        c = _checks.get(name)
        if c is None:
            raise ConfigError(f"health.reset(): no health check named {name!r}")
        was_open = c.breaker != "closed"
        c.breaker = "closed"
        c.failures = 0
        c.due = time.monotonic()
        runner = _ensure_runner()
    if was_open:
        logger.info("tradetel: circuit breaker of health check %r reset by hand", name)
    if runner is not None:
        runner.wake()


def run_now(name: str | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Run the check ``name`` (or every check) now, wait for the results; ``status()``.

    A check whose breaker is open and still cooling down is not run; one already running is
    waited for, not started twice. Waits at most ``timeout`` seconds (default: the longest
    timeout of the checks, plus a second); checks still running then finish in the
    background. It blocks: from async code, call it in a thread (``asyncio.to_thread``).

    Raises:
        ConfigError: no check of that name is registered, or ``timeout`` is invalid.
    """
    if timeout is not None and not (_positive(timeout) or timeout == 0):
        raise ConfigError(f"health.run_now(): timeout={timeout!r} must be a number of seconds")
    with _lock:
        if name is not None and name not in _checks:
            raise ConfigError(f"health.run_now(): no health check named {name!r}")
        selected = [c for n, c in _checks.items() if name is None or n == name]
        runner = _ensure_runner() if selected else None
        if runner is not None:
            runner.requests += 1
    if runner is None:
        return status()
    wait = timeout if timeout is not None else max(c.timeout for c in selected) + 1.0
    coro = runner.run_selected(selected)
    try:
        if threading.current_thread() is runner.thread:  # a check calling run_now()
            raise RuntimeError("run_now() from inside a health check")
        done = asyncio.run_coroutine_threadsafe(coro, runner.loop)
    except RuntimeError:  # the loop has closed, or it would wait for itself
        coro.close()
        with _lock:
            runner.requests -= 1
        return status()
    with contextlib.suppress(concurrent.futures.TimeoutError):  # still running: say so
        done.result(wait)
    return status()


def status() -> dict[str, Any]:
    """What a health endpoint serves: a JSON-serialisable summary of every check.

    ``{"status": "healthy" | "degraded" | "unhealthy", "http_status": 200 | 503,
    "checks": {name: {"healthy", "pending", "breaker", "consecutive_failures", "last_run",
    "last_duration", "last_error", "critical"}}}``. It reads the last results and runs
    nothing. A check that has not finished its first run is pending and counts as healthy.
    """
    now = time.monotonic()
    with _lock:
        checks = {name: _checks[name].view(now) for name in sorted(_checks)}
        if checks:
            _ensure_runner()
    failing = [c for c in checks.values() if not c["healthy"]]
    if any(c["critical"] for c in failing):
        overall = "unhealthy"
    else:
        overall = "degraded" if failing else "healthy"
    return {
        "status": overall,
        "http_status": 503 if overall == "unhealthy" else 200,
        "checks": checks,
    }


def _observe(now_ns: int) -> list[Metric]:
    """The metric source: ``trading.health.status`` per check that has a result."""
    with _lock:
        points = [
            ({semconv.HEALTH_CHECK: c.name}, 1 if c.healthy else 0)
            for c in _checks.values()
            if c.healthy is not None
        ]
        if _checks:
            _ensure_runner()
    metric = gauge_metric(
        semconv.HEALTH_STATUS,
        "1",
        "Result of each health check's last run: 1 healthy, 0 failing.",
        points,
        now_ns,
    )
    return [metric] if metric is not None else []


add_source(_observe)


# -- recording a result ---------------------------------------------------------------------


def _record(
    c: _Check,
    error: str | None,
    wall: float,
    started: float,
    end: float,
    duration: float | None = None,
) -> None:
    """Apply one run's outcome (``error`` None: it passed) to ``c``'s state and breaker."""
    if duration is None:
        duration = max(0.0, end - started)
    with _lock:
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
        current = _checks.get(c.name) is c
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
        global _runner
        try:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._schedule())
        except Exception as exc:
            report_internal_error("health checks", exc)
        finally:
            with _lock:
                if _runner is self:
                    _runner = None
            self.pool.close()
            self.loop.close()

    async def _schedule(self) -> None:
        global _runner
        self._wake_event = wake = asyncio.Event()
        while True:
            wake.clear()
            with _lock:
                checks = list(_checks.values())
                if not checks and not self.tasks and not self.requests:
                    if _runner is self:
                        _runner = None
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

    def _start_due(self, checks: list[_Check]) -> float | None:
        """Start the runs that are due; seconds until the next one (None: nothing waits)."""
        now = time.monotonic()
        soonest: float | None = None
        for c in checks:
            if c.task is not None:
                continue
            with _lock:
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

    async def _run(self, c: _Check) -> None:
        wall, started = time.time(), time.monotonic()
        try:
            error = await self._outcome(c, started)
            _record(c, error, wall, started, time.monotonic())
        finally:
            c.task = None
            self._set_wake()

    async def _outcome(self, c: _Check, started: float) -> str | None:
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
            return _describe(exc)
        if waiting.result() is False:
            return "the check returned False"
        return None

    async def run_selected(self, checks: list[_Check]) -> None:
        """``run_now()``: make ``checks`` due (unless cooling down) and wait for their runs."""
        try:
            now = time.monotonic()
            with _lock:
                for c in checks:
                    if c.task is None and c.breaker_now(now) != "open":
                        c.due = now
            self._start_due(checks)
            running = [c.task for c in checks if c.task is not None]
            if running:
                await asyncio.wait(running)
        finally:
            with _lock:
                self.requests -= 1
            self._set_wake()


async def _within(future: asyncio.Future[Any], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``future``, without cancelling it; is it done?"""
    if not future.done():
        await asyncio.wait([future], timeout=max(0.0, timeout))
    return future.done()


_runner: _Runner | None = None
#: Runners inherited from a parent process: kept so that their loop and tasks are never
#: garbage-collected (which would warn about an unclosed loop and pending tasks).
_inherited: list[_Runner] = []


def _ensure_runner() -> _Runner | None:
    """This process's runner, started if needed (call with ``_lock`` held)."""
    global _runner
    runner = _runner
    if runner is not None and runner.pid == os.getpid() and runner.thread.is_alive():
        return runner
    if runner is not None and runner.pid != os.getpid():
        _inherited.append(runner)
    _runner = None
    try:
        _runner = _Runner()
    except Exception as exc:  # no threads at interpreter shutdown, no file descriptors left
        if not isinstance(exc, RuntimeError):
            report_internal_error("health checks", exc)
    return _runner


def _after_fork_in_child() -> None:
    """The runner's threads do not exist in a forked child: forget them (start nothing)."""
    global _lock, _runner
    _lock = threading.Lock()  # a thread of the parent may have held it
    if _runner is not None:
        _inherited.append(_runner)
        _runner = None
    for c in _checks.values():
        c.task = None
        c.stuck = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -- event-loop lag -------------------------------------------------------------------------

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
    if not _positive(interval):
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
