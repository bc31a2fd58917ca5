"""``tradetel demo``: a simulated trading bot, its telemetry, its alerts and its report.

The bot (:mod:`._strategy`) is written the way users write theirs; the venues
(:mod:`._venue`) and the market (:mod:`._market`) are simulated, seeded and scripted so that
the shipped alert rules have something to show in thirty seconds.
"""

from __future__ import annotations

from ._run import VENUES, DemoOptions, run_demo
from ._strategy import STRATEGIES

__all__ = ["STRATEGIES", "VENUES", "DemoOptions", "run_demo"]
