"""The demo's live progress: a panel redrawn in place on a terminal, plain lines elsewhere.

On a terminal, ``rich`` redraws a small panel four times a second and alert events print above
it. When the output is not a terminal (a CI log, a pipe), it prints one plain line every five
seconds and one per alert event, with no control characters.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ._strategy import Stats

__all__ = ["Progress"]

_PLAIN_EVERY = 5.0


class Progress:
    """Shows ``stats`` and the alerts while the demo runs; a context manager."""

    def __init__(self, console: Console, stats: Stats, duration: float) -> None:
        self.console = console
        self.stats = stats
        self.duration = duration
        self.firing: dict[str, str] = {}  # fingerprint -> short text
        self.fired = self.resolved = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._next_plain = _PLAIN_EVERY
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        if self.console.is_terminal:
            self._live = Live(
                self._panel(), console=self.console, refresh_per_second=4, transient=True
            )
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, exc, tb)
            self._live = None
        self._print(self._line())

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def update(self) -> None:
        """Called from the demo loop: redraw, or print a plain line when one is due."""
        if self._live is not None:
            self._live.update(self._panel())
        elif self.elapsed() >= self._next_plain:
            self._next_plain += _PLAIN_EVERY
            self._print(self._line())

    def alert(self, event: str, fingerprint: str, name: str, text: str) -> None:
        """An alert fired or resolved (from the alert handler's thread); ``text`` says which."""
        with self._lock:
            if event == "firing":
                self.fired += 1
                self.firing[fingerprint] = name
            else:
                self.resolved += 1
                self.firing.pop(fingerprint, None)
        mark = "FIRING  " if event == "firing" else "resolved"
        self._print(f"[{self.elapsed():4.0f}s] alert {mark} {name}: {text}")

    def _print(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def _figures(self) -> tuple[str, str]:
        c = self.stats.counts
        counts = (
            f"orders {c['orders']}  fills {c['fills']}  rejects {c['rejects']}  "
            f"cancels {c['cancels']}"
        )
        p99 = self.stats.p99()
        latency = ", ".join(f"{v} {_ms(x)}" for v, x in sorted(p99.items())) or "-"
        return counts, f"p99 ack (10 s) {latency}"

    def _alerts(self) -> str:
        with self._lock:
            names = sorted(set(self.firing.values()))
            fired, resolved = self.fired, self.resolved
        now = ", ".join(names) if names else "none firing"
        return f"alerts {now} (fired {fired}, resolved {resolved})"

    def _line(self) -> str:
        counts, latency = self._figures()
        elapsed = min(self.elapsed(), self.duration)
        return f"[{elapsed:4.0f}s] {counts} | {latency} | {self._alerts()}"

    def _panel(self) -> Group:
        counts, latency = self._figures()
        elapsed = min(self.elapsed(), self.duration)
        table = Table.grid(padding=(0, 2))
        table.add_row(
            Text("tradetel demo", style="bold"), Text(f"{elapsed:.0f} s of {self.duration:.0f} s")
        )
        table.add_row("", ProgressBar(total=self.duration, completed=elapsed, width=40))
        table.add_row("", counts)
        table.add_row("", latency)
        table.add_row("", Text(self._alerts(), style="red" if self.firing else "green"))
        return Group(table)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
