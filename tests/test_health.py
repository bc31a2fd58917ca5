"""tradetel.health: checks run in the background, circuit breakers, status(), event-loop lag."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tradetel import ConfigError, health, semconv
from tradetel.testing import Capture, capture

# Python 3.12+ warns about forking a process that has threads; that risk is what is tested.
FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"


@pytest.fixture(autouse=True)
def _no_checks() -> Iterator[None]:
    health.clear()
    yield
    health.clear()


def eventually(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(0.005)


def check_status(name: str) -> dict[str, Any]:
    result: dict[str, Any] = health.status()["checks"][name]
    return result


def first_result(name: str) -> dict[str, Any]:
    """The check's status once its first run (started by register()) has ended."""
    eventually(lambda: not check_status(name)["pending"])
    return check_status(name)


def failing() -> bool:
    return False


def passing() -> bool:
    return True


# -- running checks ----------------------------------------------------------------------------


def test_a_passing_check_is_healthy_and_its_run_is_described() -> None:
    before = datetime.now(timezone.utc)
    health.register("exchange", passing)
    summary = health.run_now()
    assert summary["status"] == "healthy"
    assert summary["http_status"] == 200
    check = summary["checks"]["exchange"]
    assert check["healthy"] is True
    assert check["pending"] is False
    assert check["breaker"] == "closed"
    assert check["consecutive_failures"] == 0
    assert check["last_error"] is None
    assert check["critical"] is True
    assert check["last_duration"] >= 0
    assert check["last_run"].endswith("Z")
    last_run = datetime.fromisoformat(check["last_run"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= last_run <= datetime.now(timezone.utc)
    assert json.loads(json.dumps(summary)) == summary  # what a web handler can serve


@pytest.mark.parametrize("result", [None, 0, "", [], "ok"])
def test_a_check_passes_with_anything_but_false(result: object) -> None:
    health.register("exchange", lambda: result)
    assert health.run_now()["checks"]["exchange"]["healthy"] is True


def test_checks_run_on_tradetel_threads_never_on_the_callers() -> None:
    threads: dict[str, str] = {}

    def sync_check() -> None:
        threads["sync"] = threading.current_thread().name

    async def async_check() -> None:
        await asyncio.sleep(0)
        threads["async"] = threading.current_thread().name

    health.register("sync", sync_check)
    health.register("async", async_check)
    summary = health.run_now()
    assert summary["status"] == "healthy"
    assert threads == {"sync": "tradetel-health-worker", "async": "tradetel-health"}


def test_an_async_check_runs_on_a_private_loop_not_the_callers() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def check() -> bool:
        loops.append(asyncio.get_running_loop())
        return True

    async def main() -> dict[str, Any]:
        health.register("feed", check)
        return await asyncio.to_thread(health.run_now)

    summary = asyncio.run(main())
    assert summary["checks"]["feed"]["healthy"] is True
    assert loops
    assert all(loop.is_running() for loop in loops)  # not the closed loop of asyncio.run()


async def async_false() -> bool:
    return False


@pytest.mark.parametrize("check", [failing, async_false], ids=["sync", "async"])
def test_a_check_that_returns_false_fails(check: Callable[[], Any]) -> None:
    health.register("exchange", check)
    result = first_result("exchange")
    summary = health.status()
    assert summary["status"] == "unhealthy"
    assert summary["http_status"] == 503
    assert result["healthy"] is False
    assert result["consecutive_failures"] == 1
    assert result["last_error"] == "the check returned False"


def raising() -> None:
    raise ConnectionError("exchange unreachable")


async def async_raising() -> None:
    await asyncio.sleep(0)
    raise ConnectionError("exchange unreachable")


@pytest.mark.parametrize("check", [raising, async_raising], ids=["sync", "async"])
def test_a_check_that_raises_fails_with_the_exception_named(check: Callable[[], Any]) -> None:
    # Under the test suite tradetel re-raises its internal errors: a check's exception is
    # the check failing, not an internal error.
    health.register("exchange", check)
    result = health.run_now()["checks"]["exchange"]
    assert result["healthy"] is False
    assert result["last_error"] == "ConnectionError: exchange unreachable"


def test_a_plain_function_returning_a_coroutine_is_awaited() -> None:
    def check() -> Coroutine[Any, Any, bool]:
        return async_false()

    health.register("exchange", check)
    assert health.run_now()["checks"]["exchange"]["last_error"] == "the check returned False"


def test_an_async_check_that_hangs_times_out_and_runs_again_next_time() -> None:
    calls: list[int] = []

    async def hangs() -> None:
        calls.append(1)
        await asyncio.sleep(30)

    health.register("exchange", hangs, timeout=0.05, failure_threshold=10)
    result = health.run_now()["checks"]["exchange"]
    assert result["healthy"] is False
    assert result["last_error"] == "TimeoutError: no result within 0.05 s"
    # cancelled at its timeout, so it can start again
    eventually(lambda: health.run_now("exchange") and len(calls) >= 2)
    assert check_status("exchange")["consecutive_failures"] >= 2


def test_a_hanging_sync_check_times_out_without_holding_up_status_or_other_checks() -> None:
    gate = threading.Event()
    calls: list[int] = []

    def hangs() -> None:
        calls.append(1)
        gate.wait(10)

    try:
        health.register("exchange", hangs, timeout=0.05, failure_threshold=10)
        health.register("database", passing)
        summary = health.run_now()
        assert summary["checks"]["database"]["healthy"] is True
        assert summary["checks"]["database"]["pending"] is False
        hung = summary["checks"]["exchange"]
        assert hung["healthy"] is False
        assert hung["last_error"] == "TimeoutError: no result within 0.05 s"

        # Still stuck: not started a second time, and counted as failing again.
        hung = health.run_now("exchange")["checks"]["exchange"]
        assert len(calls) == 1
        assert hung["consecutive_failures"] == 2
        assert hung["last_error"].startswith("TimeoutError: the previous run is still running")
        assert health.run_now("database")["checks"]["database"]["healthy"] is True
    finally:
        gate.set()
    # Once the stuck run has returned, the check runs again.
    eventually(lambda: health.run_now("exchange")["checks"]["exchange"]["healthy"])
    assert len(calls) >= 2


def test_a_check_is_pending_until_its_first_run_ends_and_publishes_no_point_meanwhile() -> None:
    gate = threading.Event()
    started = threading.Event()

    def slow() -> None:
        started.set()
        gate.wait(10)

    with capture() as cap:
        try:
            health.register("warehouse", slow, timeout=10)
            assert started.wait(5)
            summary = health.status()
            assert summary["status"] == "healthy"  # pending is not failing
            assert summary["checks"]["warehouse"] == {
                "healthy": True,
                "pending": True,
                "breaker": "closed",
                "consecutive_failures": 0,
                "last_run": None,
                "last_duration": None,
                "last_error": None,
                "critical": True,
            }
            assert cap.points(semconv.HEALTH_STATUS) == []
        finally:
            gate.set()
        eventually(lambda: not check_status("warehouse")["pending"])
        assert [p.value for p in cap.points(semconv.HEALTH_STATUS)] == [1]


def test_checks_run_again_every_interval() -> None:
    calls: list[float] = []
    health.register("feed", lambda: calls.append(time.monotonic()), interval=0.02)
    eventually(lambda: len(calls) >= 3)


# -- circuit breaker -----------------------------------------------------------------------


def test_the_breaker_opens_after_the_threshold_and_stops_running_the_check_until_reset() -> None:
    calls: list[int] = []

    def check() -> bool:
        calls.append(1)
        return False

    health.register("feed", check, failure_threshold=2, cooldown=60, interval=60)
    eventually(lambda: health.run_now("feed")["checks"]["feed"]["breaker"] == "open")
    result = check_status("feed")
    assert result["healthy"] is False
    assert result["consecutive_failures"] == 2
    assert len(calls) == 2

    # While open the check is not run, even when asked to, and it reports failing.
    summary = health.run_now("feed")
    assert len(calls) == 2
    assert summary["status"] == "unhealthy"
    assert summary["checks"]["feed"]["breaker"] == "open"

    # A manual reset closes the breaker and runs the check again soon, from zero failures.
    health.reset("feed")
    eventually(lambda: len(calls) == 3 and check_status("feed")["consecutive_failures"] == 1)
    assert check_status("feed")["breaker"] == "closed"


def test_after_the_cooldown_one_trial_run_decides_whether_the_breaker_closes() -> None:
    calls: list[int] = []
    trials = [threading.Event(), threading.Event()]
    outcome = [False]

    def check() -> bool:
        calls.append(1)
        trial = len(calls) - 3
        if trial >= 0:
            trials[trial].wait(10)  # each trial run waits until the test lets it finish
        return outcome[0]

    try:
        health.register("feed", check, failure_threshold=2, cooldown=0.05, interval=60, timeout=10)
        eventually(
            lambda: (
                health.run_now("feed", timeout=0.5)["checks"]["feed"]["consecutive_failures"] >= 2
            )
        )
        # The cool-down ends by itself: the breaker is half-open while its one trial runs.
        eventually(lambda: len(calls) == 3 and check_status("feed")["breaker"] == "half_open")
        result = check_status("feed")
        assert result["healthy"] is False
        assert result["consecutive_failures"] == 2

        # The trial fails: open again, and after another cool-down, one more trial.
        trials[0].set()
        eventually(lambda: len(calls) == 4 and check_status("feed")["breaker"] == "half_open")
        assert check_status("feed")["consecutive_failures"] == 3

        # The trial passes: closed, healthy, failures back to 0.
        outcome[0] = True
        trials[1].set()
        eventually(lambda: check_status("feed")["breaker"] == "closed")
        result = check_status("feed")
        assert result["healthy"] is True
        assert result["consecutive_failures"] == 0
        assert len(calls) == 4
    finally:
        for trial in trials:
            trial.set()


def test_state_changes_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    outcome = [False]
    health.register("feed", lambda: outcome[0], failure_threshold=3, cooldown=60, interval=60)
    with caplog.at_level(logging.INFO, logger="tradetel"):
        for _ in range(3):
            health.run_now("feed")
        outcome[0] = True
        health.reset("feed")
        eventually(lambda: check_status("feed")["healthy"])
    messages = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "tradetel"]
    assert messages == [
        ("WARNING", "tradetel: health check 'feed' is failing: the check returned False"),
        (
            "WARNING",
            "tradetel: health check 'feed' failed 3 times in a row; its circuit breaker is "
            "open, next trial in 60 s",
        ),
        ("INFO", "tradetel: circuit breaker of health check 'feed' reset by hand"),
        ("INFO", "tradetel: health check 'feed' is healthy again"),
    ]


# -- summary ---------------------------------------------------------------------------------


def test_no_checks_is_healthy() -> None:
    assert health.status() == {"status": "healthy", "http_status": 200, "checks": {}}
    assert health.run_now() == health.status()


def test_a_failing_non_critical_check_degrades_and_a_critical_one_makes_unhealthy() -> None:
    health.register("exchange", passing)
    health.register("analytics", failing, critical=False)
    summary = health.run_now()
    assert (summary["status"], summary["http_status"]) == ("degraded", 200)
    assert summary["checks"]["analytics"]["critical"] is False

    health.register("database", failing)
    summary = health.run_now()
    assert (summary["status"], summary["http_status"]) == ("unhealthy", 503)
    assert list(summary["checks"]) == ["analytics", "database", "exchange"]


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            "GET https://api.x.com/v3/order?signature=abc&apiKey=k failed",
            "GET https://api.x.com/v3/order failed",
        ),
        ("proxy https://user:pass@host/ refused", "proxy https://host/ refused"),
        (
            "no route to postgresql://bot:pass@db:5432/trades",
            "no route to postgresql://db:5432/trades",
        ),
        (
            "HTTPSConnectionPool(host='api.x.com', port=443): Max retries exceeded with url: "
            "/v3/order?signature=abc&apiKey=k (Caused by timeout)",
            "HTTPSConnectionPool(host='api.x.com', port=443): Max retries exceeded with url: "
            "/v3/order (Caused by timeout)",
        ),
        ('rejected {"apiKey": "abc", "pass": 1}', 'rejected {"apiKey": "***", "pass": 1}'),
        ("login failed: password=abc", "login failed: password=***"),
    ],
)
def test_errors_are_shown_without_secrets(
    message: str, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    def check() -> None:
        raise ConnectionError(message)

    with caplog.at_level(logging.WARNING, logger="tradetel"):
        health.register("exchange", check)
        result = health.run_now()["checks"]["exchange"]
    assert result["last_error"] == f"ConnectionError: {shown}"
    assert caplog.records
    for text in (json.dumps(health.status()), caplog.text):
        assert "abc" not in text
        assert "user:pass" not in text
        assert "bot:pass" not in text


def test_a_long_error_is_cut_short() -> None:
    def check() -> None:
        raise RuntimeError("x" * 10_000)

    health.register("exchange", check)
    error = health.run_now()["checks"]["exchange"]["last_error"]
    assert error.startswith("RuntimeError: xxx")
    assert len(error) < 600


# -- metrics ---------------------------------------------------------------------------------


def health_points(cap: Capture) -> dict[str, float]:
    return {p.attributes[semconv.HEALTH_CHECK]: p.value for p in cap.points(semconv.HEALTH_STATUS)}


def test_each_check_is_a_point_of_the_health_gauge() -> None:
    outcome = [False]
    health.register("exchange", passing)  # registered before tradetel is configured
    with capture() as cap:
        health.register("database", lambda: outcome[0], failure_threshold=1, cooldown=60)
        health.run_now()
        assert health_points(cap) == {"exchange": 1, "database": 0}
        metric = metric_named(cap, semconv.HEALTH_STATUS)
        assert metric.unit == "1"
        assert type(metric.data).__name__ == "Gauge"

        # the breaker is open: still 0; reset and recovered: 1
        assert check_status("database")["breaker"] == "open"
        assert health_points(cap)["database"] == 0
        outcome[0] = True
        health.reset("database")
        health.run_now("database")
        assert health_points(cap) == {"exchange": 1, "database": 1}

        health.unregister("database")
        assert health_points(cap) == {"exchange": 1}


def metric_named(cap: Capture, name: str) -> Any:
    data = cap.reader.get_metrics_data()
    assert data is not None
    found = [
        m
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
    ]
    assert len(found) == 1
    return found[0]


# -- registering -----------------------------------------------------------------------------


def test_registering_a_name_again_replaces_the_check() -> None:
    health.register("exchange", failing)
    assert health.run_now()["checks"]["exchange"]["healthy"] is False
    health.register("exchange", passing, critical=False)
    summary = health.run_now()
    assert list(summary["checks"]) == ["exchange"]
    assert summary["checks"]["exchange"]["healthy"] is True
    assert summary["checks"]["exchange"]["critical"] is False


def test_unregister_and_clear_remove_checks() -> None:
    health.register("exchange", passing)
    health.register("database", passing)
    assert health.unregister("exchange") is True
    assert health.unregister("exchange") is False
    assert list(health.status()["checks"]) == ["database"]
    health.clear()
    assert health.status()["checks"] == {}


def takes_an_argument(venue: str) -> bool:
    return bool(venue)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"check": 42}, "check"),
        ({"check": takes_an_argument}, "check"),
        ({"interval": 0}, "interval"),
        ({"interval": -1.0}, "interval"),
        ({"interval": "30"}, "interval"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"cooldown": 0}, "cooldown"),
        ({"cooldown": float("inf")}, "cooldown"),
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"failure_threshold": 2.5}, "failure_threshold"),
        ({"failure_threshold": True}, "failure_threshold"),
    ],
)
def test_bad_arguments_raise_config_error_naming_check_and_argument(
    kwargs: dict[str, Any], argument: str
) -> None:
    arguments: dict[str, Any] = {"check": passing, **kwargs}
    check = arguments.pop("check")
    with pytest.raises(ConfigError, match=f"'exchange'.*{argument}="):
        health.register("exchange", check, **arguments)
    assert health.status()["checks"] == {}


@pytest.mark.parametrize("name", ["", "  ", None, 7])
def test_a_check_needs_a_name(name: Any) -> None:
    with pytest.raises(ConfigError, match="name"):
        health.register(name, passing)


def test_reset_and_run_now_of_an_unknown_check_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="'nope'"):
        health.reset("nope")
    with pytest.raises(ConfigError, match="'nope'"):
        health.run_now("nope")
    with pytest.raises(ConfigError, match="timeout"):
        health.run_now(timeout=-1)


# -- fork ------------------------------------------------------------------------------------


def _use_checks_in_child(conn: Any, calls: list[int]) -> None:
    try:
        health.register("child", passing)
        summary = health.run_now(timeout=5)
        threads = {t.name for t in threading.enumerate()}
        conn.send((summary, calls, "tradetel-health" in threads))
    except BaseException as exc:
        conn.send(repr(exc))
        raise


@pytest.mark.filterwarnings(FORK_WARNING)
def test_a_forked_child_runs_the_checks_it_inherited_and_its_own() -> None:
    parent = os.getpid()
    calls: list[int] = []
    in_flight = threading.Event()
    gate = threading.Event()

    def inherited() -> bool:
        calls.append(os.getpid())
        if os.getpid() == parent:  # in the parent, a run is in flight when the fork happens
            in_flight.set()
            gate.wait(10)
        return True

    try:
        health.register("inherited", inherited, timeout=10)
        assert in_flight.wait(5)
        context = multiprocessing.get_context("fork")
        parent_end, child_end = context.Pipe()
        child = context.Process(target=_use_checks_in_child, args=(child_end, calls))
        child.start()
        assert parent_end.poll(20), "the child did not answer"
        answer = parent_end.recv()
        child.join(10)
    finally:
        gate.set()
    assert not isinstance(answer, str), answer
    summary, child_calls, runner_thread = answer
    assert child.exitcode == 0
    assert summary["status"] == "healthy"
    assert summary["checks"]["child"]["healthy"] is True
    assert summary["checks"]["inherited"]["pending"] is False
    assert child.pid in child_calls  # the child's own thread ran the inherited check
    assert runner_thread
    # the parent goes on as before
    eventually(lambda: not check_status("inherited")["pending"])
    assert health.run_now()["checks"]["inherited"]["healthy"] is True


# -- event-loop lag --------------------------------------------------------------------------


def test_event_loop_lag_records_how_long_the_loop_was_blocked() -> None:
    async def main() -> None:
        monitor = health.monitor_event_loop(interval=0.01)
        await asyncio.sleep(0.05)
        time.sleep(0.2)  # a blocking call inside a coroutine
        await asyncio.sleep(0.05)
        monitor.stop()

    with capture() as cap:
        asyncio.run(main())
        (point,) = cap.points(semconv.EVENT_LOOP_LAG)
        metric = metric_named(cap, semconv.EVENT_LOOP_LAG)
    assert point.max >= 0.15
    assert point.min >= 0
    assert point.count >= 5
    assert dict(point.attributes) == {}
    assert list(point.explicit_bounds) == list(semconv.LATENCY_BUCKETS)
    assert metric.unit == "s"


def test_nothing_is_recorded_after_stop() -> None:
    async def main(cap: Capture) -> tuple[int, int]:
        async with health.monitor_event_loop(interval=0.01) as monitor:
            await asyncio.sleep(0.05)
        assert not monitor.running
        (point,) = cap.points(semconv.EVENT_LOOP_LAG)
        await asyncio.sleep(0.1)
        (later,) = cap.points(semconv.EVENT_LOOP_LAG)
        return point.count, later.count

    with capture() as cap:
        counted, later = asyncio.run(main(cap))
    assert counted > 0
    assert later == counted


def test_monitoring_a_loop_of_another_thread() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        with capture() as cap, health.monitor_event_loop(loop, interval=0.01) as monitor:
            loop.call_soon_threadsafe(time.sleep, 0.2)
            eventually(lambda: any(p.max >= 0.15 for p in cap.points(semconv.EVENT_LOOP_LAG)))
        assert not monitor.running
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_a_monitor_without_configuration_records_nothing_and_breaks_nothing() -> None:
    async def main() -> None:
        with health.monitor_event_loop(interval=0.005):
            await asyncio.sleep(0.03)

    asyncio.run(main())
    with capture() as cap:
        assert cap.points(semconv.EVENT_LOOP_LAG) == []


def test_monitor_event_loop_needs_a_loop_and_a_positive_interval() -> None:
    with pytest.raises(ConfigError, match="no event loop is running"):
        health.monitor_event_loop()
    loop = asyncio.new_event_loop()
    loop.close()
    with pytest.raises(ConfigError, match="closed"):
        health.monitor_event_loop(loop)
    with pytest.raises(ConfigError, match="interval=0"):
        health.monitor_event_loop(interval=0)
