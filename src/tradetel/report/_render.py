"""The report as text, through ``rich``: readable on a terminal, plain in a CI log.

Everything from the data (span names, status messages, labels) goes into ``Text`` objects,
never into markup strings, so a ``[`` in a venue's reject message cannot be read as rich
markup. Colour comes from styles, which rich drops when the console is not a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import semconv as sc
from ._alerts import labels_text
from ._format import Glyphs, clock, day, duration, number, percent
from ._model import CountRow, HistogramRow, Report, SlowOrder, Sources, StrategyRow, Waterfall
from ._tables import STATUSES

__all__ = ["render", "render_trace"]

_BAR_WIDTH = 16
_WATERFALL_ROWS = 40  # rows of each slow order's waterfall; render_trace shows them all
_QUANTILE_NOTE = (
    "p50/p90/p99: estimated from the buckets as Prometheus' histogram_quantile does (linear "
    "interpolation), so they match the dashboards and may exceed max; max is exact "
    "({le}: an upper bound)."
)
_LINK_NOTE = "{link} a linked span: an execution report, in its own trace, linked to the submit"


def render(report: Report, console: Console) -> None:
    """Print the whole report on ``console``."""
    g = Glyphs(console.encoding)
    with_day = _days(report.sources) > 1
    _header(console, report.sources, g)
    _heading(console, "Order latency by venue and stage", sc.ORDER_LATENCY)
    _histograms(console, report.latency, ("venue", "stage"), g, duration_unit=True)
    if report.latency:
        console.print(Text(_QUANTILE_NOTE.format(le=g.le), style="dim"))
    _heading(console, "Order calls, client side", sc.ORDER_DURATION)
    _histograms(console, report.order_calls, ("venue", "operation"), g, duration_unit=True)
    _slowest(console, report, g, with_day)
    _heading(console, "Rejects by reason", f'{sc.ORDER_EVENTS}{{status="rejected"}}')
    _counts(console, report.rejects, ("venue", "reason"))
    _heading(console, "Order events by status", sc.ORDER_EVENTS)
    _events(console, report)
    _heading(console, "Fill ratio of completed orders", sc.ORDER_FILL_RATIO)
    _fill_ratio(console, report.fill_ratio)
    _heading(console, "Slippage, basis points (positive is a cost)", sc.ORDER_SLIPPAGE)
    _histograms(console, report.slippage, ("venue", "side"), g, duration_unit=False)
    _alerts(console, report, g, with_day)
    _heading(console, "Strategy performance at the end", "trading.* gauges")
    _strategies(console, report.strategies)


def render_trace(waterfall: Waterfall, console: Console, *, max_rows: int | None = None) -> None:
    """Print one trace as a waterfall: its span tree and the spans linked to it."""
    g = Glyphs(console.encoding)
    title = Text(f"trace {waterfall.trace_id}", style="bold")
    title.append(
        f"  started {clock(waterfall.start, with_day=True)} UTC, {waterfall.span_count} span(s)",
        style="dim",
    )
    console.print(title)
    _waterfall(console, waterfall, g, max_rows)


# -- sections -------------------------------------------------------------------------------
def _header(console: Console, s: Sources, g: Glyphs) -> None:
    title = Text("tradetel report", style="bold")
    if s.start is not None and s.end is not None:
        end = clock(s.end, with_day=day(s.start) != day(s.end))
        title.append(f"  {clock(s.start, with_day=True)} {g.arrow} {end} UTC")
        title.append(f" ({duration(s.end - s.start, micro=g.micro)})", style="dim")
    else:
        title.append("  no data in the files read", style="dim")
    console.print(title)
    for folder, names in _files(s):
        _line(console, "files", f"{folder}/")
        _line(console, "", names)
    if not s.files:
        _line(console, "files", "none")
    lines = ", ".join(_plural(count, f"{signal} line") for signal, count in s.lines.items())
    items = ", ".join(
        _plural(count, name.replace("_", " ").rstrip("s")) for name, count in s.items.items()
    )
    _line(console, "read", f"{lines} {g.arrow} {items}")
    if s.log_severities:
        _line(console, "logs", ", ".join(f"{n} {sev}" for sev, n in s.log_severities.items()))
    _line(console, "services", ", ".join(s.services) or "none")
    if window := _filters(s):
        _line(console, "only", window)
    if s.malformed:
        _line(console, "skipped", f"{s.malformed} malformed or truncated line(s), first at:",
              style="yellow")  # fmt: skip
        for example in s.malformed_examples:
            console.print(Text(f"    {example}", style="yellow"))
    else:
        _line(console, "skipped", "no malformed lines")
    for problem in s.unreadable:
        _line(console, "unread", problem, style="yellow")


def _filters(s: Sources) -> str:
    """The window and filters asked for, as one line; empty when none."""
    parts = []
    if s.since is not None:
        parts.append(f"since {clock(s.since, with_day=True)} UTC")
    if s.until is not None:
        parts.append(f"until {clock(s.until, with_day=True)} UTC")
    if s.service_filter:
        parts.append("service " + ", ".join(s.service_filter))
    if s.venue_filter:
        parts.append("venue " + ", ".join(s.venue_filter))
    return "; ".join(parts)


def _slowest(console: Console, report: Report, g: Glyphs, with_day: bool) -> None:
    _heading(console, f"Slowest orders (top {report.top})", "submit to the venue's first answer")
    if not report.slowest:
        _no_data(console, "no order submit spans" if report.top else "none asked for (--top 0)")
        return
    for rank, order in enumerate(report.slowest, 1):
        console.print(_order_title(rank, order, g, with_day))
        _waterfall(console, order.waterfall, g, _WATERFALL_ROWS)
    if any(row.linked for order in report.slowest for row in order.waterfall.rows):
        console.print(Text(_LINK_NOTE.format(link=g.link), style="dim"))


def _order_title(rank: int, order: SlowOrder, g: Glyphs, with_day: bool) -> Text:
    what = " ".join(
        str(v)
        for v in (order.venue, order.side, _qty(order.quantity), order.symbol)
        if v is not None
    )
    title = Text(f"{rank}. ", style="bold")
    title.append(order.client_id or "(no client id)", style="bold")
    title.append(f"  {what}  ")
    failed = order.outcome in ("rejected", "failed", "expired")
    if order.answered != order.outcome:
        title.append(
            f"{order.answered} after {duration(order.answer, micro=g.micro)}, ", style="bold"
        )
    title.append(
        f"{order.outcome} after {duration(order.total, micro=g.micro)}",
        style="bold red" if failed else "bold",
    )
    if order.measured_to != "final report":
        title.append(f" (to its {order.measured_to})", style="dim")
    title.append(
        f"  submitted {clock(order.submitted_at, with_day=with_day)}"
        f"\n   trace {order.trace_id}, {order.service}",
        style="dim",
    )
    return title


def _waterfall(console: Console, w: Waterfall, g: Glyphs, max_rows: int | None) -> None:
    table = _table(("span", "left"), ("start", "right"), ("duration", "right"),
                   ("timeline", "left"), ("", "left"))  # fmt: skip
    table.columns[0].no_wrap = True
    table.columns[3].no_wrap = True
    table.columns[-1].overflow = "fold"
    total = max((row.offset + row.duration for row in w.rows), default=0.0) or 1e-9
    rows = w.rows if max_rows is None else w.rows[:max_rows]
    for row in rows:
        name = Text("  " * row.depth)
        if row.linked:
            name.append(f"{g.link} ", style="cyan")
        if row.error is not None:
            name.append(f"{g.error} ", style="bold red")
        name.append(row.name, style="red" if row.error is not None else "")
        detail = Text()
        if row.error is not None:  # the name has the mark
            detail.append(row.error, style="red")
        if row.detail:
            detail.append(f"  {row.detail}" if detail else row.detail, style="dim")
        table.add_row(
            name,
            Text(f"+{duration(row.offset, micro=g.micro)}" if row.offset else "0"),
            Text(duration(row.duration, micro=g.micro)),
            Text(_bar(row.offset, row.duration, total, g), style="red" if row.error else "green"),
            detail,
        )
    console.print(table)
    if max_rows is not None and len(w.rows) > max_rows:
        more = len(w.rows) - max_rows
        console.print(
            Text(f"  {g.more} {more} more span(s): tradetel report --trace {w.trace_id}", "dim")
        )


def _bar(offset: float, length: float, total: float, g: Glyphs) -> str:
    start = min(int(offset / total * _BAR_WIDTH), _BAR_WIDTH - 1)
    end = min(max(round((offset + length) / total * _BAR_WIDTH), start + 1), _BAR_WIDTH)
    if length <= 0:
        return " " * start + g.tick
    return " " * start + g.bar * (end - start)


def _histograms(
    console: Console,
    rows: Sequence[HistogramRow],
    labels: tuple[str, str],
    g: Glyphs,
    *,
    duration_unit: bool,
) -> None:
    if not rows:
        _no_data(console)
        return
    errors = any(row.errors is not None for row in rows)
    columns = [(label, "left") for label in labels] + [("count", "right")]
    if errors:
        columns.append(("errors", "right"))
    if duration_unit:
        columns += [("p50", "right"), ("p90", "right"), ("p99", "right"), ("max", "right")]
    else:
        columns += [("mean", "right"), ("p50", "right"), ("p90", "right")]
    table = _table(*columns)
    notes = []
    for row in rows:
        cells = [row.labels.get(label) or "-" for label in labels] + [f"{row.count:,}"]
        if errors:
            cells.append(f"{row.errors or 0:,}")
        if duration_unit:
            top = duration(row.max, micro=g.micro)
            cells += [duration(q, micro=g.micro) for q in (row.p50, row.p90, row.p99)]
            cells.append(top if row.max_exact or row.max is None else f"{g.le} {top}")
        else:
            cells += [number(row.mean), number(row.p50), number(row.p90)]
        if row.note and row.note not in notes:
            notes.append(row.note)
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)
    for note in notes:
        console.print(Text(f"  note: {note}", style="yellow"))


def _counts(console: Console, rows: Sequence[CountRow], labels: tuple[str, str]) -> None:
    if not rows:
        _no_data(console)
        return
    table = _table(*((label, "left") for label in labels), ("count", "right"))
    for row in rows:
        cells = [row.labels.get(label) or "-" for label in labels]
        table.add_row(*(Text(c) for c in cells), Text(number(row.count, 0)))
    console.print(table)


def _events(console: Console, report: Report) -> None:
    if not report.events:
        _no_data(console)
        return
    by_venue: dict[str, dict[str, float]] = {}
    for row in report.events:
        venue = row.labels.get("venue") or "-"
        by_venue.setdefault(venue, {})[row.labels.get("status") or "-"] = row.count
    seen = {status for counts in by_venue.values() for status in counts}
    statuses = [s for s in STATUSES if s in seen] + sorted(seen - set(STATUSES))
    table = _table(("venue", "left"), *((status, "right") for status in statuses))
    for venue, counts in by_venue.items():
        table.add_row(Text(venue), *(Text(number(counts.get(s, 0), 0)) for s in statuses))
    console.print(table)


def _fill_ratio(console: Console, rows: Sequence[HistogramRow]) -> None:
    if not rows:
        _no_data(console)
        return
    table = _table(("venue", "left"), ("orders completed", "right"), ("mean fill ratio", "right"))
    for row in rows:
        table.add_row(
            Text(row.labels.get("venue") or "-"), Text(f"{row.count:,}"), Text(percent(row.mean))
        )
    console.print(table)


def _alerts(console: Console, report: Report, g: Glyphs, with_day: bool) -> None:
    section = report.alerts
    _heading(console, "Alerts fired and resolved", section.path or "alert history")
    if section.note:
        _no_data(console, section.note)
        return
    if not section.episodes:
        _no_data(console, "no alert fired in this window")
        return
    table = _table(("alert", "left"), ("severity", "left"), ("fired", "left"),
                   ("resolved", "left"), ("", "left"))  # fmt: skip
    table.columns[-1].overflow = "fold"
    for e in section.episodes:
        fired = clock(e.fired_at, with_day=with_day) if e.fired_at is not None else "before"
        if e.end_unknown:
            resolved = Text("end not recorded", style="dim")
        elif e.resolved_at is None:
            resolved = Text("still firing at end", style="bold red")
        else:
            resolved = Text(clock(e.resolved_at, with_day=with_day))
            if e.duration is not None:
                resolved.append(f" ({duration(e.duration, micro=g.micro)})", style="dim")
        about = " ".join(part for part in (labels_text(e.labels), e.summary) if part)
        style = "red" if e.severity in ("critical", "emergency") else ""
        table.add_row(Text(e.alertname, style=style), Text(e.severity or "-"), Text(fired),
                      resolved, Text(about, style="dim"))  # fmt: skip
    console.print(table)


_FIGURE_TEXT = (
    (sc.RETURN, "return", lambda v: percent(v, signed=True)),
    (sc.DRAWDOWN, "drawdown", percent),
    (sc.DRAWDOWN_MAX, "max drawdown", percent),
    (sc.SHARPE, "sharpe", number),
    (sc.SORTINO, "sortino", number),
    (sc.CALMAR, "calmar", number),
    (sc.VOLATILITY, "volatility (annual)", percent),
    (sc.WIN_RATE, "win rate", percent),
    (sc.PROFIT_FACTOR, "profit factor", number),
)


def _strategies(console: Console, rows: Sequence[StrategyRow]) -> None:
    if not rows:
        _no_data(console)
        return
    table = _table(("figure", "left"), *((row.strategy or "-", "right") for row in rows))
    lines: list[tuple[str, list[str]]] = []
    if any(sc.EQUITY in row.figures for row in rows):
        lines.append(("equity", [_money(row) for row in rows]))
    for name, label, show in _FIGURE_TEXT:
        if any(name in row.figures for row in rows):
            lines.append((label, [show(row.figures[name]) if name in row.figures else "-"
                                  for row in rows]))  # fmt: skip
    for label, attr in (("VaR", "var"), ("CVaR", "cvar")):
        confidences = sorted({c for row in rows for c in getattr(row, attr)})
        for confidence in confidences:
            values = [percent(getattr(row, attr).get(confidence)) for row in rows]
            lines.append((f"{label} {confidence}", values))
    if any(row.trades for row in rows):
        lines.append(("trades win/loss/flat", [_trades(row.trades) for row in rows]))
    for label, values in lines:
        table.add_row(Text(label), *(Text(v) for v in values))
    console.print(table)


# -- pieces -----------------------------------------------------------------------------------
def _files(s: Sources) -> list[tuple[str, str]]:
    """Per folder: its name and ``a.jsonl (3 lines), b.jsonl (1 line)``."""
    folders: dict[str, list[str]] = {}
    for f in s.files:
        path = Path(f.path)
        lines = _plural(sum(f.lines.values()), "line")
        folders.setdefault(str(path.parent), []).append(f"{path.name} ({lines})")
    return [(folder, ", ".join(names)) for folder, names in folders.items()]


def _plural(count: float, noun: str) -> str:
    return f"{number(count, 0)} {noun}{'' if count == 1 else 's'}"


def _money(row: StrategyRow) -> str:
    value = row.figures.get(sc.EQUITY)
    return "-" if value is None else f"{number(value)} {row.currency or ''}".rstrip()


def _trades(trades: dict[str, float]) -> str:
    if not trades:
        return "-"
    return "/".join(number(trades.get(k, 0), 0) for k in ("win", "loss", "flat"))


def _qty(quantity: float | None) -> str | None:
    return None if quantity is None else f"{quantity:g}"


def _days(s: Sources) -> int:
    if s.start is None or s.end is None:
        return 1
    return 1 if day(s.start) == day(s.end) else 2


def _heading(console: Console, title: str, source: str) -> None:
    console.print()
    text = Text(title, style="bold underline")
    text.append(f"  {source}", style="dim")
    console.print(text)


def _line(console: Console, label: str, value: str, style: str = "") -> None:
    text = Text(f"  {label + ':' if label else '':<10}", style="dim")
    text.append(value, style=style)
    console.print(text)


def _no_data(console: Console, why: str = "no data") -> None:
    console.print(Text(f"  {why}", style="dim italic"))


def _table(*columns: tuple[str, str]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for header, justify in columns:
        table.add_column(header, justify=justify, no_wrap=justify == "right")  # type: ignore[arg-type]
    return table
