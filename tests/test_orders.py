"""The order tracker, order_span and tick-to-trade, through the metric points and spans."""

from __future__ import annotations

import asyncio
import enum
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import tradetel
from tradetel import orders, tick_to_trade
from tradetel import semconv as sc
from tradetel.orders import OrderTracker, normalize_reject_reason
from tradetel.testing import Capture, capture

T0 = 1_700_000_000.0  # venue time of the submits below, in seconds


def approx(value: float) -> Any:
    # float seconds since the epoch resolve to about 0.2 microseconds
    return pytest.approx(value, abs=1e-6)


@pytest.fixture
def cap() -> Iterator[Capture]:
    with capture(system_metrics=False) as c:
        yield c


@pytest.fixture
def tracker() -> OrderTracker:
    return OrderTracker()


def submit(tracker: OrderTracker, coid: str = "c-1", **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "venue": "binance",
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": 1.0,
        "price": 100.0,
        "arrival_price": 100.0,
        "strategy": "momo",
        "ts": T0,
    }
    fields.update(overrides)
    tracker.submitted(coid, **fields)


def latency(cap: Capture, stage: str, venue: str = "binance") -> Any:
    points = cap.points(sc.ORDER_LATENCY, {sc.ORDER_STAGE: stage, sc.VENUE: venue})
    assert len(points) <= 1
    return points[0] if points else None


def events(cap: Capture, status: str, **attrs: Any) -> float:
    return sum(p.value for p in cap.points(sc.ORDER_EVENTS, {sc.ORDER_STATUS: status, **attrs}))


def anomalies(cap: Capture, kind: str) -> float:
    return sum(p.value for p in cap.points(sc.ORDER_ANOMALIES, {sc.ANOMALY: kind}))


def test_a_partially_filled_order_gives_each_stage_its_latency(
    cap: Capture, tracker: OrderTracker
) -> None:
    submit(tracker)
    tracker.acked("c-1", order_id="8123", ts=T0 + 0.004)
    tracker.filled("c-1", 0.25, 100.0, ts=T0 + 0.010)
    tracker.filled("c-1", 0.75, 100.2, ts=T0 + 0.050)

    ack, first, full = latency(cap, "ack"), latency(cap, "first_fill"), latency(cap, "fill")
    assert (ack.count, ack.sum) == (1, approx(0.004))
    assert (first.count, first.sum) == (1, approx(0.010))
    assert (full.count, full.sum) == (1, approx(0.050))
    assert dict(ack.attributes) == {
        sc.VENUE: "binance",
        sc.ORDER_STAGE: "ack",
        sc.ORDER_TYPE: "limit",
    }
    assert events(cap, "new") == 1
    assert events(cap, "acked") == 1
    assert events(cap, "partially_filled", **{sc.SIDE: "buy"}) == 1
    assert events(cap, "filled") == 1
    (ratio,) = cap.points(sc.ORDER_FILL_RATIO)
    assert (ratio.count, ratio.sum) == (1, 1.0)
    # average fill 100.15 against an arrival price of 100: a 15 bp cost for a buy
    (slippage,) = cap.points(sc.ORDER_SLIPPAGE)
    assert slippage.sum == approx(15.0)
    assert dict(slippage.attributes) == {
        sc.VENUE: "binance",
        sc.SIDE: "buy",
        sc.ORDER_TYPE: "limit",
    }
    assert len(tracker) == 0  # a filled order leaves the tracker


def test_every_execution_report_is_a_short_span_linked_to_the_submit(
    cap: Capture, tracker: OrderTracker
) -> None:
    submit(tracker)
    tracker.acked("c-1", order_id="8123", ts=T0 + 0.004)
    tracker.filled("c-1", 0.4, 100.0, exec_id="t-1", ts=T0 + 0.010)
    tracker.filled("c-1", 0.6, 100.0, exec_id="t-2", ts=T0 + 0.020)

    submit_span = cap.span("order submit")
    assert submit_span.kind is SpanKind.CLIENT
    assert submit_span.attributes[sc.ORDER_CLIENT_ID] == "c-1"
    assert submit_span.attributes[sc.ORDER_QUANTITY] == 1.0
    assert submit_span.start_time == submit_span.end_time == int(T0 * 1e9)
    reports = [s for s in cap.spans if s is not submit_span]
    assert [s.name for s in reports] == [
        "order acked",
        "order partially_filled",
        "order filled",
    ]
    for report in reports:
        assert [link.context for link in report.links] == [submit_span.context]
        assert report.attributes[sc.ORDER_CLIENT_ID] == "c-1"
        assert report.attributes[sc.ORDER_ID] == "8123"
        assert report.start_time == report.end_time  # nothing stays open while it rests
    fill = reports[1]
    assert fill.attributes[sc.FILL_QUANTITY] == 0.4
    assert fill.attributes[sc.EXEC_ID] == "t-1"
    assert fill.attributes[sc.ORDER_STATUS] == "partially_filled"


def test_latency_exemplars_open_the_report_span(cap: Capture, tracker: OrderTracker) -> None:
    submit(tracker)
    tracker.acked("c-1", ts=T0 + 0.002)
    (exemplar,) = latency(cap, "ack").exemplars
    assert exemplar.span_id == cap.span("order acked").context.span_id


def test_a_sell_filled_below_its_arrival_price_has_a_positive_cost(
    cap: Capture, tracker: OrderTracker
) -> None:
    submit(tracker, side="sell", order_type="market", arrival_price=200.0)
    tracker.filled("c-1", 1.0, 199.0, ts=T0 + 0.01)
    (slippage,) = cap.points(sc.ORDER_SLIPPAGE)
    assert slippage.sum == approx(50.0)


def test_no_slippage_without_an_arrival_price(cap: Capture, tracker: OrderTracker) -> None:
    submit(tracker, arrival_price=None)
    tracker.filled("c-1", 1.0, 101.0, ts=T0 + 0.01)
    assert cap.points(sc.ORDER_SLIPPAGE) == []
    assert len(cap.points(sc.ORDER_FILL_RATIO)) == 1


def test_a_cancel_times_request_to_confirmation_and_keeps_the_partial_fill(
    cap: Capture, tracker: OrderTracker
) -> None:
    submit(tracker, quantity=2.0)
    tracker.acked("c-1", ts=T0 + 0.001)
    tracker.filled("c-1", 0.5, 100.0, ts=T0 + 0.002)
    tracker.cancel_requested("c-1", ts=T0 + 1.0)
    tracker.canceled("c-1", ts=T0 + 1.025)

    cancel = latency(cap, "cancel")
    assert (cancel.count, cancel.sum) == (1, approx(0.025))
    assert latency(cap, "fill") is None
    (ratio,) = cap.points(sc.ORDER_FILL_RATIO)
    assert ratio.sum == approx(0.25)
    assert events(cap, "canceled") == 1
    assert cap.span("order canceled").links[0].context == cap.span("order submit").context
    assert len(tracker) == 0


def test_a_reject_counts_its_normalised_reason_and_fails_its_span(
    cap: Capture, tracker: OrderTracker
) -> None:
    submit(tracker)
    tracker.rejected("c-1", reason="Account has insufficient balance for requested action.")

    assert events(cap, "rejected", **{sc.REJECT_REASON: "insufficient_funds"}) == 1
    span = cap.span("order rejected")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "insufficient_funds"
    assert cap.points(sc.ORDER_FILL_RATIO) == []  # a rejected order never worked
    assert len(tracker) == 0


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("insufficient_funds", "insufficient_funds"),
        ("Filter failure: LOT_SIZE", "invalid_order"),
        ("Too many requests; current limit is 1200", "rate_limited"),
        (TimeoutError("read timed out"), "timeout"),
        ("Unknown error, please check your request", "other"),
        (None, "other"),
    ],
)
def test_reject_reasons_are_a_short_enum(reason: object, expected: str) -> None:
    assert normalize_reject_reason(reason) == expected


def test_an_expired_order_reports_its_fill_ratio(cap: Capture, tracker: OrderTracker) -> None:
    submit(tracker, quantity=4.0)
    tracker.acked("c-1", ts=T0 + 0.001)
    tracker.expired("c-1", ts=T0 + 3600)
    assert events(cap, "expired") == 1
    (ratio,) = cap.points(sc.ORDER_FILL_RATIO)
    assert ratio.sum == 0.0


def test_a_fill_before_the_ack_is_counted_and_the_late_ack_still_timed(
    cap: Capture, tracker: OrderTracker
) -> None:
    submit(tracker, quantity=2.0)
    tracker.filled("c-1", 1.0, 100.0, ts=T0 + 0.010)
    tracker.acked("c-1", ts=T0 + 0.004)  # sent before the fill, arrived after it

    assert anomalies(cap, "out_of_order") == 1
    assert latency(cap, "ack").sum == approx(0.004)
    assert tracker.get("c-1")["status"] == "partially_filled"  # the ack does not undo it


def test_duplicate_fill_reports_are_not_counted_twice(cap: Capture, tracker: OrderTracker) -> None:
    submit(tracker, quantity=3.0)
    tracker.filled("c-1", 1.0, 100.0, exec_id="t-1", ts=T0 + 0.01)
    tracker.filled("c-1", 1.0, 100.0, exec_id="t-1", ts=T0 + 0.01)  # the same trade again
    tracker.filled("c-1", 1.0, 100.0, cumulative_quantity=2.0, ts=T0 + 0.02)
    tracker.filled("c-1", 1.0, 100.0, cumulative_quantity=2.0, ts=T0 + 0.02)  # repeated
    assert tracker.get("c-1")["filled_quantity"] == 2.0
    assert anomalies(cap, "duplicate") == 2
    assert events(cap, "partially_filled") == 2
    tracker.filled("c-1", 1.0, 100.0, cumulative_quantity=3.0, ts=T0 + 0.03)
    assert events(cap, "filled") == 1


def test_a_cumulative_quantity_corrects_a_missed_report(tracker: OrderTracker) -> None:
    submit(tracker, quantity=3.0)
    tracker.filled("c-1", 1.0, 100.0, cumulative_quantity=1.0)
    # the report for the second unit was lost; the next says 2.5 filled in all
    tracker.filled("c-1", 0.5, 100.0, cumulative_quantity=2.5)
    assert tracker.get("c-1")["filled_quantity"] == 2.5


def test_reports_for_unknown_and_ended_orders_are_counted_apart(
    cap: Capture, tracker: OrderTracker
) -> None:
    tracker.acked("never-sent")
    submit(tracker)
    tracker.filled("c-1", 1.0, 100.0)
    tracker.filled("c-1", 1.0, 100.0)  # a fill report repeated after the order ended
    tracker.canceled("c-1")
    assert anomalies(cap, "unknown_order") == 1
    assert anomalies(cap, "late") == 2
    assert events(cap, "filled") == 1
    assert tracker.stats()["late"] == 2


def test_an_event_timed_before_its_submit_gives_no_negative_latency(
    cap: Capture, tracker: OrderTracker
) -> None:
    submit(tracker)
    tracker.acked("c-1", ts=T0 - 0.5)  # the venue's clock is behind ours
    assert latency(cap, "ack") is None
    assert anomalies(cap, "negative_latency") == 1
    assert events(cap, "acked") == 1


def test_bad_numbers_are_counted_never_raised(cap: Capture, tracker: OrderTracker) -> None:
    submit(tracker, "nan-qty", quantity=float("nan"))
    submit(tracker, "text-qty", quantity="lots")
    submit(tracker)
    tracker.filled("c-1", 0.5, float("inf"))  # the quantity counts, the price does not
    tracker.filled("c-1", "half", 100.0)
    tracker.acked("c-1", ts="yesterday")  # type: ignore[arg-type]
    tracker.acked("c-1", ts=time.time() * 1000)  # milliseconds, as exchanges send them
    assert len(tracker) == 1
    view = tracker.get("c-1")
    assert view["filled_quantity"] == 0.5
    assert view["average_price"] is None
    assert anomalies(cap, "bad_input") == 5
    assert anomalies(cap, "duplicate") == 1  # the second ack; its bad time changed nothing
    tracker.filled("c-1", 0.5, 101.0)
    assert len(tracker) == 0  # it completes, and its slippage uses the priced fill only
    assert cap.points(sc.ORDER_SLIPPAGE)[0].sum == approx(100.0)


def test_numbers_given_as_text_are_read(tracker: OrderTracker) -> None:
    submit(tracker, quantity="0.5")
    tracker.filled("c-1", "0.5", "100.5")
    assert len(tracker) == 0


def test_the_open_orders_are_capped_and_evictions_counted(cap: Capture) -> None:
    tracker = OrderTracker(max_open=3)
    for i in range(5):
        submit(tracker, f"c-{i}")
    assert len(tracker) == 3
    assert [o["client_order_id"] for o in tracker.open_orders()] == ["c-2", "c-3", "c-4"]
    (evicted,) = cap.points(sc.ORDERS_EVICTED)
    assert evicted.value == 2
    tracker.filled("c-0", 1.0, 100.0)  # its report arrives after it was evicted
    assert anomalies(cap, "late") == 1
    (open_orders,) = cap.points(sc.ORDERS_OPEN, {sc.VENUE: "binance"})
    assert open_orders.value == 3


def test_memory_stays_bounded_by_ended_orders_leaving(tracker: OrderTracker) -> None:
    tracker.remember_closed = 100
    for i in range(1000):
        submit(tracker, f"c-{i}")
        tracker.filled(f"c-{i}", 1.0, 100.0)
    assert len(tracker) == 0
    assert len(tracker._closed) == 100


def test_open_orders_and_their_max_age_by_venue_and_strategy(tracker: OrderTracker) -> None:
    with capture(system_metrics=False, mode="backtest") as cap:
        check_open_orders_and_ages(cap, tracker)


def check_open_orders_and_ages(cap: Capture, tracker: OrderTracker) -> None:
    submit(tracker, "a", venue="binance", strategy="momo", ts=T0)
    submit(tracker, "b", venue="binance", strategy="momo", ts=T0 + 30)
    submit(tracker, "c", venue="kraken", strategy=None, ts=T0 + 50)
    tracker.acked("c", ts=T0 + 60)  # backtest time: the age is measured against it

    points = {tuple(sorted(p.attributes.items())): p.value for p in cap.points(sc.ORDERS_OPEN)}
    assert points[((sc.STRATEGY_NAME, "momo"), (sc.VENUE, "binance"))] == 2
    assert points[((sc.VENUE, "kraken"),)] == 1
    ages = {p.attributes[sc.VENUE]: p.value for p in cap.points(sc.ORDER_OPEN_MAX_AGE)}
    assert ages == {"binance": approx(60.0), "kraken": approx(10.0)}

    tracker.canceled("a", ts=T0 + 61)
    tracker.canceled("b", ts=T0 + 62)
    ages = {p.attributes[sc.VENUE]: p.value for p in cap.points(sc.ORDER_OPEN_MAX_AGE)}
    assert ages["binance"] == 0.0  # no open order left there: zero, not a stale age
    (binance,) = cap.points(sc.ORDERS_OPEN, {sc.VENUE: "binance"})
    assert binance.value == 0


def test_an_order_that_hears_nothing_more_keeps_ageing(cap: Capture, tracker: OrderTracker) -> None:
    submit(tracker, ts=time.time() - 600)  # stuck for ten minutes: the venue went silent
    (age,) = cap.points(sc.ORDER_OPEN_MAX_AGE)
    assert 599.0 < age.value < 610.0
    submit(tracker, "later", ts=None)  # submitted now: the oldest is still 10 minutes old
    (age,) = cap.points(sc.ORDER_OPEN_MAX_AGE)
    assert 599.0 < age.value < 610.0


def test_timestamps_may_be_datetimes(cap: Capture, tracker: OrderTracker) -> None:
    start = datetime(2026, 1, 5, 14, 30, tzinfo=timezone.utc)
    submit(tracker, ts=start)
    tracker.acked("c-1", ts=start.replace(microsecond=1500))
    assert latency(cap, "ack").sum == approx(0.0015)
    naive = datetime(2026, 1, 5, 14, 30, 1)  # naive: UTC
    tracker.filled("c-1", 1.0, 100.0, ts=naive)
    assert latency(cap, "fill").sum == approx(1.0)


def test_the_tracker_works_before_configure_and_reports_once_configured(
    tracker: OrderTracker,
) -> None:
    submit(tracker, "early")
    tracker.acked("early")
    assert tracker.get("early")["status"] == "acked"
    with capture(system_metrics=False) as cap:
        (open_orders,) = cap.points(sc.ORDERS_OPEN)
        assert open_orders.value == 1
        tracker.filled("early", 1.0, 100.0)
        assert events(cap, "filled") == 1
        assert cap.span("order filled").links == ()  # its submit was never traced


def test_open_orders_survive_reconfiguration(tracker: OrderTracker) -> None:
    with capture(system_metrics=False):
        submit(tracker)
    with capture(system_metrics=False) as cap:
        (open_orders,) = cap.points(sc.ORDERS_OPEN)
        assert open_orders.value == 1


def test_symbols_label_the_order_histograms_only_when_allowed(tracker: OrderTracker) -> None:
    with capture(system_metrics=False, metric_symbols=["BTC/USDT"]) as cap:
        submit(tracker, "a", symbol="btc/usdt")
        tracker.acked("a", ts=T0 + 0.001)
        submit(tracker, "b", symbol="DOGE/USDT")
        tracker.acked("b", ts=T0 + 0.001)
        symbols = {p.attributes.get(sc.SYMBOL) for p in cap.points(sc.ORDER_LATENCY)}
        assert symbols == {"BTC/USDT", None}
        assert all(sc.SYMBOL not in p.attributes for p in cap.points(sc.ORDER_EVENTS))


def test_an_unsampled_order_keeps_its_reports_unsampled(tracker: OrderTracker) -> None:
    with capture(system_metrics=False, trace_sample_rate=0.0) as cap:
        submit(tracker)
        tracker.acked("c-1")
        tracker.filled("c-1", 1.0, 100.0)
        assert cap.spans == []
        assert events(cap, "filled") == 1


def test_a_sampled_order_keeps_its_reports_sampled(tracker: OrderTracker) -> None:
    with capture(system_metrics=False, trace_sample_rate=1.0) as cap:
        submit(tracker)
        tradetel.configure(exporter="none", trace_sample_rate=0.0)  # later roots unsampled
    # the capture's pipeline is gone; sampling of reports is checked on a fresh one
    with capture(system_metrics=False, trace_sample_rate=0.5) as cap:
        for i in range(40):
            submit(tracker, f"s-{i}")
            tracker.acked(f"s-{i}")
        submits = {s.context.span_id for s in cap.spans if s.name == "order submit"}
        acks = [s for s in cap.spans if s.name == "order acked"]
        assert 0 < len(submits) < 40
        assert len(acks) == len(submits)
        assert {s.links[0].context.span_id for s in acks} == submits


def test_submitted_inside_an_order_call_uses_its_span(cap: Capture, tracker: OrderTracker) -> None:
    @tradetel.order("binance")
    def place_order(symbol: str, side: str, amount: float) -> dict[str, Any]:
        tracker.submitted("c-9", venue="binance", symbol=symbol, side=side, quantity=amount)
        return {"id": "777", "status": "open"}

    place_order("ETH/USDT", "sell", 2.0)
    tracker.acked("c-9", order_id="777")
    submit_span = cap.span("order submit")  # one submit span: the @order call's
    assert submit_span.attributes[sc.ORDER_CLIENT_ID] == "c-9"
    assert cap.span("order acked").links[0].context == submit_span.context


def test_order_span_reports_a_synchronous_order(cap: Capture, tracker: OrderTracker) -> None:
    with tradetel.order_span(
        "c-5", venue="sim", symbol="BTC/USDT", side="buy", order_type="market",
        quantity=1.0, arrival_price=100.0, tracker=tracker,
    ) as o:  # fmt: skip
        assert o.status == "new"
        o.acked("v-1")
        o.filled(1.0, 100.1)
    assert o.status is None  # filled: it left the tracker
    submit_span = cap.span("order submit")
    assert submit_span.kind is SpanKind.CLIENT
    assert submit_span.end_time > submit_span.start_time
    for name in ("order acked", "order filled"):
        report = cap.span(name)
        assert report.parent.span_id == submit_span.context.span_id
        assert report.links[0].context == submit_span.context
    assert latency(cap, "ack", venue="sim").count == 1
    assert cap.points(sc.ORDER_SLIPPAGE)[0].sum == approx(10.0)


class InsufficientFunds(Exception):
    """What an exchange client raises for a refused order (ccxt has one of this name)."""


def test_order_span_counts_a_refused_submit_as_rejected(
    cap: Capture, tracker: OrderTracker
) -> None:
    with (
        pytest.raises(InsufficientFunds),
        tradetel.order_span(venue="sim", side="buy", quantity=1.0, tracker=tracker),
    ):
        raise InsufficientFunds("binance: Account has insufficient balance")
    assert events(cap, "rejected", **{sc.REJECT_REASON: "insufficient_funds"}) == 1
    assert cap.span("order submit").status.status_code is StatusCode.ERROR
    assert len(tracker) == 0


@pytest.mark.parametrize(
    "error", [TimeoutError("no answer"), ConnectionResetError("peer"), asyncio.CancelledError()]
)
def test_order_span_leaves_an_order_of_unknown_fate_open(
    cap: Capture, tracker: OrderTracker, error: BaseException
) -> None:
    with (
        pytest.raises(type(error)),
        tradetel.order_span("c-t", venue="sim", quantity=1.0, tracker=tracker),
    ):
        raise error
    assert tracker.get("c-t")["status"] == "new"  # it may be live at the venue
    tracker.acked("c-t")  # and its reports still find it
    assert events(cap, "rejected") == 0
    assert anomalies(cap, "late") == 0


def test_secrets_in_reject_texts_and_errors_never_reach_spans(
    cap: Capture, tracker: OrderTracker
) -> None:
    url = "https://api.binance.com/api/v3/order?symbol=BTCUSDT&signature=c0ffee&apiKey=k3y"
    submit(tracker)
    tracker.rejected("c-1", reason=f"400 Bad Request for url: {url}")
    with (
        pytest.raises(InsufficientFunds),
        tradetel.order_span(venue="binance", quantity=1.0, tracker=tracker),
    ):
        raise InsufficientFunds(f"insufficient balance; url: {url} secret=hunter2")
    text = repr([(s.status.description, s.events and [e.attributes for e in s.events])
                 for s in cap.spans])  # fmt: skip
    assert "api.binance.com/api/v3/order" in text
    for secret in ("c0ffee", "k3y", "hunter2"):
        assert secret not in text


def test_reports_follow_their_orders_sampling_inside_traced_handlers(
    tracker: OrderTracker,
) -> None:
    with capture(system_metrics=False, trace_sample_rate=0.5) as cap:
        for i in range(60):
            submit(tracker, f"s-{i}")
        for i in range(60):
            with tradetel.span("websocket message"):  # sampled or not, by its own draw
                tracker.acked(f"s-{i}")
        submits = {s.context.span_id for s in cap.spans if s.name == "order submit"}
        acks = [s for s in cap.spans if s.name == "order acked"]
        assert 0 < len(submits) < 60
        assert len(acks) == len(submits)
        assert {s.links[0].context.span_id for s in acks} == submits


def test_order_span_leaves_an_acked_order_open_when_the_block_fails(
    cap: Capture, tracker: OrderTracker
) -> None:
    def trade() -> None:
        with tradetel.order_span("c-6", venue="sim", quantity=1.0, tracker=tracker) as o:
            o.acked()
            raise ConnectionError("websocket dropped")

    with pytest.raises(ConnectionError):
        trade()
    assert tracker.get("c-6")["status"] == "acked"  # it rests on the book all the same


def test_order_span_works_with_async_with(cap: Capture, tracker: OrderTracker) -> None:
    async def trade() -> None:
        async with tradetel.order_span("c-7", venue="sim", quantity=2.0, tracker=tracker) as o:
            await asyncio.sleep(0)
            o.filled(2.0, 10.0)

    asyncio.run(trade())
    assert events(cap, "filled", **{sc.VENUE: "sim"}) == 1
    assert cap.span("order filled").parent.span_id == cap.span("order submit").context.span_id


def test_order_span_without_configure_still_tracks(tracker: OrderTracker) -> None:
    with tradetel.order_span("c-8", venue="sim", quantity=1.0, tracker=tracker) as o:
        o.acked()
        assert not o.span.is_recording()
    assert tracker.get("c-8")["status"] == "acked"


def test_the_module_functions_use_the_default_tracker(cap: Capture) -> None:
    orders.default_tracker.clear()
    orders.submitted("m-1", venue="sim", side="buy", quantity=1.0)
    orders.acked("m-1")
    orders.filled("m-1", 1.0, 5.0)
    assert events(cap, "filled", **{sc.VENUE: "sim"}) == 1
    assert len(orders.default_tracker) == 0


def test_concurrent_fills_from_several_threads_add_up(tracker: OrderTracker) -> None:
    submit(tracker, quantity=4000.0)
    barrier = threading.Barrier(4)

    def fill(worker: int) -> None:
        barrier.wait()
        for i in range(1000):
            tracker.filled("c-1", 1.0, 100.0, exec_id=f"{worker}-{i}")

    threads = [threading.Thread(target=fill, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tracker) == 0
    assert tracker.stats()["overfill"] == 0


def test_a_submit_records_tick_to_trade_from_the_marked_tick(
    cap: Capture, tracker: OrderTracker
) -> None:
    with tick_to_trade.received(ts=T0 - 0.0002):
        submit(tracker, ts=T0)
    submit(tracker, "no-tick")  # outside the block: no mark, no latency
    (point,) = cap.points(sc.TICK_TO_TRADE_LATENCY)
    assert (point.count, point.sum) == (1, approx(0.0002))
    assert dict(point.attributes) == {sc.VENUE: "binance", sc.STRATEGY_NAME: "momo"}


def test_tick_to_trade_follows_the_tick_through_await_and_tasks(cap: Capture) -> None:
    async def on_tick(venue: str, delay: float) -> float | None:
        tick_to_trade.received()
        await asyncio.sleep(delay)
        return await asyncio.create_task(send(venue))

    async def send(venue: str) -> float | None:
        return tick_to_trade.sent(venue=venue, strategy="mm")

    async def main() -> list[float | None]:
        return await asyncio.gather(on_tick("a", 0.05), on_tick("b", 0.0))

    slow, fast = asyncio.run(main())
    assert slow is not None
    assert fast is not None
    assert slow >= 0.04 > fast  # each tick is timed from its own mark
    assert {p.attributes[sc.VENUE] for p in cap.points(sc.TICK_TO_TRADE_LATENCY)} == {"a", "b"}


def test_tick_to_trade_without_a_mark_records_nothing(cap: Capture) -> None:
    assert tick_to_trade.sent(venue="x") is None
    assert cap.points(sc.TICK_TO_TRADE_LATENCY) == []


def test_an_exchange_clock_behind_ours_gives_no_tick_to_trade(cap: Capture) -> None:
    with tick_to_trade.received(ts=T0):
        assert tick_to_trade.sent(venue="x", ts=T0 - 1) is None
    assert cap.points(sc.TICK_TO_TRADE_LATENCY) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_with_no_orders_even_with_a_lock_held(
    tracker: OrderTracker,
) -> None:
    submit(tracker)
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with tracker._lock:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(5)
    with warnings.catch_warnings():  # forking with a thread running is the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: no parent's order, and no lock left held by a thread it lacks
        signal.alarm(5)
        try:
            inherited = len(tracker)
            submit(tracker, "child")
            os._exit(0 if (inherited, len(tracker)) == (0, 1) else 1)
        except BaseException:
            os._exit(2)
    release.set()
    holder.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(tracker) == 1  # the parent's order is still the parent's


def test_tick_to_trade_refuses_a_millisecond_timestamp_without_raising(cap: Capture) -> None:
    with tick_to_trade.received(ts=1e300):  # nonsense: marked now instead, never raised
        assert tick_to_trade.sent(venue="x") is not None
    with tick_to_trade.received(ts=time.time() * 1000):
        latency = tick_to_trade.sent(venue="x")
    assert latency is not None
    assert latency < 1.0


def test_venues_given_as_enums_are_labelled_by_their_value(
    cap: Capture, tracker: OrderTracker
) -> None:
    class Venue(enum.Enum):
        BINANCE = "binance"

    with tick_to_trade.received():
        submit(tracker, venue=Venue.BINANCE, ts=None)
    assert cap.points(sc.TICK_TO_TRADE_LATENCY, {sc.VENUE: "binance"})
    assert events(cap, "new", **{sc.VENUE: "binance"}) == 1
