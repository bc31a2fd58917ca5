"""The demo's trading bot, written the way users write theirs.

Each strategy step is a ``@tradetel.strategy`` function; orders go out through
``@tradetel.order`` functions that tell ``tradetel.orders`` about them; the venues' execution
reports go to the order tracker from a handler; equity and positions go to the strategy's
performance tracker; the bot logs with :mod:`logging`. Nothing here knows about alerts.

A strategy turns the price into a target exposure (a multiple of its capital) and sends limit
orders for the difference. It decides from the tick number and the price path only, never
from fills that arrive on other threads, so the same seed sends the same orders.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import tradetel

from ._market import PricePath
from ._venue import OrderRejected, Report, SimVenue

__all__ = ["STRATEGIES", "Bot", "Strategy"]

log = logging.getLogger("demo.bot")

CAPITAL = 100_000.0
MIN_ORDER, MAX_ORDER = 2_000.0, 15_000.0  # notional of one order
CANCEL_AFTER = 15  # ticks a resting order waits before the strategy cancels it
# One return per 100 ms tick, annualised as if each were a trading day: the figures of a
# thirty-second run then read like those of a year of daily returns, not of 300 million ticks.
PERIODS_PER_YEAR = 252


class Strategy:
    """Shared bookkeeping; subclasses decide the target exposure and name the step."""

    name = "strategy"
    symbol = "BTC/USDT"
    start_price = 100.0
    scripted = False

    def __init__(self, bot: Bot, *, seed: int, ticks: int) -> None:
        self.bot = bot
        self.path = PricePath(
            f"{seed}/{self.name}", self.start_price, ticks, scripted=self.scripted
        )
        self.ticks = ticks
        self.rng = random.Random(f"{seed}/{self.name}/orders")
        self.ids = itertools.count(1)
        self.sent = itertools.count()
        self.intended = 0.0  # notional the strategy has asked for, filled or not
        self.position = 0.0  # quantity filled
        self.cash = CAPITAL
        self.cost = 0.0  # average cost of the position
        self.ema = self.path[0]
        self.resting: deque[tuple[int, str, str]] = deque()  # (tick, client id, venue)
        self.lock = threading.Lock()
        self.performance = tradetel.performance.tracker(
            self.name, periods_per_year=PERIODS_PER_YEAR
        )

    def target(self, tick: int, price: float) -> float:
        raise NotImplementedError

    def on_tick(self, tick: int) -> None:
        raise NotImplementedError

    def step(self, tick: int) -> None:
        """One tick: cancel stale orders, trade towards the target, mark to market."""
        price = self.path[tick]
        while self.resting and self.resting[0][0] <= tick - CANCEL_AFTER:
            _, coid, venue = self.resting.popleft()
            if self.bot.is_open(coid):  # filled meanwhile: nothing to cancel
                self.bot.cancel_order(venue, coid)
        wanted = self.target(tick, price) * CAPITAL - self.intended
        self.ema += 0.1 * (price - self.ema)
        if abs(wanted) >= MIN_ORDER:
            self.send(tick, price, min(abs(wanted), MAX_ORDER) * (1 if wanted > 0 else -1))
        with self.lock:
            equity = self.cash + self.position * price
            exposure = {self.symbol: self.position * price}
        self.performance.update_equity(equity)
        self.performance.update_positions(exposure)

    def send(self, tick: int, mid: float, notional: float) -> None:
        side = "buy" if notional > 0 else "sell"
        sign = 1 if side == "buy" else -1
        marketable = self.rng.random() < 0.7
        offset = 10.0 if marketable else -self.rng.uniform(2.0, 8.0)  # basis points
        price = round(mid * (1 + sign * offset / 1e4), 2)
        quantity = round(abs(notional) / mid, 5)
        coid = f"{self.name}-{next(self.ids)}"
        venue = self.bot.venue_names[next(self.sent) % len(self.bot.venue_names)]
        self.intended += sign * quantity * mid
        try:
            self.bot.submit_order(venue, self.symbol, side, quantity, price, coid, self, mid)
        except OrderRejected:
            return  # counted by the tracker and logged; the strategy tries again next tick
        if not marketable:
            self.resting.append((tick, coid, venue))

    def book_fill(self, side: str, quantity: float, price: float) -> None:
        """A fill from the report stream: position, cash, and the trade's realised P&L."""
        signed = quantity if side == "buy" else -quantity
        realized = None
        with self.lock:
            if self.position and (self.position > 0) != (signed > 0):
                closed = min(abs(signed), abs(self.position))
                realized = closed * (price - self.cost) * (1 if self.position > 0 else -1)
            new = self.position + signed
            if abs(new) > 1e-12 and (self.position == 0 or (new > 0) != (self.position > 0)):
                self.cost = price
            elif abs(new) > abs(self.position):
                self.cost = (self.cost * abs(self.position) + price * abs(signed)) / abs(new)
            self.position = new
            self.cash -= signed * price
        if realized is not None:
            self.performance.record_trade(realized)


class DipBuyer(Strategy):
    """A core long position, leaning in when the price falls below its average."""

    name = "dip_buyer"
    symbol = "BTC/USDT"
    start_price = 64_000.0
    scripted = True

    @tradetel.strategy("dip_buyer")
    def on_tick(self, tick: int) -> None:
        self.step(tick)

    def target(self, tick: int, price: float) -> float:
        return 1.2 + max(min(-(price / self.ema - 1) * 40, 0.3), -0.3)


class Momentum(Strategy):
    """Follows the short-term trend, long or short."""

    name = "momentum"
    symbol = "ETH/USDT"
    start_price = 3_400.0

    @tradetel.strategy("momentum")
    def on_tick(self, tick: int) -> None:
        self.step(tick)

    def target(self, tick: int, price: float) -> float:
        return max(min((price / self.ema - 1) * 150, 0.8), -0.8)


class MeanReversion(Strategy):
    """Sells strength and buys weakness around a flat book."""

    name = "mean_reversion"
    symbol = "SOL/USDT"
    start_price = 150.0

    @tradetel.strategy("mean_reversion")
    def on_tick(self, tick: int) -> None:
        self.step(tick)

    def target(self, tick: int, price: float) -> float:
        return max(min(-(price / self.ema - 1) * 120, 0.6), -0.6)


STRATEGIES: tuple[type[Strategy], ...] = (DipBuyer, Momentum, MeanReversion)


class Bot:
    """The venues, the strategies, and the execution-report handler that feeds the tracker."""

    def __init__(self, venues: Sequence[str], strategies: int, *, seed: int, ticks: int) -> None:
        self.venue_names = list(venues)
        # the second venue (or the only one) has the latency incident of the script
        incident = self.venue_names[min(1, len(self.venue_names) - 1)]
        self.venues: Mapping[str, SimVenue] = {
            name: SimVenue(name, seed=seed, incident=name == incident, on_report=self.on_report)
            for name in self.venue_names
        }
        self.strategies = [kind(self, seed=seed, ticks=ticks) for kind in STRATEGIES[:strategies]]
        self.ticks = max(ticks, 1)
        self.stats = Stats()
        self._orders: dict[str, tuple[Strategy, str, float]] = {}  # coid -> owner, side, sent
        self._open: dict[str, float] = {}  # coid -> quantity, while the order is live
        self._lock = threading.Lock()

    @tradetel.order(operation="submit", order_type="limit")
    def submit_order(
        self,
        venue: str,
        symbol: str,
        side: str,
        quantity: float,
        price: float,
        client_order_id: str,
        owner: Strategy,
        mid: float,
    ) -> dict[str, Any]:
        tradetel.orders.submitted(
            client_order_id, venue=venue, symbol=symbol, side=side, order_type="limit",
            quantity=quantity, price=price, arrival_price=mid, strategy=owner.name,
        )  # fmt: skip
        with self._lock:
            self._orders[client_order_id] = (owner, side, time.monotonic())
            self._open[client_order_id] = quantity
        self.stats.count("orders")
        try:
            order_id = self.venues[venue].submit(
                client_order_id, side, quantity, price, mid=mid, f=self.stats.tick / self.ticks
            )
        except OrderRejected as exc:
            tradetel.orders.rejected(client_order_id, reason=str(exc))
            with self._lock:
                self._open.pop(client_order_id, None)
                self._orders.pop(client_order_id, None)
            self.stats.count("rejects")
            log.warning("%s rejected %s %s %s: %s", venue, side, quantity, symbol, exc)
            raise
        return {"id": order_id, "status": "new"}

    @tradetel.order(operation="cancel", order_type="limit")
    def cancel_order(self, venue: str, client_order_id: str) -> None:
        tradetel.orders.cancel_requested(client_order_id)
        self.venues[venue].cancel(client_order_id)

    def is_open(self, client_order_id: str) -> bool:
        with self._lock:
            return client_order_id in self._open

    def on_report(self, report: Report) -> None:
        """The user-data stream's handler: every report goes to the order tracker."""
        coid = report.client_order_id
        with self._lock:
            owner, side, sent = self._orders.get(coid, (None, "", 0.0))
            quantity = self._open.get(coid, 0.0)
            if report.kind == "canceled" or (
                report.kind == "fill" and report.cumulative >= quantity * (1 - 1e-9)
            ):
                self._open.pop(coid, None)
                self._orders.pop(coid, None)
        if report.kind == "ack":
            tradetel.orders.acked(report.client_order_id, order_id=report.order_id)
            if owner is not None:  # else the order ended (canceled) before the venue acked it
                latency = time.monotonic() - sent
                self.stats.ack(report.venue, latency)
                if latency > 0.25:
                    log.warning("slow ack from %s: %.0f ms", report.venue, latency * 1000)
        elif report.kind == "fill":
            tradetel.orders.filled(
                report.client_order_id, report.quantity, report.price,
                exec_id=report.trade_id, cumulative_quantity=report.cumulative,
            )  # fmt: skip
            self.stats.count("fills")
            if owner is not None:
                owner.book_fill(side, report.quantity, report.price)
        elif report.kind == "canceled":
            tradetel.orders.canceled(report.client_order_id)
            self.stats.count("cancels")


class Stats:
    """What the progress display shows, counted by the bot as it goes."""

    def __init__(self) -> None:
        self.tick = 0
        self.counts = dict.fromkeys(("orders", "fills", "rejects", "cancels"), 0)
        self.acks: dict[str, deque[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def ack(self, venue: str, latency: float) -> None:
        with self._lock:
            self.acks.setdefault(venue, deque(maxlen=2000)).append((time.monotonic(), latency))

    def p99(self, window: float = 10.0) -> dict[str, float]:
        """p99 ack latency per venue over the last ``window`` seconds."""
        since = time.monotonic() - window
        with self._lock:
            recent = {v: sorted(x for t, x in q if t >= since) for v, q in self.acks.items()}
        return {v: xs[min(len(xs) - 1, int(0.99 * len(xs)))] for v, xs in recent.items() if xs}
