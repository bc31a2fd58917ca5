"""An event-driven order flow: submits over REST, execution reports from a websocket.

    python examples/order_lifecycle.py [--data-dir DIR]

A simulated venue acknowledges orders after a few milliseconds and then streams their
execution reports on a queue, the way an exchange's user-data websocket does: partial fills,
a fill reported twice, an ack that arrives after the first fill, a cancel, a reject. The bot
feeds each report to ``tradetel.orders`` and never waits for an order to finish. At the end
the script reads the metrics tradetel wrote (OTLP/JSON lines, by default to a temporary
folder) and prints the order latency by stage, the events by status, fill ratios, slippage
and what the tracker counted as irregular.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tradetel
from tradetel import orders
from tradetel import semconv as sc
from tradetel.exporters._otlpjson import read_file

VENUE = "simex"


@dataclass
class Report:
    """One message of the venue's execution-report stream."""

    kind: str  # ack, fill, canceled, rejected
    client_order_id: str
    order_id: str | None = None
    quantity: float = 0.0
    price: float = 0.0
    cumulative: float = 0.0
    trade_id: str | None = None
    reason: str | None = None


class SimVenue:
    """A venue: REST submit and cancel, and a stream of execution reports."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.reports: asyncio.Queue[Report] = asyncio.Queue()
        self.ids = itertools.count(1000)
        self.trades = itertools.count(1)
        self.mid = 100.0

    async def submit(self, coid: str, side: str, quantity: float, script: str) -> str:
        """Accept an order; ``script`` decides how the simulated market treats it."""
        await asyncio.sleep(self.rng.uniform(0.001, 0.004))  # the REST round trip
        order_id = f"v-{next(self.ids)}"
        asyncio.get_running_loop().create_task(self._play(coid, order_id, side, quantity, script))
        return order_id

    async def cancel(self, coid: str) -> None:
        await asyncio.sleep(self.rng.uniform(0.001, 0.003))
        await asyncio.sleep(0.01)  # the venue confirms on the stream, a little later
        await self.reports.put(Report("canceled", coid))

    async def _play(self, coid: str, order_id: str, side: str, quantity: float, how: str) -> None:
        put, wait = self.reports.put, asyncio.sleep
        sign = 1 if side == "buy" else -1
        if how == "reject":
            await wait(0.003)
            await put(Report("rejected", coid, reason="Account has insufficient balance"))
            return
        if how == "fill_before_ack":  # the ack is overtaken by the first fill on the stream
            await wait(0.004)
            await put(self._fill(coid, order_id, quantity / 2, quantity / 2, sign))
            await put(Report("ack", coid, order_id))
            await wait(0.01)
            await put(self._fill(coid, order_id, quantity / 2, quantity, sign))
            return
        await wait(self.rng.uniform(0.002, 0.006))
        await put(Report("ack", coid, order_id))
        if how == "rest":  # a passive order: one partial fill, then it rests on the book
            await wait(0.02)
            await put(self._fill(coid, order_id, quantity * 0.3, quantity * 0.3, sign))
            return
        done = 0.0
        for part in (0.25, 0.25, 0.5):  # fills in three parts, the second reported twice
            await wait(self.rng.uniform(0.005, 0.02))
            done += quantity * part
            report = self._fill(coid, order_id, quantity * part, done, sign)
            await put(report)
            if part == 0.25 and done > quantity * 0.4:
                await put(report)  # a websocket reconnect replays the last message

    def _fill(self, coid: str, order_id: str, qty: float, cumulative: float, sign: int) -> Report:
        price = round(self.mid + sign * self.rng.uniform(0.0, 0.08), 2)  # pay up a little
        return Report("fill", coid, order_id, qty, price, cumulative, f"t-{next(self.trades)}")


class Bot:
    """Sends a handful of orders, then follows them through the report stream only."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.ids = itertools.count(1)

    @tradetel.order(VENUE, order_type="limit")
    async def place(self, side: str, quantity: float, script: str) -> str:
        coid = f"bot-{next(self.ids)}"
        tradetel.orders.submitted(
            coid, venue=VENUE, symbol="BTC/USDT", side=side, order_type="limit",
            quantity=quantity, price=self.venue.mid, arrival_price=self.venue.mid,
            strategy="example",
        )  # fmt: skip
        await self.venue.submit(coid, side, quantity, script)
        return coid

    async def listen(self) -> None:
        """The websocket handler: every report goes to the tracker as it comes."""
        while True:
            r = await self.venue.reports.get()
            if r.kind == "ack":
                orders.acked(r.client_order_id, order_id=r.order_id)
            elif r.kind == "fill":
                orders.filled(
                    r.client_order_id, r.quantity, r.price,
                    exec_id=r.trade_id, cumulative_quantity=r.cumulative,
                )  # fmt: skip
            elif r.kind == "canceled":
                orders.canceled(r.client_order_id)
            elif r.kind == "rejected":
                orders.rejected(r.client_order_id, reason=r.reason)
            self.venue.reports.task_done()


async def trade(seed: int) -> None:
    venue = SimVenue(seed)
    bot = Bot(venue)
    listener = asyncio.create_task(bot.listen())
    for side, script in (("buy", "fill"), ("sell", "fill"), ("buy", "fill_before_ack")):
        with tradetel.tick_to_trade.received():  # the tick that made the bot decide
            await bot.place(side, 2.0, script)
    resting = await bot.place("buy", 1.0, "rest")
    await bot.place("buy", 50.0, "reject")
    await asyncio.sleep(0.1)  # the reports stream in meanwhile
    tradetel.orders.cancel_requested(resting)
    await venue.cancel(resting)
    await asyncio.sleep(0.05)
    await venue.reports.join()
    listener.cancel()


def summarize(data_dir: Path) -> None:
    requests, malformed = read_file(data_dir / "metrics.jsonl", "metrics")
    last: dict[str, dict[tuple[Any, ...], Any]] = defaultdict(dict)
    for request in requests:  # cumulative points: the last one of each series is the total
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    for point in getattr(metric, kind).data_points:
                        labels = {a.key: a.value.string_value for a in point.attributes}
                        last[metric.name][tuple(sorted(labels.items()))] = (labels, point)

    print("order latency by stage              count     mean")
    for labels, point in sorted(last[sc.ORDER_LATENCY].values(), key=lambda lp: str(lp[0])):
        mean_ms = point.sum / point.count * 1000
        print(f"  {labels[sc.ORDER_STAGE]:<32}{point.count:>6}  {mean_ms:6.1f} ms")
    print("order events by status")
    by_status: dict[str, int] = defaultdict(int)
    for labels, point in last[sc.ORDER_EVENTS].values():
        status = labels[sc.ORDER_STATUS]
        reason = labels.get(sc.REJECT_REASON)
        by_status[f"{status} ({reason})" if reason else status] += int(point.as_int)
    for status, count in sorted(by_status.items()):
        print(f"  {status:<32}{count:>6}")
    for _, point in last[sc.ORDER_FILL_RATIO].values():
        print(f"fill ratio: {point.count} orders ended, mean {point.sum / point.count:.2f}")
    for labels, point in last[sc.ORDER_SLIPPAGE].values():
        mean = point.sum / point.count
        print(f"slippage of {labels[sc.SIDE]}s: {point.count} orders, mean {mean:+.2f} bp")
    for _, point in last[sc.TICK_TO_TRADE_LATENCY].values():
        mean_ms = point.sum / point.count * 1000
        print(f"tick to trade: {point.count} orders, mean {mean_ms:.2f} ms")
    anomalies = {
        labels[sc.ANOMALY]: int(point.as_int) for labels, point in last[sc.ORDER_ANOMALIES].values()
    }
    print(f"irregular reports counted: {anomalies or 'none'}")
    if malformed:
        print(f"({malformed} malformed lines skipped)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="where to write (default: a temporary dir)")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp)
        tradetel.configure(
            service_name="order-lifecycle", mode="paper", exporter="file", data_dir=data_dir
        )
        asyncio.run(trade(args.seed))
        tradetel.shutdown()
        summarize(data_dir)


if __name__ == "__main__":
    main()
