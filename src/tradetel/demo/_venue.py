"""A simulated venue: a REST-like submit and cancel, and a stream of execution reports.

The submit blocks for the round trip and then returns or raises :class:`OrderRejected`, as an
exchange's REST API does. Acks, fills and cancel confirmations arrive later on the venue's
own thread, which calls the report handler the way a user-data websocket would.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._market import OrderPlan, plan_order

__all__ = ["OrderRejected", "Report", "SimVenue"]


class OrderRejected(Exception):
    """The venue refused the order; the message is the venue's text."""


@dataclass(frozen=True)
class Report:
    """One execution report: ``kind`` is ack, fill or canceled."""

    kind: str
    venue: str
    client_order_id: str
    order_id: str = ""
    quantity: float = 0.0
    price: float = 0.0
    cumulative: float = 0.0
    trade_id: str = ""
    sent_at: float = 0.0


class SimVenue:
    """One venue. ``start()`` its report thread, ``stop()`` it at the end."""

    def __init__(
        self,
        name: str,
        *,
        seed: int,
        incident: bool,
        on_report: Callable[[Report], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._seed = seed
        self._incident = incident
        self._on_report = on_report
        self._clock = clock
        self._numbers = itertools.count(1)
        self._trades = itertools.count(1)
        self._queue: list[tuple[float, int, Report]] = []
        self._order = itertools.count()
        self._resting: dict[str, tuple[str, float]] = {}  # client id -> (order id, cancel delay)
        self._cv = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"venue-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, drain: float = 2.0) -> None:
        """Deliver what is due within ``drain`` seconds, then stop."""
        deadline = self._clock() + drain
        with self._cv:
            while self._queue and self._queue[0][0] <= deadline and self._thread.is_alive():
                self._cv.wait(0.05)
            self._stopped = True
            self._cv.notify()
        self._thread.join(2.0)

    def submit(
        self,
        client_order_id: str,
        side: str,
        quantity: float,
        price: float,
        *,
        mid: float,
        f: float,
    ) -> str:
        """Send a limit order; returns the venue's order id, or raises :class:`OrderRejected`.

        A marketable order (a buy at or above ``mid``, a sell at or below) fills near ``mid``;
        a passive one at its limit ``price``. ``f`` is how far into the run it is.
        """
        marketable = price >= mid if side == "buy" else price <= mid
        number = next(self._numbers)
        plan = plan_order(
            self._seed, self.name, number, f=f, incident=self._incident, marketable=marketable
        )
        time.sleep(plan.rtt)  # the REST round trip
        if plan.reject is not None:
            raise OrderRejected(plan.reject)
        order_id = f"{self.name}-{number}"
        base = mid if marketable else price
        self._schedule(client_order_id, order_id, side, quantity, base, plan)
        return order_id

    def cancel(self, client_order_id: str) -> bool:
        """Ask to cancel a resting order; the confirmation comes on the stream."""
        with self._cv:
            resting = self._resting.pop(client_order_id, None)
        if resting is None:
            return False  # already done, or never resting
        time.sleep(0.001)
        order_id, delay = resting
        self._push(self._clock() + delay, Report("canceled", self.name, client_order_id, order_id))
        return True

    def _schedule(
        self, coid: str, order_id: str, side: str, quantity: float, price: float, plan: OrderPlan
    ) -> None:
        now = self._clock()
        self._push(now + plan.ack_delay, Report("ack", self.name, coid, order_id))
        sign = 1.0 if side == "buy" else -1.0
        done = 0.0
        for delay, fraction, bp in plan.fills:
            part = quantity * fraction
            done += part
            fill_price = price * (1.0 + sign * bp / 1e4) if bp > 0 else price
            trade = f"{self.name}-t{next(self._trades)}"
            report = Report("fill", self.name, coid, order_id, part, fill_price, done, trade)
            self._push(now + delay, report)
        if plan.rests:
            with self._cv:
                self._resting[coid] = (order_id, plan.cancel_delay)

    def _push(self, due: float, report: Report) -> None:
        with self._cv:
            heapq.heappush(self._queue, (due, next(self._order), report))
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._queue or self._queue[0][0] > self._clock()):
                    wait = self._queue[0][0] - self._clock() if self._queue else None
                    self._cv.wait(wait)
                if self._stopped:
                    return
                _, _, report = heapq.heappop(self._queue)
                self._cv.notify_all()
            with contextlib.suppress(Exception):  # a handler bug must not stop the stream
                self._on_report(report)
