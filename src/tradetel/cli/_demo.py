"""``tradetel demo``: see :mod:`tradetel.demo`."""

from __future__ import annotations

import os
from pathlib import Path

import click

# Mirrors of tradetel.demo's limits; that package is imported only when the command runs.
_MAX_STRATEGIES, _MAX_VENUES = 3, 4


@click.command()
@click.option(
    "--duration", type=click.FloatRange(min=1.0), default=30.0, show_default=True,
    help="Seconds to trade.",
)  # fmt: skip
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same orders.")
@click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where the telemetry files go (default: TRADETEL_DATA_DIR or .tradetel).",
)  # fmt: skip
@click.option(
    "--strategies", type=click.IntRange(1, _MAX_STRATEGIES), default=2, show_default=True,
    help="How many strategies trade (dip_buyer, momentum, mean_reversion).",
)  # fmt: skip
@click.option(
    "--venues", type=click.IntRange(1, _MAX_VENUES), default=2, show_default=True,
    help="How many simulated venues they trade on.",
)  # fmt: skip
@click.option(
    "--endpoint", metavar="URL", default=None,
    help="Also send the telemetry to this OTLP endpoint (a collector), e.g. http://localhost:4318.",
)  # fmt: skip
@click.option("--no-report", is_flag=True, help="Do not print the report at the end.")
def demo(
    duration: float,
    seed: int,
    data_dir: Path | None,
    strategies: int,
    venues: int,
    endpoint: str | None,
    no_report: bool,
) -> None:
    """Trade against simulated venues with tradetel on, then print the report.

    Telemetry goes to local OTLP/JSON files; the embedded alert evaluator runs the shipped
    trading rules, 15x faster, so that half a minute shows the drawdown alert fire and resolve
    and the venue latency alert fire.
    """
    from ..demo import DemoOptions, run_demo
    from ._console import make_console

    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        from .._scrub import shown_endpoint

        raise click.BadParameter(
            f"{shown_endpoint(endpoint)!r} is not an http(s) URL", param_hint="--endpoint"
        )
    folder = data_dir or Path(os.environ.get("TRADETEL_DATA_DIR") or ".tradetel")
    options = DemoOptions(
        duration=duration, seed=seed, data_dir=folder, strategies=strategies, venues=venues,
        endpoint=endpoint, report=not no_report,
    )  # fmt: skip
    raise SystemExit(run_demo(options, make_console()))
