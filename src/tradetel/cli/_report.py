"""``tradetel report``: order latency, slowest orders and more, from a run's telemetry files.

Only click is imported at module level: ``tradetel run`` imports the CLI, and rich and the
report package are needed only when the command runs.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import click
from click.core import ParameterSource

__all__ = ["parse_time", "report"]

_DEFAULT_DIR = ".tradetel"
_TRACE_ID = re.compile(r"[0-9a-fA-F]{1,32}")
_TIME_HELP = "ISO 8601 (2026-11-21T10:00:00Z; UTC if no offset) or a duration ago (10m, 2h, 30s)."


def parse_time(text: str, now: float) -> float:
    """``--since``/``--until``: unix seconds of an ISO 8601 time or of a duration before now.

    Raises ValueError naming the text.
    """
    from ..alerts._duration import parse_duration

    value = text.strip()
    try:
        return now - parse_duration(value) / 1000
    except ValueError:
        pass
    # Python 3.10's fromisoformat takes no "Z"
    iso = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO 8601 time (2026-11-21T10:00:00Z) "
            "nor a duration (10m, 2h, 30s)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TRADETEL_DATA_DIR",
    default=_DEFAULT_DIR,
    show_default=True,
    help="Data folder: read when no PATH is given, and where alerts-history.db is "
    "[env TRADETEL_DATA_DIR; with PATHs and neither, the first PATH's folder].",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--trace", "trace_id", metavar="ID", help="Print only this trace's waterfall.")
@click.option("--service", "services", multiple=True, metavar="NAME", help="Only this service.")
@click.option("--venue", "venues", multiple=True, metavar="NAME", help="Only this venue.")
@click.option("--since", metavar="TIME", help="Start of the window: " + _TIME_HELP)
@click.option("--until", metavar="TIME", help="End of the window: " + _TIME_HELP)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="How many of the slowest orders to show.",
)
@click.pass_context
def report(
    ctx: click.Context,
    paths: tuple[Path, ...],
    data_dir: Path,
    fmt: str,
    trace_id: str | None,
    services: tuple[str, ...],
    venues: tuple[str, ...],
    since: str | None,
    until: str | None,
    top: int,
) -> None:
    """Order latency by venue and stage, the slowest orders as waterfalls, rejects, fills,
    slippage, alerts and strategy figures, from telemetry files.

    PATH: OTLP/JSON files (tradetel's or a Collector file exporter's, one request per line)
    or folders of *.jsonl files [default: the data folder]. Malformed lines are skipped and
    counted in the header.
    """
    now = time.time()
    window = [_time(value, name, now) for value, name in ((since, "--since"), (until, "--until"))]
    start, end = window
    if start is not None and end is not None and start > end:
        raise click.BadParameter(f"{since!r} is after --until {until!r}", param_hint="--since")
    sources = list(paths) or [data_dir]
    if paths and ctx.get_parameter_source("data_dir") is ParameterSource.DEFAULT:
        # the alert history of those files, not of whatever .tradetel the shell is in
        first = paths[0]
        data_dir = first if first.is_dir() else first.parent

    from .. import report as reports
    from ._console import make_console

    console = make_console()
    try:
        if trace_id is not None:
            if not _TRACE_ID.fullmatch(trace_id.strip()):
                raise click.BadParameter(
                    f"{trace_id!r} is not a trace id (up to 32 hex digits)", param_hint="--trace"
                )
            found = reports.build_trace(sources, trace_id, services=services)
            if fmt == "json":
                click.echo(json.dumps(reports.waterfall_json(found), indent=2, allow_nan=False))
            else:
                reports.render_trace(found, console)
            return
        result = reports.build_report(
            sources, data_dir=data_dir, services=services, venues=venues,
            since=start, until=end, top=top,
        )  # fmt: skip
    except reports.TraceNotFound as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # FileNotFoundError names the source and what is wrong with it
        hint = "" if paths else "; give the files or folders to read, or --data-dir"
        raise click.ClickException(f"nothing to report: {exc}{hint}") from None
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2, allow_nan=False))
    else:
        reports.render(result, console)


def _time(value: str | None, option: str, now: float) -> float | None:
    if value is None:
        return None
    try:
        return parse_time(value, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
