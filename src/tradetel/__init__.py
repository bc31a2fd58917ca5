"""tradetel: OpenTelemetry instrumentation for trading systems.

import tradetel

@tradetel.order("binance")
def place_order(symbol, side, amount, price=None): ...

tradetel.configure(service_name="momentum-bot", mode="paper")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import orders, semconv, tick_to_trade
from ._decorators import instrument, order, strategy
from ._errors import ConfigError, RuleError, TradetelError
from ._span import span
from ._version import __version__
from .orders import order_span

if TYPE_CHECKING:
    from . import alerts, health, performance
    from ._setup import configure, force_flush, shutdown

__all__ = [
    "ConfigError",
    "RuleError",
    "TradetelError",
    "__version__",
    "alerts",
    "configure",
    "force_flush",
    "health",
    "instrument",
    "order",
    "order_span",
    "orders",
    "performance",
    "semconv",
    "shutdown",
    "span",
    "strategy",
    "tick_to_trade",
]


def __getattr__(name: str) -> Any:
    # configure() and friends load the OTel SDK and the exporters' plumbing: import them on
    # first use, so that code which is only decorated (a strategy library) stays light.
    if name in ("configure", "force_flush", "shutdown"):
        from . import _setup

        return getattr(_setup, name)
    if name in ("alerts", "health", "performance"):  # import on first use
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tradetel' has no attribute {name!r}")
