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
import threading
import time
from typing import TYPE_CHECKING, Any

from . import _health_runner, _scrub, semconv
from ._errors import ConfigError
from ._health_runner import RegisteredCheck
from ._internal import positive_number
from ._loop_lag import LoopMonitor, monitor_event_loop
from ._metrics import add_source, gauge_metric

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
MAX_WORKERS = _health_runner.MAX_WORKERS
#: Longest ``last_error`` kept, in characters.
MAX_ERROR_CHARS = _scrub.MAX_ERROR_CHARS

Check = _health_runner.Check

# The checks' state, its lock and the runner are in _health_runner; the lock and the runner
# are looked up there at each use (_health_runner.lock), as a forked child replaces them.


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
        if not positive_number(value):
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
    entry = RegisteredCheck(
        name,
        check,
        interval=interval,
        timeout=timeout,
        threshold=failure_threshold,
        cooldown=cooldown,
        critical=bool(critical),
    )
    with _health_runner.lock:
        _health_runner.registered[name] = entry
        runner = _health_runner.ensure_runner()
    if runner is not None:
        runner.wake()


def unregister(name: str) -> bool:
    """Stop running the check ``name``; False when there was none of that name."""
    with _health_runner.lock:
        found = _health_runner.registered.pop(name, None) is not None
        runner = _health_runner.runner
    if found and runner is not None:
        runner.wake()
    return found


def clear() -> None:
    """Unregister every check (the background thread ends once runs in flight are done)."""
    with _health_runner.lock:
        _health_runner.registered.clear()
        runner = _health_runner.runner
    if runner is not None:
        runner.wake()


def reset(name: str) -> None:
    """Close the check's circuit breaker by hand: failures back to 0, and run it soon.

    Raises:
        ConfigError: no check of that name is registered.
    """
    with _health_runner.lock:
        c = _health_runner.registered.get(name)
        if c is None:
            raise ConfigError(f"health.reset(): no health check named {name!r}")
        was_open = c.breaker != "closed"
        c.breaker = "closed"
        c.failures = 0
        c.due = time.monotonic()
        runner = _health_runner.ensure_runner()
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
    if timeout is not None and not (positive_number(timeout) or timeout == 0):
        raise ConfigError(f"health.run_now(): timeout={timeout!r} must be a number of seconds")
    with _health_runner.lock:
        if name is not None and name not in _health_runner.registered:
            raise ConfigError(f"health.run_now(): no health check named {name!r}")
        selected = [c for n, c in _health_runner.registered.items() if name is None or n == name]
        runner = _health_runner.ensure_runner() if selected else None
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
        with _health_runner.lock:
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
    with _health_runner.lock:
        checks = {
            name: _health_runner.registered[name].view(now)
            for name in sorted(_health_runner.registered)
        }
        if checks:
            _health_runner.ensure_runner()
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
    with _health_runner.lock:
        points = [
            ({semconv.HEALTH_CHECK: c.name}, 1 if c.healthy else 0)
            for c in _health_runner.registered.values()
            if c.healthy is not None
        ]
        if _health_runner.registered:
            _health_runner.ensure_runner()
    metric = gauge_metric(
        semconv.HEALTH_STATUS,
        "1",
        "Result of each health check's last run: 1 healthy, 0 failing.",
        points,
        now_ns,
    )
    return [metric] if metric is not None else []


add_source(_observe)
