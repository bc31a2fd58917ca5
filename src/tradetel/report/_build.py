"""Build a report, or one trace's waterfall, from recorded telemetry files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .._errors import TradetelError
from ._alerts import alert_section
from ._load import Filters, load
from ._model import Report, Sources, Waterfall
from ._tables import (
    event_rows,
    fill_ratio_rows,
    latency_rows,
    order_call_rows,
    reject_rows,
    slippage_rows,
    strategy_rows,
)
from ._traces import TraceIndex, slowest_orders, waterfall

__all__ = ["TraceNotFound", "build_report", "build_trace"]


class TraceNotFound(TradetelError, LookupError):
    """No trace (or more than one) has the id asked for."""


def build_report(
    sources: Sequence[str | os.PathLike[str]],
    *,
    data_dir: Path | None = None,
    services: Iterable[str] = (),
    venues: Iterable[str] = (),
    since: float | None = None,
    until: float | None = None,
    top: int = 5,
) -> Report:
    """The order-latency report of the telemetry files in ``sources`` (files or folders).

    Args:
        data_dir: the folder of the alert history (``alerts-history.db``); None: no alerts.
        services: only these ``service.name`` values (empty: all).
        venues: only these ``trading.venue`` values (empty: all).
        since, until: the window, in unix seconds: spans by start time, log records by time,
            metrics as what their cumulative totals gained in it, alerts by their times.
        top: how many of the slowest orders to show.

    Raises:
        FileNotFoundError: a source does not exist, or a folder holds no ``*.jsonl`` file.
    """
    filters = Filters(frozenset(services), frozenset(venues), since, until)
    data = load(sources, filters)
    index = TraceIndex(data.spans)
    header = Sources(
        files=data.files,
        lines={signal: data.lines.get(signal, 0) for signal in ("traces", "metrics", "logs")},
        items={
            "spans": len(data.spans),
            "metric_points": data.metric_points,
            "log_records": data.log_records,
        },
        malformed=data.malformed,
        malformed_examples=data.malformed_examples,
        unreadable=data.unreadable,
        services=sorted(data.services),
        start=None if data.first_ns is None else data.first_ns / 1e9,
        end=None if data.last_ns is None else data.last_ns / 1e9,
        since=since,
        until=until,
        service_filter=sorted(filters.services),
        venue_filter=sorted(filters.venues),
        log_severities=dict(sorted(data.log_severities.items())),
    )
    return Report(
        sources=header,
        latency=latency_rows(data),
        order_calls=order_call_rows(data),
        slowest=slowest_orders(index, filters.venues, max(top, 0)),
        rejects=reject_rows(data),
        events=event_rows(data),
        fill_ratio=fill_ratio_rows(data),
        slippage=slippage_rows(data),
        alerts=alert_section(
            data_dir, since=since, until=until, services=filters.services, venues=filters.venues
        ),
        strategies=strategy_rows(data),
        top=max(top, 0),
    )


def build_trace(
    sources: Sequence[str | os.PathLike[str]],
    trace_id: str,
    *,
    services: Iterable[str] = (),
) -> Waterfall:
    """The waterfall of one trace, found by its id or a unique prefix of it.

    Raises:
        TraceNotFound: no trace, or several, match ``trace_id``.
        FileNotFoundError: as ``build_report``.
    """
    data = load(sources, Filters(services=frozenset(services)), signals=("traces",))
    index = TraceIndex(data.spans)
    found = index.find(trace_id.strip())
    if not found:
        raise TraceNotFound(
            f"trace {trace_id!r} not found among the {len(index.by_trace)} traces "
            f"in {len(data.files)} file(s) read"
        )
    if len(found) > 1:
        raise TraceNotFound(
            f"trace id prefix {trace_id!r} matches {len(found)} traces; give more digits"
        )
    result = waterfall(index, found[0])
    assert result is not None  # found[0] is a trace of the index
    return result
