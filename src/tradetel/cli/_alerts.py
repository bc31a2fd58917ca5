"""``tradetel alerts``: check and test rule files, serve the evaluator, read the history."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

__all__ = ["alerts"]


@click.group()
def alerts() -> None:
    """Alert rules: check, test, serve, history (see docs/alerts.md)."""


@alerts.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check(files: tuple[str, ...]) -> None:
    """Validate rule files: YAML, keys, durations, templates, and PromQL against the subset."""
    from .._errors import RuleError
    from ..alerts._rules import load_rules

    failed = False
    for file in files:
        try:
            groups = load_rules(file)
        except RuleError as exc:
            click.echo(f"FAILED: {exc}", err=True)
            failed = True
            continue
        count = sum(len(g.rules) for g in groups)
        click.echo(f"SUCCESS: {file}: {len(groups)} groups, {count} rules found")
    sys.exit(1 if failed else 0)


@alerts.command(name="test")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def test_(files: tuple[str, ...]) -> None:
    """Run promtool-format rule unit tests (rule_files, input_series, alert_rule_test, ...)."""
    from ..alerts._promtest import run_test_file

    failed = False
    for file in files:
        click.echo(f"Unit Testing:  {file}")
        result = run_test_file(file)
        if result.ok:
            click.echo("  SUCCESS\n")
            continue
        failed = True
        click.echo("  FAILED:")
        for failure in result.failures:
            click.echo("    " + failure.replace("\n", "\n    "))
        click.echo()
    sys.exit(1 if failed else 0)


@alerts.command()
@click.option(
    "--rules", "rules", multiple=True, required=True, help="Rule file (or glob); repeatable."
)
@click.option(
    "--notify", type=click.Path(dir_okay=False), help="Notification channels and routes (YAML)."
)
@click.option(
    "--listen",
    default="127.0.0.1:9095",
    show_default=True,
    help="HOST:PORT for OTLP/HTTP and the API.",
)
@click.option("--grpc-listen", default=None, help="HOST:PORT for OTLP/gRPC (off unless given).")
@click.option(
    "--data-dir",
    default=".tradetel",
    show_default=True,
    help="Where alert state and history are kept.",
)
@click.option(
    "--interval",
    default="15s",
    show_default=True,
    help="Evaluation interval of groups that set none.",
)
@click.option(
    "--token-env", default=None, help="Require this environment variable's value as a bearer token."
)
@click.option(
    "--token-file",
    default=None,
    type=click.Path(dir_okay=False),
    help="Require the token in this file.",
)
@click.option(
    "--max-body", default="8MiB", show_default=True, help="Largest OTLP request accepted."
)
@click.option("--external-url", default="", help="This service's URL, for alerts' generator links.")
@click.option(
    "--promote-resource-attribute",
    "promote",
    multiple=True,
    help="Resource attribute to put on every series.",
)
@click.option(
    "--delta", type=click.Choice(["convert", "refuse"]), default="convert", show_default=True
)
def serve(
    rules: tuple[str, ...],
    notify: str | None,
    listen: str,
    grpc_listen: str | None,
    data_dir: str,
    interval: str,
    token_env: str | None,
    token_file: str | None,
    max_body: str,
    external_url: str,
    promote: tuple[str, ...],
    delta: str,
) -> None:
    """Evaluate rules over OTLP metrics (POST /v1/metrics); serve the alerts and rules API."""
    from .._errors import TradetelError
    from ..alerts._service import serve as run

    try:
        token = _token(token_env, token_file)
        run(
            rules=list(rules),
            notify=notify,
            listen=listen,
            grpc_listen=grpc_listen,
            data_dir=data_dir,
            interval=interval,
            token=token,
            max_body_bytes=_size(max_body),
            external_url=external_url,
            promote_resource_attributes=list(promote),
            delta=delta,
        )
    except TradetelError as exc:
        click.echo(f"tradetel alerts serve: {exc}", err=True)
        sys.exit(2)


@alerts.command()
@click.option(
    "--since", default="24h", show_default=True, help="How far back: a duration like 30m, 24h, 7d."
)
@click.option("--severity", default=None, help="Only this severity.")
@click.option("--alertname", default=None, help="Only this alert.")
@click.option(
    "--db",
    default=None,
    type=click.Path(dir_okay=False),
    help="History file [default: .tradetel/alerts-history.db].",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def history(
    since: str, severity: str | None, alertname: str | None, db: str | None, fmt: str
) -> None:
    """Alert state changes (pending, firing, resolved) from the SQLite history."""
    from .._errors import TradetelError
    from ..alerts._rules import parse_duration
    from ..alerts.notify import History, format_history

    path = Path(
        db or Path(os.environ.get("TRADETEL_DATA_DIR") or ".tradetel") / "alerts-history.db"
    )
    if not path.exists():
        click.echo(f"tradetel alerts history: no history at {path} (use --db)", err=True)
        sys.exit(2)
    try:
        window = parse_duration(since) / 1000
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    try:
        store = History(path)
        try:
            entries = store.query(
                since=time.time() - window, severity=severity, alertname=alertname
            )
        finally:
            store.close()
    except TradetelError as exc:
        click.echo(f"tradetel alerts history: {exc}", err=True)
        sys.exit(2)
    click.echo(format_history(entries, fmt=fmt))


def _token(env: str | None, file: str | None) -> str | None:
    from .._errors import ConfigError

    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigError(f"--token-env {env}: the variable is not set")
        return value
    if file:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--token-file {file}: cannot be read ({exc.strerror})") from None
        if not value:
            raise ConfigError(f"--token-file {file}: the file is empty")
        return value
    return None


def _size(text: str) -> int:
    units = {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "b": 1}
    lowered = text.strip().lower()
    for suffix, factor in units.items():
        if lowered.endswith(suffix) and lowered[: -len(suffix)].strip().isdigit():
            return int(lowered[: -len(suffix)]) * factor
    if lowered.isdigit():
        return int(lowered)
    raise click.BadParameter(
        f"{text!r} is not a size like 8MiB or 1000000", param_hint="--max-body"
    )
