"""The report's metric tables: latency, order calls, rejects, events, fills, slippage,
strategy figures. Each groups the window's series by a few attributes and sums them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import semconv as sc
from ._load import Dataset
from ._metrics import Histogram, merge
from ._model import CountRow, HistogramRow, StrategyRow

__all__ = [
    "event_rows",
    "fill_ratio_rows",
    "latency_rows",
    "order_call_rows",
    "reject_rows",
    "slippage_rows",
    "strategy_rows",
]

#: The order lifecycle, for sorting stages and statuses in the order they happen.
STAGES = ("ack", "first_fill", "fill", "cancel")
STATUSES = ("new", "acked", "partially_filled", "filled", "canceled", "rejected", "expired")
#: Strategy gauges shown, in this order (VaR and CVaR are per confidence, apart).
FIGURES = (
    sc.EQUITY, sc.RETURN, sc.DRAWDOWN, sc.DRAWDOWN_MAX, sc.SHARPE, sc.SORTINO, sc.CALMAR,
    sc.VOLATILITY, sc.WIN_RATE, sc.PROFIT_FACTOR,
)  # fmt: skip
_NOT_MERGED = "bucket boundaries differ between series: not summed together"

_Key = tuple[str, ...]


def _lifecycle(order: tuple[str, ...]) -> Callable[[str], tuple[int, str]]:
    return lambda value: (order.index(value) if value in order else len(order), value)


def histogram_rows(
    data: Dataset,
    name: str,
    labels: Mapping[str, str],
    sort: Callable[[_Key], Any] = lambda key: key,
) -> list[HistogramRow]:
    """One row per group of ``labels`` (short name -> attribute), summing its series."""
    groups: dict[_Key, list[Histogram]] = {}
    errors: dict[_Key, int] = {}
    for series in data.of(name):
        total = series.total()
        if not isinstance(total, Histogram) or total.count == 0:
            continue
        key = tuple(series.attributes.get(attribute, "") for attribute in labels.values())
        groups.setdefault(key, []).append(total)
        if series.attributes.get(sc.ERROR_TYPE):
            errors[key] = errors.get(key, 0) + total.count
    rows = []
    for key in sorted(groups, key=sort):
        merged = merge(groups[key])
        for histogram in merged:
            rows.append(
                HistogramRow(
                    labels=dict(zip(labels, key, strict=True)),
                    count=histogram.count,
                    sum=histogram.sum,
                    p50=histogram.quantile(0.5),
                    p90=histogram.quantile(0.9),
                    p99=histogram.quantile(0.99),
                    max=histogram.max,
                    max_exact=histogram.max_exact,
                    errors=errors.get(key, 0) if name == sc.ORDER_DURATION else None,
                    note=_NOT_MERGED if len(merged) > 1 else None,
                )
            )
    return rows


def count_rows(
    data: Dataset,
    name: str,
    labels: Mapping[str, str],
    where: Mapping[str, str] | None = None,
    sort: Callable[[_Key], Any] = lambda key: key,
) -> list[CountRow]:
    """One row per group of ``labels`` of a counter, over the series matching ``where``."""
    totals: dict[_Key, float] = {}
    for series in data.of(name):
        if where and any(series.attributes.get(k) != v for k, v in where.items()):
            continue
        total = series.total()
        if not isinstance(total, float):
            continue
        key = tuple(series.attributes.get(attribute, "") for attribute in labels.values())
        totals[key] = totals.get(key, 0.0) + total
    return [
        CountRow(dict(zip(labels, key, strict=True)), totals[key])
        for key in sorted(totals, key=sort)
        if totals[key]
    ]


def latency_rows(data: Dataset) -> list[HistogramRow]:
    stage = _lifecycle(STAGES)
    labels = {"venue": sc.VENUE, "stage": sc.ORDER_STAGE}
    return histogram_rows(data, sc.ORDER_LATENCY, labels, lambda k: (k[0], stage(k[1])))


def order_call_rows(data: Dataset) -> list[HistogramRow]:
    labels = {"venue": sc.VENUE, "operation": sc.ORDER_OPERATION}
    return histogram_rows(data, sc.ORDER_DURATION, labels)


def reject_rows(data: Dataset) -> list[CountRow]:
    labels = {"venue": sc.VENUE, "reason": sc.REJECT_REASON}
    rows = count_rows(data, sc.ORDER_EVENTS, labels, {sc.ORDER_STATUS: "rejected"})
    return sorted(rows, key=lambda row: (-row.count, row.labels["venue"], row.labels["reason"]))


def event_rows(data: Dataset) -> list[CountRow]:
    status = _lifecycle(STATUSES)
    labels = {"venue": sc.VENUE, "status": sc.ORDER_STATUS}
    return count_rows(data, sc.ORDER_EVENTS, labels, sort=lambda k: (k[0], status(k[1])))


def fill_ratio_rows(data: Dataset) -> list[HistogramRow]:
    return histogram_rows(data, sc.ORDER_FILL_RATIO, {"venue": sc.VENUE})


def slippage_rows(data: Dataset) -> list[HistogramRow]:
    return histogram_rows(data, sc.ORDER_SLIPPAGE, {"venue": sc.VENUE, "side": sc.SIDE})


def strategy_rows(data: Dataset) -> list[StrategyRow]:
    """Each strategy's latest figures in the window, from whichever process wrote last."""
    latest: dict[tuple[str, str, str], tuple[int, float]] = {}
    for name in (*FIGURES, sc.VAR, sc.CVAR):
        for series in data.of(name):
            value = series.total()
            if not isinstance(value, float):
                continue
            strategy = series.attributes.get(sc.STRATEGY_NAME, "")
            key = (strategy, name, series.attributes.get(sc.CONFIDENCE, ""))
            if key not in latest or series.time >= latest[key][0]:
                latest[key] = (series.time, value)
    labels = {"strategy": sc.STRATEGY_NAME, "outcome": sc.TRADE_OUTCOME}
    trades = count_rows(data, sc.TRADES, labels)
    strategies = sorted({key[0] for key in latest} | {row.labels["strategy"] for row in trades})
    unit = data.units.get(sc.EQUITY, "")
    currency = unit.strip("{}") or None
    rows = []
    for strategy in strategies:
        figures = {
            name: latest[(strategy, name, "")][1]
            for name in FIGURES
            if (strategy, name, "") in latest
        }
        risk: dict[str, dict[str, float]] = {sc.VAR: {}, sc.CVAR: {}}
        for (owner, name, confidence), (_, value) in sorted(latest.items()):
            if owner == strategy and name in risk:
                risk[name][confidence] = value
        outcomes = {
            row.labels["outcome"]: row.count for row in trades if row.labels["strategy"] == strategy
        }
        rows.append(StrategyRow(strategy, currency, figures, risk[sc.VAR], risk[sc.CVAR], outcomes))
    return rows
