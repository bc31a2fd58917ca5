"""The ``tradetel`` command line."""

from __future__ import annotations

import click

from .._version import __version__

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tradetel")
def cli() -> None:
    """tradetel: OpenTelemetry for trading systems."""


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(command: tuple[str, ...]) -> None:
    """Run COMMAND with tradetel set up before its main: tradetel run -- python bot.py

    The same as tradetel-run: see docs/auto-instrumentation.md.
    """
    from ..auto._launcher import launch

    raise SystemExit(launch(command, prog="tradetel run"))


def _add_commands() -> None:
    from ._alerts import alerts
    from ._demo import demo
    from ._replay import replay
    from ._report import report

    for command in (alerts, demo, replay, report):
        cli.add_command(command)


_add_commands()


def main() -> None:
    """The ``tradetel`` console script."""
    cli()
