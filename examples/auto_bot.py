"""An undecorated trading bot: ccxt against a local fake venue, no tradetel in its code.

    tradetel-run python examples/auto_bot.py
    opentelemetry-instrument python examples/auto_bot.py

Either way it produces strategy spans (declared in ``examples/tradetel.toml``), ``exchange``
and ``order`` spans from the ccxt instrumentation, the order metrics and logs carrying trace
ids - in ``.tradetel/`` by default, or wherever the ``OTEL_*``/``TRADETEL_*`` variables say.
Run plainly (``python examples/auto_bot.py``) it trades the same and records nothing.
"""

from __future__ import annotations

import argparse
import logging
import math
import random

import ccxt
from autobot.execution import Executor
from autobot.strategy import Momentum
from fake_venue import FakeVenue, binance_config

logger = logging.getLogger("autobot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    rng = random.Random(args.seed)

    with FakeVenue(latency=0.002) as venue:
        exchange = ccxt.binance(binance_config(venue.url))
        exchange.load_markets()
        executor = Executor(exchange)
        strategy = Momentum(executor)
        for tick in range(args.ticks):
            venue.price *= math.exp(rng.gauss(0.0, 0.002) + 0.002 * math.sin(tick / 6))
            strategy.on_tick(venue.price)
        venue.fail_next(429)  # the venue pushes back once
        executor.market("BTC/USDT", "sell", 0.01)
        resting = executor.rest("BTC/USDT", "buy", 0.01, round(venue.price * 0.9, 2))
        executor.cancel(resting)
        try:  # far more than the account holds: the venue refuses it
            exchange.create_order("BTC/USDT", "market", "buy", 100.0)
        except ccxt.InsufficientFunds as exc:
            logger.warning("refused as expected: %s", exc)
        balance = exchange.fetch_balance()
        logger.info("done: %.4f BTC, %.2f USDT", balance["BTC"]["free"], balance["USDT"]["free"])


if __name__ == "__main__":
    main()
