"""``tradetel demo``: the bot against simulated venues, the embedded evaluator, then the report.

Telemetry goes where a user's would with nothing installed: OTLP/JSON files in the data folder
(and to ``--endpoint`` as well when given), with the embedded alert evaluator running the
shipped rules, time-compressed (:mod:`._rules`). At the end the demo reads its own files back
and prints the report of this run, as ``tradetel report`` would.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console

import tradetel

from .._scrub import shown_endpoint
from ._display import Progress
from ._rules import SPEEDUP, write_demo_rules
from ._strategy import Bot

__all__ = ["VENUES", "DemoOptions", "run_demo"]

VENUES = ("alpha", "beta", "gamma", "delta")
TICK = 0.1  # seconds between two steps of each strategy
_GENERIC_LABELS = {"alertname", "severity", "job", "instance"}


@dataclass
class DemoOptions:
    duration: float = 30.0
    seed: int = 1
    data_dir: Path = field(default_factory=lambda: Path(".tradetel"))
    strategies: int = 2
    venues: int = 2
    endpoint: str | None = None
    report: bool = True


def run_demo(options: DemoOptions, console: Console) -> int:
    """Run the demo, showing progress on ``console``, then print the report of the run.

    Returns the exit status: 0, or 130 when Ctrl-C ended the trading early (the report of
    what ran is printed all the same).
    """
    data_dir = options.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    # Each run tells its own story: alerts of an earlier run are neither restored into this
    # one nor in its history (a run stopped while an alert fired left no "resolved" there).
    for name in ("alerts-state.db", "alerts-history.db"):
        (data_dir / name).unlink(missing_ok=True)
    rules = write_demo_rules(data_dir)
    ticks = max(int(options.duration / TICK), 1)
    venues = VENUES[: options.venues]
    bot = Bot(venues, options.strategies, seed=options.seed, ticks=ticks)
    names = ", ".join(s.name for s in bot.strategies)
    where = f"{data_dir}/" + (
        f" and {shown_endpoint(options.endpoint)}" if options.endpoint else ""
    )
    console.print(
        f"tradetel demo: {len(bot.strategies)} strategies ({names}) on {len(venues)} simulated "
        f"venues ({', '.join(venues)}) for {options.duration:g} s, seed {options.seed}.\n"
        f"Telemetry to {where}; alerts: the shipped rules, {SPEEDUP}x faster ({rules}).",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    progress = Progress(console, bot.stats, options.duration)

    def on_alert(alert: tradetel.alerts.Alert) -> None:
        if alert.state == "firing":
            progress.alert("firing", alert.fingerprint, alert.name, alert.annotations["summary"])
        else:  # the annotations are still those of the last evaluation that fired
            which = {k: v for k, v in alert.labels.items() if k not in _GENERIC_LABELS}
            text = ", ".join(f"{k}={v}" for k, v in sorted(which.items()))
            progress.alert("resolved", alert.fingerprint, alert.name, text)

    from ..alerts.notify import remove_handler

    started = time.time()
    tradetel.alerts.on_alert(on_alert)  # before configure(): the evaluator takes them then
    try:
        with _log_to_file(data_dir):
            with _endpoint(options.endpoint):
                tradetel.configure(
                    service_name="tradetel-demo",
                    mode="paper",
                    exporter=["file", "otlp"] if options.endpoint else "file",
                    # absolute: configure() reads a bare ".tradetel" as "the default, unless
                    # TRADETEL_DATA_DIR says otherwise", and the demo has decided already
                    data_dir=data_dir.resolve(),
                    metrics_interval=5.0,
                    alert_rules=rules,
                )
            try:
                tradetel.health.register("market_data", lambda: True, interval=1.0)
                with progress:
                    interrupted = _trade(bot, ticks, progress)
            finally:
                tradetel.health.unregister("market_data")
                tradetel.shutdown()
    finally:
        remove_handler(on_alert)
    if options.report:
        from ..report import build_report, render

        console.print()
        render(build_report([data_dir], data_dir=data_dir, since=started), console)
    since = datetime.fromtimestamp(started, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    console.print(
        f"\nRead it again:          tradetel report --data-dir {data_dir} --since {since}"
        f"\nSend it to a collector: tradetel replay --data-dir {data_dir} --endpoint URL",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return 130 if interrupted else 0


def _trade(bot: Bot, ticks: int, progress: Progress) -> bool:
    """The strategies' loop, one step per tick on schedule; Ctrl-C ends it early (True)."""
    for venue in bot.venues.values():
        venue.start()
    start = time.monotonic()
    try:
        for tick in range(ticks):
            delay = start + tick * TICK - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            bot.stats.tick = tick
            for strategy in bot.strategies:
                with tradetel.tick_to_trade.received():  # the tick that the step reacts to
                    strategy.on_tick(tick)
            progress.update()
    except KeyboardInterrupt:
        progress.console.print("interrupted: winding down", markup=False)
        return True
    finally:
        for strategy in bot.strategies:  # nothing stays on the book after the run
            while strategy.resting:
                _, coid, name = strategy.resting.popleft()
                if bot.is_open(coid):
                    bot.cancel_order(name, coid)
        for venue in bot.venues.values():
            venue.stop(drain=2.0)
    return False


@contextlib.contextmanager
def _log_to_file(data_dir: Path) -> Iterator[None]:
    """The bot's records, and the alert log channel's, go to ``demo.log``, not the screen.

    The bot's records reach the logs file through tradetel as well; the display shows the
    alerts.
    """
    handler = logging.FileHandler(data_dir / "demo.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    loggers = [logging.getLogger(name) for name in ("demo", "tradetel.alerts")]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        handler.close()


@contextlib.contextmanager
def _endpoint(endpoint: str | None) -> Iterator[None]:
    """``--endpoint``: the OTLP exporters read OTEL_EXPORTER_OTLP_ENDPOINT when configured."""
    if endpoint is None:
        yield
        return
    before = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    try:
        yield
    finally:
        if before is None:
            del os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
        else:
            os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = before
