"""The public surface: what users import."""

from __future__ import annotations

import subprocess
import sys

import tradetel


def test_public_names_are_pinned_and_sorted() -> None:
    assert tradetel.__all__ == [
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
    assert tradetel.__all__ == sorted(tradetel.__all__)


def test_config_error_is_a_value_error_and_a_tradetel_error() -> None:
    assert issubclass(tradetel.ConfigError, ValueError)
    assert issubclass(tradetel.ConfigError, tradetel.TradetelError)


def test_decorating_code_loads_neither_the_otel_sdk_nor_any_exporter() -> None:
    code = (
        "import sys, tradetel\n"
        "@tradetel.order('binance')\n"
        "def submit(symbol): pass\n"
        "submit('BTC/USDT')\n"
        "with tradetel.tick_to_trade.received():\n"
        "    tradetel.orders.submitted('c-1', venue='sim', quantity=1.0)\n"
        "tradetel.orders.filled('c-1', 1.0, 10.0)\n"
        "heavy = [m for m in sys.modules if m.startswith(('opentelemetry.sdk', "
        "'opentelemetry.exporter', 'grpc', 'requests', 'google.protobuf', 'tradetel.exporters', "
        "'psutil', 'asyncio'))]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
