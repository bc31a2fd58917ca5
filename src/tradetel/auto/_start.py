"""Start-up under a launcher: tradetel set up from the environment, once per process.

``tradetel-run`` (through its ``sitecustomize``) and ``opentelemetry-instrument`` (through the
``tradetel`` distro and configurator) both end here. A failure is logged and the program runs
uninstrumented; ``TRADETEL_DISABLED=1`` turns everything off.
"""

from __future__ import annotations

import logging
import os
import sys

from .._decorators import disabled
from .._scrub import describe

logger = logging.getLogger("tradetel")

#: ``idle`` (not started), ``running``, ``failed`` or ``disabled``
state = "idle"

FAILED = "tradetel: could not start, the program runs uninstrumented: %s"

#: Console scripts that only start another program: setting up telemetry in them is waste
#: (and would write files for a process that is about to be replaced).
LAUNCHERS = frozenset({"tradetel-run", "tradetel", "opentelemetry-instrument"})


def start() -> str:
    """Configure tradetel from the environment, once; return the resulting state."""
    global state
    if state != "idle":
        return state
    if disabled():
        state = "disabled"
        return state
    try:
        from .._setup import configure

        configure()
    except Exception as exc:
        state = "failed"
        logger.error(FAILED, describe(exc))
    else:
        state = "running"
    return state


def start_from_site(folder: str) -> None:
    """What the launcher's ``sitecustomize`` runs: OpenTelemetry's auto-instrumentation
    start-up, with tradetel's distro (set by the launcher) doing the configuring."""
    if disabled() or os.path.basename(sys.argv[0] if sys.argv else "") in LAUNCHERS:
        return
    python_path = os.environ.get("PYTHONPATH")
    # Subprocesses that an instrumentation starts while it loads must not start up again
    # (and again): the hook is off the path until start-up is over.
    if python_path is not None:
        rest = [p for p in python_path.split(os.pathsep) if p != folder]
        os.environ["PYTHONPATH"] = os.pathsep.join(rest)
    try:
        from opentelemetry.instrumentation.auto_instrumentation import initialize

        initialize()  # logs and swallows its own failures
    except Exception as exc:
        logger.error(FAILED, describe(exc))
    finally:
        if python_path is not None:
            os.environ["PYTHONPATH"] = python_path
