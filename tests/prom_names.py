"""The Prometheus series that tradetel really produces, for tests that check queries against them.

Rules and dashboards query tradetel's telemetry under the names Prometheus gives it. Rather than
a hand-kept list of those names, the functions here record real telemetry and translate it:

- :func:`sdk_series`: one process records everything the shipped rules and dashboards watch
  (orders of every outcome, latency, slippage, fill ratio, tick-to-trade, the decorators, an
  exchange client call, performance figures, health checks, event loop lag, system metrics),
  and tradetel's translation of Prometheus' OTLP receiver names the series;
- :func:`alert_service_series`: a real alert service is started, fed that collection over
  OTLP/HTTP, and its ``GET /metrics`` is scraped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client.parser import text_string_to_metric_families

import tradetel
from tradetel import health, orders, performance, tick_to_trade
from tradetel.alerts._otlp import Translator, from_sdk
from tradetel.alerts._service import AlertService

RULES = Path(__file__).parents[1] / "collector" / "rules" / "trading.rules.yml"
STRATEGY = "prom-names-strategy"

#: metric name -> label name -> the values seen
Emitted = dict[str, dict[str, set[str]]]

#: A label value that stands for any value (a label whose values depend on the deployment).
ANY = "<any value>"
#: Labels that Prometheus itself adds to every series it scrapes from a target.
SCRAPE_LABELS = ("job", "instance")


def sdk_series(promote_resource_attributes: Sequence[str] = ()) -> Emitted:
    """Every series of a real SDK collection, named as Prometheus' OTLP receiver names it.

    ``promote_resource_attributes``: Prometheus' ``otlp.promote_resource_attributes``, the
    resource attributes that become labels of every series.
    """
    return _copy(_translated(tuple(promote_resource_attributes)))


def alert_service_series() -> Emitted:
    """The alert service's own series (``tradetel_alerts_*``), scraped from its ``/metrics``.

    The service runs the shipped rules and is sent the SDK collection over OTLP/HTTP first,
    so that its request and data point counters have labels; Prometheus adds ``job`` and
    ``instance`` when it scrapes them.
    """
    return _copy(_alert_service())


@functools.cache
def _translated(promote: tuple[str, ...]) -> Emitted:
    request = ExportMetricsServiceRequest.FromString(_collect())
    result = Translator(promote_resource_attributes=promote).translate(request)
    assert not result.errors, result.errors
    found: Emitted = {}
    for labels, _, _ in result.samples:
        mapping = dict(labels)
        by_label = found.setdefault(mapping.pop("__name__"), {})
        for key, value in mapping.items():
            by_label.setdefault(key, set()).add(value)
    return found


@functools.cache
def _collect() -> bytes:
    """The OTLP export request of one process that recorded everything (serialized)."""
    reader = InMemoryMetricReader()
    tradetel.configure(
        service_name="prom-names",
        exporter="none",
        system_metrics=True,
        additional_metric_readers=[reader],
    )
    try:
        tracker = _record_orders()  # held: open orders are observed from live trackers only
        _record_decorated_calls()
        _record_exchange_call()
        _record_performance()
        _record_event_loop_lag()
        health.register("market_data_feed", lambda: False, interval=3600)
        health.register("broker_session", lambda: True, interval=3600)
        health.run_now()
        data = reader.get_metrics_data()
        assert data is not None
        assert len(tracker) == 1
        return from_sdk(data).SerializeToString()
    finally:
        health.clear()
        performance.remove(STRATEGY)
        tradetel.shutdown()


def _record_orders() -> orders.OrderTracker:
    """An order of every outcome: filled (with slippage), partly filled then canceled,
    rejected, expired, and one left open; the first is sent on a marked tick."""
    tracker = orders.OrderTracker()
    common = {"venue": "sim", "order_type": "limit", "strategy": STRATEGY}
    with tick_to_trade.received():
        tracker.submitted("filled", side="buy", quantity=2.0, arrival_price=100.0, **common)
    for coid, side in (("canceled", "sell"), ("rejected", "buy"), ("expired", "buy")):
        tracker.submitted(coid, side=side, quantity=2.0, arrival_price=100.0, **common)
    tracker.submitted("open", side="buy", quantity=2.0, **common)
    for coid in ("filled", "canceled", "expired", "open"):
        tracker.acked(coid)
    tracker.filled("filled", 1.0, 100.1)
    tracker.filled("filled", 1.0, 100.2)
    tracker.filled("canceled", 1.0, 99.9)
    tracker.cancel_requested("canceled")
    tracker.canceled("canceled")
    tracker.rejected("rejected", reason="rate limited")
    tracker.expired("expired")
    return tracker


class InsufficientFunds(Exception):  # named as ccxt names it
    """What a venue client raises for an order the account cannot pay for."""


def _record_decorated_calls() -> None:
    """A ``@strategy`` step that places an ``@order`` (one succeeds, one fails), and a generic
    ``@instrument`` call."""

    @tradetel.order("sim")
    def place_order(symbol: str, side: str, type: str, amount: float) -> dict[str, str]:
        if amount > 10:
            raise InsufficientFunds("balance too low")
        return {"id": "v-1", "status": "open"}

    @tradetel.strategy(STRATEGY)
    def on_tick() -> None:
        place_order(symbol="BTC/USDT", side="buy", type="limit", amount=1.0)
        with contextlib.suppress(InsufficientFunds):
            place_order(symbol="BTC/USDT", side="buy", type="limit", amount=100.0)

    @tradetel.instrument
    def rebalance() -> None:
        pass

    on_tick()
    rebalance()


def _record_exchange_call() -> None:
    """A ccxt call, without a network: ccxt's base class has no ``fetch_balance`` and raises
    before any request; the rate limiter is passed once, with no wait."""
    import ccxt

    from tradetel.auto.ccxt import CcxtInstrumentor

    instrumentor = CcxtInstrumentor()
    instrumentor.instrument(track_orders=False)
    try:
        exchange = ccxt.Exchange()
        with contextlib.suppress(ccxt.NotSupported):
            exchange.fetch_balance()
        exchange.throttle(0)
    finally:
        instrumentor.uninstrument()


def _record_performance() -> None:
    """Enough equity updates for every ratio and the VaR, trades of every outcome, positions."""
    perf = performance.tracker(STRATEGY, periods_per_year=365)
    for equity in (100.0, 102.0, 99.0, 103.0, 97.0, 101.0, 104.0, 98.0, 105.0, 100.0, 106.0):
        perf.update_equity(equity)
    for pnl in (3.0, -2.0, 0.0):
        perf.record_trade(pnl)
    perf.update_positions({"BTC/USDT": 50.0, "ETH/USDT": -20.0}, unrealized_pnl=1.5)


def _record_event_loop_lag() -> None:
    async def monitored() -> None:
        with health.monitor_event_loop(interval=0.001):
            await asyncio.sleep(0.01)  # lets the loop run the monitor's 1 ms timer

    asyncio.run(monitored())


@functools.cache
def _alert_service() -> Emitted:
    otlp_request = _collect()
    with tempfile.TemporaryDirectory() as data_dir:
        service = AlertService(
            [RULES],
            notify={"channels": {"log": {"type": "log"}}, "default": ["log"]},
            listen="127.0.0.1:0",
            data_dir=data_dir,
        )
        service.start()
        try:
            base = f"http://127.0.0.1:{service.port}"
            post = urllib.request.Request(
                f"{base}/v1/metrics",
                data=otlp_request,
                headers={"Content-Type": "application/x-protobuf"},
                method="POST",
            )
            with urllib.request.urlopen(post, timeout=10) as reply:
                assert reply.status == 200
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as reply:
                text = reply.read().decode()
        finally:
            service.stop()
    found: Emitted = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            by_label = found.setdefault(sample.name, {})
            for key, value in sample.labels.items():
                by_label.setdefault(key, set()).add(value)
            for key in SCRAPE_LABELS:
                by_label.setdefault(key, set()).add(ANY)
    return found


def _copy(emitted: Emitted) -> Emitted:
    return {
        name: {key: set(values) for key, values in labels.items()}
        for name, labels in emitted.items()
    }
