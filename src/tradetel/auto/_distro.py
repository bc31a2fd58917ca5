"""tradetel as an OpenTelemetry distro and configurator, for ``opentelemetry-instrument``.

``opentelemetry-instrument python bot.py`` (and ``tradetel-run``, which uses the same start-up)
loads the ``tradetel`` distro, whose configurator calls ``tradetel.configure()`` from the
environment, then every installed instrumentor - tradetel's (declarations, ccxt, alpaca) and
the official ones (requests, aiohttp-client, httpx ...) - except those named in
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

# the module is marked untyped (`# type: ignore` at its top)
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

from . import _start

logger = logging.getLogger("tradetel")


class TradetelDistro(BaseDistro):  # type: ignore[misc]  # the base class is untyped
    """Makes tradetel's configurator the one that runs, and loads the instrumentors."""

    def _configure(self, **kwargs: Any) -> None:
        # With several configurators installed the first found would win: name ours.
        os.environ.setdefault("OTEL_PYTHON_CONFIGURATOR", "tradetel")

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        if _start.state in ("failed", "disabled"):
            logger.debug(
                "tradetel: %s not instrumented (tradetel is %s)", entry_point.name, _start.state
            )
            return
        # tradetel bridges `logging` itself (trace ids included): the logging instrumentor
        # would add a second handler, exporting every record twice. It still runs when asked
        # for its other feature, trace ids in the log format.
        if (
            entry_point.name == "logging"
            and _start.state == "running"
            and os.environ.get("OTEL_PYTHON_LOG_CORRELATION", "").strip().lower() != "true"
        ):
            logger.debug("tradetel: the logging instrumentor is not needed, tradetel bridges logs")
            return
        if entry_point.name == "logging":
            os.environ.setdefault("OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION", "false")
        super().load_instrumentor(entry_point, **kwargs)


class TradetelConfigurator:
    """``opentelemetry_configurator`` entry point: ``tradetel.configure()`` from the environment."""

    def configure(self, **kwargs: Any) -> None:
        _start.start()
