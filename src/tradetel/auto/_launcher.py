"""``tradetel-run`` and ``tradetel run --``: run a program with tradetel set up before its main.

The launcher changes the environment and replaces itself with the program (``exec``), the way
``opentelemetry-instrument`` and ``ddtrace-run`` do: the ``_bootstrap`` folder goes first on
``PYTHONPATH``, so every Python process started with this environment - the program and its
subprocesses - imports tradetel's ``sitecustomize`` at start-up. With ``TRADETEL_DISABLED=1``
the program runs with the environment untouched.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence

from .. import _config
from .._decorators import disabled
from .._errors import ConfigError
from .._version import __version__

BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap")

USAGE = """\
usage: tradetel-run [--] COMMAND [ARGS...]

Run COMMAND (e.g. `python bot.py`) with tradetel set up from the environment before the
program starts: traces, metrics and logs, the exchange clients and the functions declared in
TRADETEL_INSTRUMENT or [tool.tradetel] instrumented, without a code change.
See docs/auto-instrumentation.md. TRADETEL_DISABLED=1 runs COMMAND untouched.
"""


def environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment that the program runs with under the launcher."""
    env = dict(environ)
    path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != BOOTSTRAP]
    env["PYTHONPATH"] = os.pathsep.join([BOOTSTRAP, *path])
    env["OTEL_PYTHON_DISTRO"] = "tradetel"
    env["OTEL_PYTHON_CONFIGURATOR"] = "tradetel"
    env["TRADETEL_RUN_ID"] = env.get("TRADETEL_RUN_ID") or _config.run_id()  # children share it
    return env


def _script(command: Sequence[str]) -> str:
    """The program's main script, as its ``sys.argv[0]`` will be (for finding its config)."""
    for arg in command[1:]:
        if arg.endswith(".py") and os.path.isfile(arg):
            return arg
    return ""


def check_declarations(command: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The error in the program's TRADETEL_INSTRUMENT or [tool.tradetel], if any."""
    from ._declarations import load_declarations

    try:
        load_declarations(environ=environ, argv=[_script(command)])
    except ConfigError as exc:
        return str(exc)
    return None


def launch(command: Sequence[str], prog: str = "tradetel-run") -> int:
    """Replace this process with ``command`` under tradetel; a status when that fails."""
    if not command:
        sys.stderr.write(USAGE)
        return 2
    env = dict(os.environ) if disabled() else environment(os.environ)
    if not disabled():
        error = check_declarations(command, env)
        if error is not None:
            sys.stderr.write(f"{prog}: error: {error}\n")
            return 2
    executable = shutil.which(command[0], path=env.get("PATH"))
    if executable is None:
        sys.stderr.write(f"{prog}: error: command not found: {command[0]}\n")
        return 127
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(executable, list(command), env)
    except OSError as exc:
        sys.stderr.write(f"{prog}: error: cannot run {command[0]}: {exc.strerror}\n")
        return 126


def main(argv: Sequence[str] | None = None) -> int:
    """The ``tradetel-run`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    if args and args[0] == "--version":
        sys.stdout.write(f"tradetel-run {__version__}\n")
        return 0
    if args and args[0] == "--":
        args = args[1:]
    return launch(args)
