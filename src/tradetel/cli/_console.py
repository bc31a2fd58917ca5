"""The ``rich`` console of the commands that print tables: demo and report."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

#: columns when the output is not a terminal (a CI log, a pipe, a file): rich would use 80,
#: which wraps the report's tables; a log viewer scrolls sideways instead
PLAIN_WIDTH = 120


def make_console() -> Console:
    """Colours and redrawing on a terminal; plain text, no control characters, elsewhere."""
    from rich.console import Console

    console = Console(highlight=False, emoji=False)
    if not console.is_terminal and console.width < PLAIN_WIDTH:
        console.width = PLAIN_WIDTH
    return console
