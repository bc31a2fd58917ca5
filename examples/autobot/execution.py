"""Order execution through ccxt: market orders, and resting limit orders that are cancelled."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import ccxt

logger = logging.getLogger("autobot.execution")


class Executor:
    def __init__(self, exchange: ccxt.Exchange) -> None:
        self.exchange = exchange
        self._ids = itertools.count(1)

    def market(self, symbol: str, side: str, amount: float) -> bool:
        params = {"clientOrderId": f"autobot-{next(self._ids)}"}
        try:
            order = self.exchange.create_order(symbol, "market", side, amount, params=params)
        except ccxt.InsufficientFunds as exc:
            logger.warning("order refused: %s", exc)
            return False
        except ccxt.DDoSProtection:  # binance answers 429 with it (RateLimitExceeded: 418)
            logger.warning("rate limited; skipping this signal")
            return False
        logger.info("filled %s %s %s at %s", side, order["filled"], symbol, order["average"])
        return True

    def rest(self, symbol: str, side: str, amount: float, price: float) -> dict[str, Any]:
        params = {"clientOrderId": f"autobot-{next(self._ids)}"}
        order = self.exchange.create_order(symbol, "limit", side, amount, price, params=params)
        logger.info("resting %s %s %s at %s (id %s)", side, amount, symbol, price, order["id"])
        return order

    def cancel(self, order: dict[str, Any]) -> None:
        self.exchange.cancel_order(order["id"], order["symbol"])
        logger.info("cancelled %s", order["id"])
