"""Pre-trade risk checks."""

from __future__ import annotations

MAX_POSITION = 0.05


def within_limits(position: float, size: float, side: str) -> bool:
    after = position + size if side == "buy" else position - size
    return abs(after) <= MAX_POSITION


def notional_ok(price: float, size: float, limit: float = 10_000.0) -> bool:
    return price * size <= limit
