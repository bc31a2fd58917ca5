"""Helpers for tests that run a real server binary on loopback (Prometheus, Alertmanager)."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

#: the tests' own requests, never through a proxy from the environment
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def get_json(url: str, timeout: float = 5.0) -> Any:
    with DIRECT.open(url, timeout=timeout) as response:
        return json.load(response)


def eventually(check: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    """The first truthy result of ``check``; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


def ready(url: str) -> bool:
    """Whether a Prometheus-family server at ``url`` answers ``/-/ready``."""
    try:
        with DIRECT.open(url + "/-/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
