"""What a report holds: plain dataclasses, rendered as text by ``_render`` or as JSON here.

Times are unix seconds and durations seconds, as floats, in both the model and its JSON; the
text rendering scales them for people. A figure that could not be computed is None (``null``
in JSON), never NaN, so that the JSON stays valid.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

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
    "Waterfall",
    "WaterfallRow",
    "waterfall_json",
]


@dataclass
class FileRead:
    """One file read, and its valid lines per signal."""

    path: str
    lines: dict[str, int]


@dataclass
class Sources:
    """What was read, what was skipped, and what the data covers (the report's header)."""

    files: list[FileRead]
    lines: dict[str, int]  # valid lines per signal
    items: dict[str, int]  # spans, metric points and log records in the window
    malformed: int
    malformed_examples: list[str]
    unreadable: list[str]  # files that could not be read, with why
    services: list[str]  # every service.name seen, before --service filtered
    start: float | None  # the earliest and latest time of the data in the window
    end: float | None
    since: float | None = None
    until: float | None = None
    service_filter: list[str] = field(default_factory=list)
    venue_filter: list[str] = field(default_factory=list)
    log_severities: dict[str, int] = field(default_factory=dict)


@dataclass
class HistogramRow:
    """A histogram metric summed over the series of one group (venue and stage, say).

    Quantiles are estimated from the buckets (see ``_metrics.bucket_quantile``); ``max`` is
    the largest of the points' own ``max``, exact unless a time window left only an upper
    bound of it (``max_exact`` False).
    """

    labels: dict[str, str]
    count: int
    sum: float
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None
    max_exact: bool = True
    errors: int | None = None  # of the calls that raised (trading.order.duration only)
    note: str | None = None

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None


@dataclass
class CountRow:
    """A counter summed over the series of one group."""

    labels: dict[str, str]
    count: float


@dataclass
class WaterfallRow:
    """One span of a waterfall, at ``offset`` seconds from the trace's first span.

    ``linked`` rows are spans of other traces that link to the span above them (the
    execution reports of an order); ``error`` is the status message or exception type of a
    span whose status is ERROR, else None.
    """

    depth: int
    name: str
    kind: str
    offset: float
    duration: float
    trace_id: str
    span_id: str
    service: str
    error: str | None = None
    linked: bool = False
    detail: str = ""


@dataclass
class Waterfall:
    """A trace as a span tree, its linked spans included."""

    trace_id: str
    start: float
    rows: list[WaterfallRow]

    @property
    def span_count(self) -> int:
        return sum(1 for row in self.rows if not row.linked)


@dataclass
class SlowOrder:
    """An order, timed from its submit span's start to the venue's first answer and to its end
    (see ``measured_to``)."""

    client_id: str | None
    venue: str | None
    symbol: str | None
    side: str | None
    quantity: float | None
    service: str
    trace_id: str
    span_id: str
    submitted_at: float
    total: float
    answer: float  # submit to the venue's first report (else = total): what ranks the slowest
    answered: str  # the status of that first report (acked, filled, rejected ...)
    outcome: str  # the final status, "open", "no answer" (accepted, no report) or "no reports"
    measured_to: str  # "final report", "last report", "end of the data" or "submit end"
    waterfall: Waterfall


@dataclass
class AlertEpisode:
    """An alert from firing to resolved; a None time lies outside the history read."""

    alertname: str
    severity: str
    labels: dict[str, str]
    fired_at: float | None
    resolved_at: float | None
    value: float | None
    summary: str
    #: no ``resolved`` was recorded before the alert fired again: the process that evaluated
    #: it stopped while it fired (the end is unknown)
    end_unknown: bool = False

    @property
    def duration(self) -> float | None:
        if self.fired_at is None or self.resolved_at is None:
            return None
        return self.resolved_at - self.fired_at


@dataclass
class AlertSection:
    """The alert history's episodes, or a note saying why there are none."""

    path: str | None
    episodes: list[AlertEpisode]
    note: str | None = None


@dataclass
class StrategyRow:
    """A strategy's last published figures (gauges) and its trades by outcome."""

    strategy: str
    currency: str | None
    figures: dict[str, float]  # metric name -> last value
    var: dict[str, float]  # confidence -> value
    cvar: dict[str, float]
    trades: dict[str, float]  # outcome -> count


@dataclass
class Report:
    """The order-latency report of a set of telemetry files: build with ``build_report``."""

    sources: Sources
    latency: list[HistogramRow]
    order_calls: list[HistogramRow]
    slowest: list[SlowOrder]
    rejects: list[CountRow]
    events: list[CountRow]
    fill_ratio: list[HistogramRow]
    slippage: list[HistogramRow]
    alerts: AlertSection
    strategies: list[StrategyRow]
    top: int = 5

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-serialisable data: unix-second times, durations in seconds."""
        data = asdict(self)
        tables = {
            "latency": self.latency,
            "order_calls": self.order_calls,
            "fill_ratio": self.fill_ratio,
            "slippage": self.slippage,
        }
        for key, rows in tables.items():
            for item, row in zip(data[key], rows, strict=True):
                item["mean"] = row.mean
        for item, episode in zip(data["alerts"]["episodes"], self.alerts.episodes, strict=True):
            item["duration"] = episode.duration
        return _finite(data)  # type: ignore[no-any-return]


def waterfall_json(waterfall: Waterfall) -> dict[str, Any]:
    """One waterfall as JSON-serialisable data (``tradetel report --trace ID --format json``)."""
    return _finite(asdict(waterfall))  # type: ignore[no-any-return]


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
