"""Replay recorded telemetry files to an OTLP endpoint, ids and timestamps as recorded.

A backtest or an offline run writes OTLP/JSON lines (``exporter="file"``); ``replay()``
(or ``tradetel replay``) sends them later to a Collector, Grafana Cloud, Honeycomb or any
OTLP receiver, as the protobuf requests they decode to, so nothing is lost or rewritten.
"""

from __future__ import annotations

from ._retry import Backoff
from ._run import SIGNALS, Replay, SignalSummary, Summary, replay

__all__ = ["SIGNALS", "Backoff", "Replay", "SignalSummary", "Summary", "replay"]
