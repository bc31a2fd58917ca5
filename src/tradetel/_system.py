"""Process and system health gauges from psutil, observed only when a metric reader collects.

Nothing here runs on the hot path: ``configure(system_metrics=True)`` (the default) adds a
``SystemMetrics`` source to the configuration's registry, and each collection reads psutil.
Names and units are OpenTelemetry's process and system semantic conventions.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from . import semconv as sc
from ._metrics import gauge_metric

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric

#: Readings closer together than this reuse the last one: several readers collecting at once
#: would otherwise see CPU utilisation over a few microseconds.
MIN_INTERVAL = 1.0
#: Filesystems reported at most (a host with many mounts must not flood the series).
MAX_FILESYSTEMS = 16


class SystemMetrics:
    """The psutil gauges, as a metric source: ``source(now_ns)`` -> metrics."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self._process = psutil.Process()
        self._lock = threading.Lock()
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._cpus = _available_cpus(self._process)
        # CPU utilisation is a difference between two readings: the first is taken now.
        self._last_time = time.monotonic()
        self._last_process_cpu = self._process_cpu()
        self._last_system = psutil.cpu_times()
        self._last_at = float("-inf")
        self._cached: list[Metric] = []

    def _process_cpu(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def __call__(self, now_ns: int) -> list[Metric]:
        with self._lock:
            if time.monotonic() - self._last_at < MIN_INTERVAL:
                return self._cached
            self._cached = [m for m in self._read(now_ns) if m is not None]
            self._last_at = time.monotonic()
            return self._cached

    def _read(self, now_ns: int) -> Iterable[Metric | None]:
        if self._process.pid != os.getpid():  # a forked child: observe itself
            self._process = psutil.Process()
            self._cpus = _available_cpus(self._process)
        now = time.monotonic()
        elapsed = max(now - self._last_time, 1e-9)
        process_cpu = self._process_cpu()
        system = psutil.cpu_times()
        process_util = max(0.0, process_cpu - self._last_process_cpu) / elapsed / self._cpus
        system_util = _busy_fraction(self._last_system, system)
        self._last_time, self._last_process_cpu, self._last_system = now, process_cpu, system

        yield gauge_metric(
            sc.PROCESS_CPU_UTILIZATION, "1", "CPU time of this process since the last reading, "
            "per second and per CPU.", [({}, min(process_util, 1.0))], now_ns,
        )  # fmt: skip
        with self._process.oneshot():
            memory = self._process.memory_info().rss
            threads = self._process.num_threads()
            fds = _open_fds(self._process)
        yield gauge_metric(
            sc.PROCESS_MEMORY_USAGE, "By", "Resident memory of this process.",
            [({}, memory)], now_ns,
        )  # fmt: skip
        yield gauge_metric(
            sc.PROCESS_THREAD_COUNT, "{thread}", "Threads of this process.",
            [({}, threads)], now_ns,
        )  # fmt: skip
        if fds is not None:
            yield gauge_metric(
                sc.PROCESS_OPEN_FDS, "{file_descriptor}", "File descriptors this process has "
                "open.", [({}, fds)], now_ns,
            )  # fmt: skip
        if system_util is not None:
            yield gauge_metric(
                sc.SYSTEM_CPU_UTILIZATION, "1", "Busy fraction of all CPUs since the last "
                "reading.", [({}, system_util)], now_ns,
            )  # fmt: skip
        yield gauge_metric(
            sc.SYSTEM_MEMORY_UTILIZATION, "1", "Fraction of the system's memory in use.",
            [({"system.memory.state": "used"}, psutil.virtual_memory().percent / 100)], now_ns,
        )  # fmt: skip
        yield gauge_metric(
            sc.SYSTEM_FILESYSTEM_UTILIZATION, "1", "Fraction of each filesystem in use.",
            self._filesystems(), now_ns,
        )  # fmt: skip

    def _filesystems(self) -> list[tuple[dict[str, Any], float]]:
        points: list[tuple[dict[str, Any], float]] = []
        seen: set[str] = set()
        mounts = [p for p in psutil.disk_partitions(all=False) if p.mountpoint]
        if self._data_dir is not None:  # the filesystem tradetel writes to, first
            here = _mount_of(self._data_dir, [p.mountpoint for p in mounts])
            mounts.sort(key=lambda p: p.mountpoint != here)
        for part in mounts:
            if len(points) >= MAX_FILESYSTEMS:
                break
            if part.device in seen:
                continue
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:  # not readable by this user, or gone since listed
                continue
            seen.add(part.device)
            attributes = {
                "system.device": part.device,
                "system.filesystem.mountpoint": part.mountpoint,
                "system.filesystem.type": part.fstype,
            }
            points.append((attributes, usage.percent / 100))
        return points


def _available_cpus(process: psutil.Process) -> int:
    """The CPUs this process may run on (its affinity), as OTel's utilisation divides by."""
    try:
        return len(process.cpu_affinity()) or 1
    except (AttributeError, psutil.Error, OSError):  # macOS has no affinity
        return psutil.cpu_count() or 1


def _total(times: Any) -> float:
    # On Linux, guest time is also counted in user time (and guest_nice in nice).
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return float(sum(times)) - guest


def _busy_fraction(before: Any, after: Any) -> float | None:
    """Fraction of CPU time not idle between two ``psutil.cpu_times()`` readings."""
    idle_fields = ("idle", "iowait")
    total = _total(after) - _total(before)
    if total <= 0:
        return None
    idle = float(sum(getattr(after, f, 0.0) - getattr(before, f, 0.0) for f in idle_fields))
    return min(1.0, max(0.0, 1.0 - idle / total))


def _open_fds(process: psutil.Process) -> int | None:
    try:
        if hasattr(process, "num_fds"):
            return int(process.num_fds())
        return int(getattr(process, "num_handles")())  # Windows  # noqa: B009
    except (psutil.Error, OSError, AttributeError):
        return None


def _mount_of(path: Path, mountpoints: list[str]) -> str | None:
    """The longest mount point that contains ``path`` (which may not exist yet)."""
    resolved = str(path.resolve())
    best = None
    for mount in mountpoints:
        prefix = mount.rstrip("/") + "/"
        if (resolved == mount or resolved.startswith(prefix) or mount == "/") and (
            best is None or len(mount) > len(best)
        ):
            best = mount
    return best
