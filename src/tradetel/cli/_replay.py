"""``tradetel replay``: send recorded telemetry files to an OTLP endpoint.

Only click is imported at module level: ``tradetel run`` imports this module on its way to
launching a program, and protobuf, grpcio and rich are loaded by the command itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..exporters._recorded import RecordedLine
    from ..replay import Replay

__all__ = ["replay"]

_SIGNALS = ("traces", "metrics", "logs")
_PROTOCOLS = ("http/protobuf", "http/json", "grpc")
# Where a ConfigError's message starts -> the option to blame in the usage error.
_OPTIONS = {"endpoint": "--endpoint", "protocol": "--protocol", "headers": "--header"}


@click.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...", type=click.Path(path_type=str))
@click.option(
    "--data-dir",
    envvar="TRADETEL_DATA_DIR",
    default=".tradetel",
    show_default=True,
    help="Folder replayed when no PATH is given (env: TRADETEL_DATA_DIR).",
)
@click.option(
    "--endpoint",
    metavar="URL",
    help="OTLP endpoint (env: OTEL_EXPORTER_OTLP_ENDPOINT) "
    "[default: http://localhost:4318, or :4317 for grpc]",
)
@click.option(
    "--protocol",
    type=click.Choice(_PROTOCOLS),
    help="OTLP protocol (env: OTEL_EXPORTER_OTLP_PROTOCOL) [default: http/protobuf]",
)
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="KEY=VALUE",
    help="Header sent with every request, e.g. an API key; repeatable. "
    "Added to those of OTEL_EXPORTER_OTLP_HEADERS. Values are never printed.",
)
@click.option(
    "--signal",
    "signals",
    multiple=True,
    type=click.Choice(_SIGNALS),
    help="Send only this signal; repeatable [default: all]",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for each request.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Retries of a request the endpoint is too busy for or cannot be reached for.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Plaintext gRPC to an endpoint given as HOST:PORT (http:// is plaintext already).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="Summary format.",
)
def replay(
    paths: tuple[str, ...],
    data_dir: str,
    endpoint: str | None,
    protocol: str | None,
    headers: tuple[str, ...],
    signals: tuple[str, ...],
    timeout: float,
    retries: int,
    insecure: bool,
    output: str,
) -> None:
    """Send recorded telemetry files (PATH: files or folders) to an OTLP endpoint.

    Trace and span ids, timestamps and resources are sent exactly as recorded, so a
    backtest recorded offline can be explored later in Grafana, Honeycomb or any OTLP
    backend. Exits 1 if anything was refused or could not be sent.

    \b
        tradetel replay --endpoint https://otlp.example.com --header "x-api-key=$KEY"
    """
    from .._errors import ConfigError
    from ..replay import Replay
    from ..replay._render import summary_json, summary_text

    try:
        job = Replay(
            paths or (data_dir,),
            endpoint=endpoint,
            protocol=protocol,
            headers=[_header(text) for text in headers],
            signals=signals or _SIGNALS,
            timeout=timeout,
            retries=retries,
            insecure=True if insecure else None,
        )
    except ConfigError as exc:
        where, _, rest = str(exc).partition(": ")
        if where in _OPTIONS:
            raise click.BadParameter(rest, param_hint=f"'{_OPTIONS[where]}'") from None
        raise click.UsageError(str(exc)) from None
    except FileNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="PATH" if paths else "'--data-dir'") from None

    render = summary_json if output == "json" else summary_text
    try:
        with _progress(job) as on_line:
            job.run(on_line)
    except KeyboardInterrupt:
        click.echo(render(job.summary))  # what was sent before still counts
        sys.exit(130)
    click.echo(render(job.summary))
    sys.exit(0 if job.summary.ok else 1)


def _header(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        # The text may be a bare API key: never echo it.
        raise click.BadParameter(
            "expected KEY=VALUE (the text given is not shown)", param_hint="'--header'"
        )
    return name.strip(), value.strip()


def _progress(job: Replay) -> AbstractContextManager[Callable[[RecordedLine], Any]]:
    """A line callback: a rich progress bar on a terminal, else a plain line per file."""
    if not sys.stderr.isatty():
        return nullcontext(_file_announcer())
    return _ProgressBar(job.recorded.paths)


def _file_announcer() -> Callable[[RecordedLine], None]:
    current: list[Path] = []

    def on_line(line: RecordedLine) -> None:
        if not current or current[0] != line.path:
            current[:] = [line.path]
            click.echo(f"replay: reading {line.path}", err=True)

    return on_line


class _ProgressBar:
    """Progress over the lines of all files, counted up front (cheap next to decoding)."""

    def __init__(self, paths: list[Path]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._offsets: dict[Path, int] = {}
        total = 0
        for path in paths:
            self._offsets[path] = total
            total += _count_lines(path)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("lines"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task("replay", total=total)

    def __enter__(self) -> Callable[[RecordedLine], None]:
        self._progress.start()
        return self._advance

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def _advance(self, line: RecordedLine) -> None:
        self._progress.update(
            self._task, completed=self._offsets[line.path] + line.line, description=line.path.name
        )


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    try:
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return 0  # reported when the replay reads it
    return count + (last != b"\n")
