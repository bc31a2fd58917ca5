"""A momentum strategy: buy when the short average crosses above the long one, sell below."""

from __future__ import annotations

import logging
from collections import deque

from .execution import Executor
from .risk import within_limits

logger = logging.getLogger("autobot.strategy")


class Momentum:
    def __init__(self, executor: Executor, symbol: str = "BTC/USDT", size: float = 0.01) -> None:
        self.executor = executor
        self.symbol = symbol
        self.size = size
        self.short: deque[float] = deque(maxlen=3)
        self.long: deque[float] = deque(maxlen=8)
        self.position = 0.0

    def on_tick(self, price: float) -> None:
        self.short.append(price)
        self.long.append(price)
        if len(self.long) < self.long.maxlen:  # type: ignore[operator]
            return
        fast = sum(self.short) / len(self.short)
        slow = sum(self.long) / len(self.long)
        side = "buy" if fast > slow and self.position <= 0 else None
        side = "sell" if fast < slow and self.position > 0 else side
        if side is None or not within_limits(self.position, self.size, side):
            return
        logger.info(
            "signal %s %s at %.2f (fast %.2f over %.2f)", side, self.symbol, price, fast, slow
        )
        if self.executor.market(self.symbol, side, self.size):
            self.position += self.size if side == "buy" else -self.size
