"""``tradetel report``: order latency, slowest orders, rejects, fills, alerts and strategy
figures, read back from the OTLP/JSON files of a run.

    from rich.console import Console
    from tradetel.report import build_report, render

    report = build_report([".tradetel"], data_dir=Path(".tradetel"), since=run_start)
    render(report, Console())
    report.to_json()  # the same content as data

The files are those tradetel's file exporter writes (``traces.jsonl``, ``metrics.jsonl``,
``logs.jsonl`` and their rotated backups) or any OpenTelemetry Collector ``file`` exporter
output. Lines that are not valid are skipped and counted in the report's header.
"""

from __future__ import annotations

from ._build import TraceNotFound, build_report, build_trace
from ._model import (
    AlertEpisode,
    AlertSection,
    CountRow,
    FileRead,
    HistogramRow,
    Report,
    SlowOrder,
    Sources,
    StrategyRow,
    Waterfall,
    WaterfallRow,
    waterfall_json,
)
from ._render import render, render_trace

__all__ = [
    "AlertEpisode",
    "AlertSection",
    "CountRow",
    "FileRead",
    "HistogramRow",
    "Report",
    "SlowOrder",
    "Sources",
    "StrategyRow",
    "TraceNotFound",
    "Waterfall",
    "WaterfallRow",
    "build_report",
    "build_trace",
    "render",
    "render_trace",
    "waterfall_json",
]
