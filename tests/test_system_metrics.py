"""Process and system gauges from psutil: read when a reader collects, never on the hot path."""

from __future__ import annotations

import collections
import functools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

import tradetel
from tradetel import ConfigError, _system, semconv
from tradetel.testing import Capture, capture

UNITS = {
    semconv.PROCESS_CPU_UTILIZATION: "1",
    semconv.PROCESS_MEMORY_USAGE: "By",
    semconv.PROCESS_THREAD_COUNT: "{thread}",
    semconv.PROCESS_OPEN_FDS: "{file_descriptor}",
    semconv.SYSTEM_CPU_UTILIZATION: "1",
    semconv.SYSTEM_MEMORY_UTILIZATION: "1",
    semconv.SYSTEM_FILESYSTEM_UTILIZATION: "1",
}
if not hasattr(psutil.Process, "num_fds") and not hasattr(psutil.Process, "num_handles"):
    del UNITS[semconv.PROCESS_OPEN_FDS]


@pytest.fixture(autouse=True)
def _no_system_metrics_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRADETEL_SYSTEM_METRICS", raising=False)


def metrics(cap: Capture) -> dict[str, Any]:
    """Every metric collected now, by name (the OTel Metric, with its unit and data)."""
    data = cap.reader.get_metrics_data()
    assert data is not None
    return {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }


def system_names(cap: Capture) -> set[str]:
    return set(metrics(cap)) & set(UNITS)


@pytest.fixture
def psutil_calls(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Counts the calls of every psutil function that the system metrics read."""
    calls: collections.Counter[str] = collections.Counter()

    def counting(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)  # keeps psutil's cache switches of Process.cpu_times and others
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    for name in ("cpu_times", "memory_info", "num_threads", "num_fds", "oneshot"):
        if hasattr(psutil.Process, name):
            method = getattr(psutil.Process, name)
            monkeypatch.setattr(psutil.Process, name, counting(f"Process.{name}", method))
    for name in ("cpu_times", "virtual_memory", "disk_partitions", "disk_usage"):
        monkeypatch.setattr(psutil, name, counting(name, getattr(psutil, name)))
    return calls


def test_system_metrics_are_on_by_default_with_the_semconv_names_and_units() -> None:
    with capture() as cap:
        time.sleep(0.05)  # CPU utilisation needs CPU time to pass between two readings
        found = metrics(cap)
    for name, unit in UNITS.items():
        assert name in found, name
        assert found[name].unit == unit, name
        assert type(found[name].data).__name__ == "Gauge", name


def test_the_values_are_sane() -> None:
    with capture() as cap:
        time.sleep(0.05)
        found = metrics(cap)
    value = {name: m.data.data_points[0].value for name, m in found.items() if name in UNITS}
    assert 0 <= value[semconv.PROCESS_CPU_UTILIZATION] <= 1
    assert 0 <= value[semconv.SYSTEM_CPU_UTILIZATION] <= 1
    assert 0 < value[semconv.SYSTEM_MEMORY_UTILIZATION] <= 1
    assert value[semconv.PROCESS_MEMORY_USAGE] == pytest.approx(
        psutil.Process().memory_info().rss, rel=0.5
    )
    assert value[semconv.PROCESS_THREAD_COUNT] >= 1
    if semconv.PROCESS_OPEN_FDS in UNITS:
        assert value[semconv.PROCESS_OPEN_FDS] >= 3  # at least stdin, stdout, stderr
    (memory,) = found[semconv.SYSTEM_MEMORY_UTILIZATION].data.data_points
    assert dict(memory.attributes) == {"system.memory.state": "used"}


def test_the_thread_count_follows_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_system, "MIN_INTERVAL", 0.0)
    release = threading.Event()
    threads = [threading.Thread(target=release.wait, args=(10,)) for _ in range(3)]
    with capture() as cap:
        (before,) = cap.points(semconv.PROCESS_THREAD_COUNT)
        for thread in threads:
            thread.start()
        try:
            (during,) = cap.points(semconv.PROCESS_THREAD_COUNT)
        finally:
            release.set()
            for thread in threads:
                thread.join()
    assert during.value >= before.value + 3 - 1  # another thread may have ended meanwhile


def test_configure_system_metrics_false_turns_them_off(
    psutil_calls: collections.Counter[str],
) -> None:
    with capture(system_metrics=False) as cap:
        assert system_names(cap) == set()
    assert sum(psutil_calls.values()) == 0


@pytest.mark.parametrize(
    ("value", "on"),
    [
        ("0", False),
        ("false", False),
        (" Off ", False),
        ("no", False),
        ("1", True),
        ("TRUE", True),
        ("on", True),
        ("yes", True),
        ("", True),  # empty is unset: the default
    ],
)
def test_tradetel_system_metrics_variable(
    value: str, on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADETEL_SYSTEM_METRICS", value)
    with capture() as cap:
        time.sleep(0.02)
        assert bool(system_names(cap)) is on


@pytest.mark.parametrize(("value", "argument"), [("0", True), ("1", False)])
def test_the_argument_wins_over_the_variable(
    value: str, argument: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADETEL_SYSTEM_METRICS", value)
    with capture(system_metrics=argument) as cap:
        assert bool(system_names(cap)) is argument


def test_a_bad_variable_value_is_a_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADETEL_SYSTEM_METRICS", "maybe")
    with pytest.raises(ConfigError, match="TRADETEL_SYSTEM_METRICS='maybe'"), capture():
        pass


def burn_cpu(seconds: float) -> None:
    """Keep one thread busy for ``seconds`` of its own CPU time (at most 5 s of wall time)."""
    end, give_up = time.thread_time() + seconds, time.monotonic() + 5.0
    while time.thread_time() < end and time.monotonic() < give_up:
        pass


def test_process_cpu_utilisation_shows_a_thread_burning_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_system, "MIN_INTERVAL", 0.01)
    with capture() as cap:
        (first,) = cap.points(semconv.PROCESS_CPU_UTILIZATION)
        burner = threading.Thread(target=burn_cpu, args=(0.3,))
        burner.start()
        burner.join()
        time.sleep(0.02)  # past MIN_INTERVAL: a new reading, not the cached one
        (second,) = cap.points(semconv.PROCESS_CPU_UTILIZATION)
        system = cap.points(semconv.SYSTEM_CPU_UTILIZATION)
    assert second.time_unix_nano > first.time_unix_nano
    assert 0 < second.value <= 1
    assert all(0 <= p.value <= 1 for p in system)


def test_collections_closer_than_min_interval_reuse_the_last_reading(
    monkeypatch: pytest.MonkeyPatch, psutil_calls: collections.Counter[str]
) -> None:
    monkeypatch.setattr(_system, "MIN_INTERVAL", 60.0)
    with capture() as cap:
        (first,) = cap.points(semconv.PROCESS_MEMORY_USAGE)
        read = sum(psutil_calls.values())
        (second,) = cap.points(semconv.PROCESS_MEMORY_USAGE)
        assert sum(psutil_calls.values()) == read
    assert second.value == first.value


def test_filesystem_points_carry_device_mountpoint_and_type(tmp_path: Path) -> None:
    if not psutil.disk_partitions(all=False):
        pytest.skip("psutil lists no filesystems here")
    with capture(data_dir=tmp_path) as cap:
        points = cap.points(semconv.SYSTEM_FILESYSTEM_UTILIZATION)
    assert 1 <= len(points) <= _system.MAX_FILESYSTEMS
    for point in points:
        assert set(point.attributes) == {
            "system.device",
            "system.filesystem.mountpoint",
            "system.filesystem.type",
        }
        assert 0 <= point.value <= 1
    mountpoints = [p.attributes["system.filesystem.mountpoint"] for p in points]
    assert len(set(mountpoints)) == len(mountpoints)
    # The filesystem tradetel writes to (data_dir) comes first.
    same_device = [m for m in mountpoints if os.stat(m).st_dev == os.stat(tmp_path).st_dev]
    if same_device:
        assert os.stat(mountpoints[0]).st_dev == os.stat(tmp_path).st_dev


def test_nothing_is_read_on_the_hot_path(psutil_calls: collections.Counter[str]) -> None:
    @tradetel.instrument
    def work() -> int:
        return 1

    @tradetel.order("sim")
    def place_order(symbol: str, side: str, amount: float) -> str:
        return "id-1"

    with capture() as cap:
        psutil_calls.clear()  # configure() takes the first CPU reading
        for _ in range(200):
            work()
            place_order("BTC/USDT", "buy", 1.0)
        with tradetel.span("cycle"):
            work()
        assert sum(psutil_calls.values()) == 0
        assert cap.points(semconv.CALL_DURATION)[0].count == 201  # the calls were recorded
        assert system_names(cap)  # a collection reads psutil
        assert psutil_calls["virtual_memory"] == 1


def test_guest_time_is_not_counted_twice_in_system_cpu() -> None:
    # On Linux, time given to virtual machines is in user (guest) and nice (guest_nice) too.
    from collections import namedtuple

    from tradetel._system import _busy_fraction

    times = namedtuple("times", "user nice system idle iowait guest guest_nice")
    before = times(100.0, 0.0, 50.0, 850.0, 0.0, 0.0, 0.0)
    after = times(180.0, 0.0, 70.0, 950.0, 0.0, 60.0, 0.0)  # 100 busy, 100 idle, 60 of it guest
    assert _busy_fraction(before, after) == pytest.approx(0.5)


def test_a_system_psutil_cannot_read_leaves_configure_working(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreadable() -> None:
        raise PermissionError(13, "Permission denied", "/proc/stat")

    monkeypatch.setattr(psutil, "cpu_times", unreadable)
    with capture() as cap:
        assert semconv.PROCESS_MEMORY_USAGE not in cap.metrics()
    assert "system metrics are off" in caplog.text
