"""Shared fixtures: every test starts unconfigured, with a clean environment."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator

import pytest

import tradetel
from tradetel._internal import reset_reported_errors

# Under tradetel's own tests an internal error is a bug to see, not to swallow (the tests of
# the guard itself unset this).
os.environ["TRADETEL_RAISE_INTERNAL_ERRORS"] = "1"

_VARIABLES = (
    "TRADETEL_DISABLED", "OTEL_SDK_DISABLED", "TRADETEL_EXPORTER", "TRADETEL_MODE",
    "TRADETEL_ENVIRONMENT", "TRADETEL_RUN_ID", "TRADETEL_DATA_DIR", "TRADETEL_METRIC_SYMBOLS",
    "TRADETEL_TRACE_SAMPLE_RATE", "TRADETEL_FILE_MAX_BYTES", "TRADETEL_FILE_BACKUPS",
    "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BLRP_SCHEDULE_DELAY", "TRADETEL_SYSTEM_METRICS",
    "TRADETEL_INSTRUMENT", "TRADETEL_CONFIG", "TRADETEL_TRACK_EXCHANGE_ORDERS",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "OTEL_PYTHON_DISTRO", "OTEL_PYTHON_CONFIGURATOR",
    "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER",
    "TRADETEL_ALERT_RULES", "TRADETEL_NOTIFY", "TRADETEL_ALERT_INTERVAL",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_tradetel(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
    reset_reported_errors()
    yield
    tradetel.shutdown(timeout=5.0)
    if "tradetel.alerts.notify" in sys.modules:  # handlers registered with @on_alert
        sys.modules["tradetel.alerts.notify"].clear_handlers()


def require_binary(name: str) -> str:
    """The path of an external binary; skip (or, in CI, fail) when it is missing."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (Debian package for the integration tests)"
        if os.environ.get("TRADETEL_REQUIRE_BINARIES") == "1":
            pytest.fail(f"{reason}; CI requires it")
        pytest.skip(reason)
    return path
