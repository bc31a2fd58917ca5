"""The compose stack for real: the demo bot's trace, metric and log reach Tempo, Prometheus, Loki.

Needs a Docker engine with the compose plugin, and the stack's host ports free (4317, 4318,
13133, 9090, 3200, 3100, 3000). Where there is none the test is skipped with the reason; unlike
promtool, Docker is not one of the binaries CI installs, so TRADETEL_REQUIRE_BINARIES does not
make the skip a failure. It builds the tradetel image, pulls the pinned images and runs for a
few minutes; `docker compose down -v` removes everything it created, volumes included.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "tradetel-stack-test"  # its own containers and volumes, whatever else runs
SERVICE = "tradetel-demo"  # the demo bot's service.name
READY = {
    "Prometheus": "http://localhost:9090/-/ready",
    "Tempo": "http://localhost:3200/ready",
    "Loki": "http://localhost:3100/ready",
    "Grafana": "http://localhost:3000/api/health",
    "the Collector": "http://localhost:13133/",
}
STARTUP_TIMEOUT = 300.0
DATA_TIMEOUT = 300.0


def docker_or_skip() -> str:
    """The docker command, or a skip saying why the stack cannot run here."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no Docker engine: the docker command is not installed")
    try:
        info = subprocess.run(
            [docker, "info"], check=False, capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.skip("no Docker engine: `docker info` did not answer within 30 s")
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines()
        pytest.skip(
            f"no Docker engine: `docker info` failed ({lines[-1] if lines else 'no output'})"
        )
    plugin = subprocess.run(
        [docker, "compose", "version"], check=False, capture_output=True, text=True, timeout=30
    )
    if plugin.returncode != 0:
        pytest.skip("no Docker Compose: `docker compose version` failed (the compose plugin)")
    return docker


def _compose(docker: str, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker, "compose", "--project-name", PROJECT, "--profile", "demo", *args],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, ValueError):  # refused, reset, or not yet listening
        return 0, b""


def _wait_for(failure: str, check: Callable[[], bool], timeout: float, docker: str) -> None:
    """Poll ``check`` until it holds; fail with ``failure`` and the containers' states."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(5)
    status = _compose(docker, "ps", "--all", timeout=60).stdout
    pytest.fail(f"{failure} within {timeout:.0f} s\n{status}")


def _answers(url: str) -> Callable[[], bool]:
    return lambda: _get(url)[0] == 200


@pytest.fixture(scope="module")
def stack() -> Iterator[str]:
    docker = docker_or_skip()
    up = _compose(docker, "up", "--detach", "--build")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        for name, url in READY.items():
            _wait_for(f"{name} was not ready", _answers(url), STARTUP_TIMEOUT, docker)
        yield docker
    finally:
        _compose(docker, "down", "--volumes", "--remove-orphans", timeout=300)


def _json(url: str) -> dict[str, Any]:
    status, body = _get(url)
    if status != 200:
        return {}
    data: dict[str, Any] = json.loads(body)
    return data


def _trace_in_tempo() -> bool:
    query = urllib.parse.urlencode({"tags": f"service.name={SERVICE}", "limit": 5})
    return bool(_json(f"http://localhost:3200/api/search?{query}").get("traces"))


def _metric_in_prometheus() -> bool:
    query = urllib.parse.urlencode({"query": "trading_order_latency_seconds_count"})
    data = _json(f"http://localhost:9090/api/v1/query?{query}").get("data") or {}
    return any(series["metric"].get("service_name") == SERVICE for series in data.get("result", []))


def _log_in_loki() -> bool:
    query = urllib.parse.urlencode(
        {"query": f'{{service_name="{SERVICE}"}}', "since": "15m", "limit": 5}
    )
    data = _json(f"http://localhost:3100/loki/api/v1/query_range?{query}").get("data") or {}
    return bool(data.get("result"))


@pytest.mark.integration
@pytest.mark.parametrize(
    ("what", "check"),
    [
        ("demo-bot trace in Tempo", _trace_in_tempo),
        ("demo-bot metric in Prometheus", _metric_in_prometheus),
        ("demo-bot log record in Loki", _log_in_loki),
    ],
)
def test_demo_bot_telemetry_reaches_the_backends(
    stack: str, what: str, check: Callable[[], bool]
) -> None:
    _wait_for(f"no {what} arrived", check, DATA_TIMEOUT, stack)


def test_missing_docker_is_a_skip_even_when_binaries_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRADETEL_REQUIRE_BINARIES", "1")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="no Docker engine"):
        docker_or_skip()
