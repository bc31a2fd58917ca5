"""tradetel: OpenTelemetry instrumentation for trading systems.

import tradetel

@tradetel.order("binance")
def place_order(symbol, side, amount, price=None): ...

tradetel.configure(service_name="momentum-bot", mode="paper")
"""

from __future__ import annotations

from . import semconv
from ._decorators import instrument, order, strategy
from ._errors import ConfigError, TradetelError
from ._setup import configure, force_flush, shutdown
from ._span import span
from ._version import __version__

__all__ = [
    "ConfigError",
    "TradetelError",
    "__version__",
    "configure",
    "force_flush",
    "instrument",
    "order",
    "semconv",
    "shutdown",
    "span",
    "strategy",
]
