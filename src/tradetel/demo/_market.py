"""The simulated market: price paths, and what a venue does with each order.

Everything here is a pure function of the seed and of indexes (tick number, order number),
never of the wall clock or of thread timing, so that the same seed sends the same orders.

The default run has a script, so that the shipped alert rules have something to see:

- the first strategy's market drops about 10% from a fifth of the way in and recovers to a
  new high by three quarters: the strategy, leaning long, falls 10 to 15% below its peak
  (``DrawdownWarning`` fires, ``DrawdownCritical`` may) and recovers (they resolve);
- the second venue (or the only one) has a latency incident in the middle of the run: acks
  take hundreds of milliseconds, and its p99 crosses 500 ms (``OrderLatencyP99High``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

__all__ = ["DIP", "SPIKE", "OrderPlan", "PricePath", "plan_order"]

#: (start, bottom, recovered, new high) as fractions of the run; the bottom is 10% down
DIP = (0.22, 0.38, 0.55, 0.75)
DIP_DEPTH = 0.10
#: the latency incident of the second venue, as fractions of the run
SPIKE = (0.42, 0.62)

_REJECT_REASONS = (
    ("Account has insufficient balance for requested action.", 0.4),
    ("Too many new orders; current limit is 50 orders per 10 SECOND.", 0.4),
    ("Filter failure: LOT_SIZE", 0.2),
)


class PricePath:
    """A seeded random walk, with the dip-and-recovery shape laid over it when ``scripted``."""

    def __init__(self, seed: str, start: float, ticks: int, *, scripted: bool) -> None:
        rng = random.Random(seed)
        self.ticks = max(ticks, 1)
        self.scripted = scripted
        volatility = 0.0004 if scripted else 0.0008  # per tick
        walk, level = [], 0.0
        for _ in range(self.ticks + 1):
            walk.append(level)
            level += rng.gauss(0.0, volatility)
        self._prices = [
            start * math.exp(w) * self._shape(i / self.ticks) for i, w in enumerate(walk)
        ]

    def __getitem__(self, tick: int) -> float:
        return self._prices[min(max(tick, 0), self.ticks)]

    def _shape(self, f: float) -> float:
        if not self.scripted:
            return 1.0
        start, bottom, recovered, high = DIP
        if f < start:
            return 1.0
        if f < bottom:
            return 1.0 - DIP_DEPTH * _ease((f - start) / (bottom - start))
        if f < recovered:
            return 1.0 - DIP_DEPTH * (1.0 - _ease((f - bottom) / (recovered - bottom)))
        if f < high:
            return 1.0 + 0.04 * _ease((f - recovered) / (high - recovered))
        return 1.04


def _ease(x: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * min(max(x, 0.0), 1.0))


@dataclass
class OrderPlan:
    """What the venue will do with one order, decided when it arrives.

    Delays are seconds from the moment the venue received the order. ``fills`` lists
    (delay, fraction of the quantity, price offset in basis points, against the taker).
    A passive order fills at its limit price (offset 0). ``rests`` orders stay on the book
    after their fills until the strategy cancels them.
    """

    rtt: float
    reject: str | None = None
    ack_delay: float = 0.0
    fills: list[tuple[float, float, float]] = field(default_factory=list)
    rests: bool = False
    cancel_delay: float = 0.0


def plan_order(
    seed: int, venue: str, number: int, *, f: float, incident: bool, marketable: bool
) -> OrderPlan:
    """The venue's plan for its ``number``-th order, at fraction ``f`` of the run.

    Ack latency is log-normal (median 8 ms) with a heavy tail: one order in a hundred waits
    10 to 40 times longer. During the venue's ``incident`` every ack is 20 to 80 times slower.
    """
    rng = random.Random(f"{seed}/{venue}/{number}")
    rtt = min(rng.lognormvariate(math.log(0.0015), 0.4), 0.02)
    roll = rng.random()
    if roll < 0.03:
        reasons = [r for r, _ in _REJECT_REASONS]
        weights = [w for _, w in _REJECT_REASONS]
        return OrderPlan(rtt, reject=rng.choices(reasons, weights)[0])
    ack = rng.lognormvariate(math.log(0.008), 0.5)
    if rng.random() < 0.01:
        ack *= rng.uniform(10, 40)
    if incident and SPIKE[0] <= f < SPIKE[1]:
        ack *= rng.uniform(20, 80)
    plan = OrderPlan(rtt, ack_delay=ack, cancel_delay=rng.lognormvariate(math.log(0.01), 0.4))
    if marketable:
        parts = 1 if rng.random() < 0.75 else rng.choice((2, 3))
        at = ack
        for _ in range(parts):
            at += rng.lognormvariate(math.log(0.004), 0.6)
            plan.fills.append((at, 1.0 / parts, rng.uniform(0.0, 6.0)))
    else:  # passive: fills later, partly, or not at all before the strategy cancels it
        outcome = rng.random()
        if outcome < 0.6:
            plan.fills.append((ack + rng.uniform(0.2, 1.0), 1.0, 0.0))
        elif outcome < 0.8:
            plan.fills.append((ack + rng.uniform(0.1, 0.6), 0.4, 0.0))
            plan.rests = True
        else:
            plan.rests = True
    return plan
