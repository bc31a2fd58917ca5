"""The ccxt and alpaca-py instrumentors, in process: the real clients against the local fake
venue (examples/fake_venue.py), with what a user sees in spans, metric points and logs."""

from __future__ import annotations

import asyncio
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import ccxt
import ccxt.async_support
import pytest
import wrapt
from opentelemetry.trace import SpanKind, StatusCode

from tradetel import semconv as sc
from tradetel.auto.alpaca import AlpacaInstrumentor
from tradetel.auto.ccxt import CcxtInstrumentor
from tradetel.orders import default_tracker
from tradetel.testing import Capture

# The fake venue is an example script, not a package: examples/ has no __init__.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from fake_venue import BINANCE_KEY, BINANCE_SECRET, FakeVenue, alpaca_client, binance_config

with warnings.catch_warnings():  # alpaca.trading imports websockets.legacy, deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.common.exceptions import APIError
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

BTC = "BTC/USDT"
RESTING_PRICE = 40_000.0  # below the fake's 50,000: a limit buy there rests


@pytest.fixture(scope="module", autouse=True)
def _instrumented() -> Iterator[None]:
    CcxtInstrumentor().instrument(track_orders=True)
    AlpacaInstrumentor().instrument(track_orders=True)
    yield
    CcxtInstrumentor().uninstrument()
    AlpacaInstrumentor().uninstrument()


@pytest.fixture
def venue() -> Iterator[FakeVenue]:
    # the instrumentors feed the default tracker, whose orders and venues would otherwise
    # carry over into the next test (and its open-order gauges into other test modules)
    default_tracker.clear()
    with FakeVenue() as v:
        yield v
    default_tracker.clear()


@pytest.fixture
def binance(venue: FakeVenue) -> Iterator[ccxt.binance]:
    """A sync ccxt client without the client-side rate limiter (its waits are 50-200 ms)."""
    exchange = ccxt.binance(binance_config(venue.url, enableRateLimit=False))
    yield exchange
    exchange.close()


@pytest.fixture
def alpaca(venue: FakeVenue) -> TradingClient:
    return alpaca_client(venue.url, retry_attempts=0)


def events(cap: Capture, status: str, **attrs: Any) -> float:
    return sum(p.value for p in cap.points(sc.ORDER_EVENTS, {sc.ORDER_STATUS: status, **attrs}))


def latency_count(cap: Capture, stage: str) -> int:
    return sum(p.count for p in cap.points(sc.ORDER_LATENCY, {sc.ORDER_STAGE: stage}))


def request_durations(cap: Capture, method: str) -> list[Any]:
    return cap.points(sc.EXCHANGE_REQUEST_DURATION, {sc.CODE_FUNCTION_NAME: method})


def spans_named(cap: Capture, name: str) -> list[Any]:
    return [s for s in cap.spans if s.name == name]


def limit_buy(exchange: ccxt.binance, client_id: str) -> dict[str, Any]:
    return exchange.create_order(
        BTC, "limit", "buy", 0.01, RESTING_PRICE, {"clientOrderId": client_id}
    )


# -- ccxt, sync ---------------------------------------------------------------------------------


def test_a_ccxt_market_order_is_an_exchange_span_with_its_ack_and_fill(
    tradetel_capture: Capture, binance: ccxt.binance
) -> None:
    answer = binance.create_order(BTC, "market", "buy", 0.01, params={"clientOrderId": "c-1"})

    span = tradetel_capture.span("exchange create_order")
    assert span.kind is SpanKind.CLIENT
    assert {k: span.attributes.get(k) for k in (
        sc.VENUE, sc.SYMBOL, sc.SIDE, sc.ORDER_TYPE, sc.ORDER_QUANTITY, sc.ORDER_CLIENT_ID,
        sc.ORDER_ID, sc.ORDER_STATUS, sc.CODE_FUNCTION_NAME,
    )} == {
        sc.VENUE: "binance", sc.SYMBOL: BTC, sc.SIDE: "buy", sc.ORDER_TYPE: "market",
        sc.ORDER_QUANTITY: 0.01, sc.ORDER_CLIENT_ID: "c-1", sc.ORDER_ID: answer["id"],
        sc.ORDER_STATUS: "filled", sc.CODE_FUNCTION_NAME: "create_order",
    }  # fmt: skip
    assert span.status.status_code is StatusCode.UNSET
    (duration,) = request_durations(tradetel_capture, "create_order")
    assert duration.count == 1
    assert dict(duration.attributes) == {
        sc.VENUE: "binance",
        sc.CODE_FUNCTION_NAME: "create_order",
    }
    assert events(tradetel_capture, "acked", **{sc.VENUE: "binance"}) == 1
    assert events(tradetel_capture, "filled", **{sc.VENUE: "binance"}) == 1
    assert latency_count(tradetel_capture, "ack") == latency_count(tradetel_capture, "fill") == 1
    for name in ("order acked", "order filled"):
        report = tradetel_capture.span(name)
        assert [link.context.span_id for link in report.links] == [span.context.span_id]
        assert report.attributes[sc.ORDER_CLIENT_ID] == "c-1"
    assert tradetel_capture.span("order filled").attributes[sc.FILL_PRICE] == 50_000.0


def test_a_resting_ccxt_limit_order_is_filled_when_a_fetch_reports_it(
    tradetel_capture: Capture, venue: FakeVenue, binance: ccxt.binance
) -> None:
    resting = limit_buy(binance, "rest-1")
    assert resting["status"] == "open"
    assert tradetel_capture.span("exchange create_order").attributes[sc.ORDER_STATUS] == "acked"
    assert events(tradetel_capture, "filled") == 0

    venue.fill_resting()
    binance.fetch_order(resting["id"], BTC)

    fetch = tradetel_capture.span("exchange fetch_order")
    assert fetch.attributes[sc.ORDER_ID] == resting["id"]
    assert fetch.attributes[sc.ORDER_OPERATION] == "query"
    filled = tradetel_capture.span("order filled")
    assert filled.attributes[sc.ORDER_CLIENT_ID] == "rest-1"
    assert filled.attributes[sc.FILL_PRICE] == RESTING_PRICE
    assert events(tradetel_capture, "filled") == 1
    assert latency_count(tradetel_capture, "fill") == 1


def test_a_ccxt_cancel_ends_the_resting_order_as_canceled(
    tradetel_capture: Capture, binance: ccxt.binance
) -> None:
    resting = limit_buy(binance, "rest-2")
    binance.cancel_order(resting["id"], BTC)

    cancel = tradetel_capture.span("exchange cancel_order")
    assert cancel.attributes[sc.ORDER_ID] == resting["id"]
    assert cancel.attributes[sc.ORDER_OPERATION] == "cancel"
    assert tradetel_capture.span("order canceled").attributes[sc.ORDER_CLIENT_ID] == "rest-2"
    assert events(tradetel_capture, "canceled") == 1
    assert latency_count(tradetel_capture, "cancel") == 1
    assert default_tracker.get("rest-2") is None  # the order ended


@pytest.mark.parametrize(
    ("amount", "error", "reason"),
    [
        (100.0, ccxt.InsufficientFunds, "insufficient_funds"),  # 5M USDT, 100k held
        (0.00005, ccxt.InvalidOrder, "invalid_order"),  # below the lot size
    ],
)
def test_a_refused_ccxt_order_is_an_error_span_and_a_rejected_order(
    tradetel_capture: Capture,
    binance: ccxt.binance,
    amount: float,
    error: type[Exception],
    reason: str,
) -> None:
    with pytest.raises(error) as raised:
        binance.create_order(BTC, "market", "buy", amount, params={"clientOrderId": "c-r"})
    assert raised.type is error  # the program's exception, unchanged

    span = tradetel_capture.span("exchange create_order")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error.__name__
    assert span.attributes[sc.REJECT_REASON] == reason
    assert events(tradetel_capture, "rejected", **{sc.REJECT_REASON: reason}) == 1
    (duration,) = request_durations(tradetel_capture, "create_order")
    assert duration.attributes[sc.ERROR_TYPE] == error.__name__
    assert default_tracker.get("c-r") is None  # a refused order is not left open


def test_a_rate_limited_ccxt_call_is_a_ddos_protection_error(
    tradetel_capture: Capture, venue: FakeVenue, binance: ccxt.binance
) -> None:
    venue.fail_next(429)
    with pytest.raises(ccxt.DDoSProtection):
        binance.fetch_balance()

    span = tradetel_capture.span("exchange fetch_balance")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "DDoSProtection"
    assert sc.REJECT_REASON not in span.attributes  # no order was refused
    (duration,) = request_durations(tradetel_capture, "fetch_balance")
    assert duration.attributes[sc.ERROR_TYPE] == "DDoSProtection"


def test_a_rate_limited_ccxt_order_is_rejected_as_rate_limited(
    tradetel_capture: Capture, venue: FakeVenue, binance: ccxt.binance
) -> None:
    binance.load_markets()  # the failure is for the order, not the market list
    venue.fail_next(429)
    with pytest.raises(ccxt.DDoSProtection):
        binance.create_order(BTC, "market", "buy", 0.01, params={"clientOrderId": "c-429"})

    span = tradetel_capture.span("exchange create_order")
    assert span.attributes[sc.ERROR_TYPE] == "DDoSProtection"
    assert span.attributes[sc.REJECT_REASON] == "rate_limited"
    assert events(tradetel_capture, "rejected", **{sc.REJECT_REASON: "rate_limited"}) == 1


def test_the_wait_in_ccxts_rate_limiter_is_recorded_per_venue(
    tradetel_capture: Capture, venue: FakeVenue
) -> None:
    # ccxt's limiter waits rateLimit ms times the request's cost (an order's is 0.2) after
    # the request before: 100 ms here, rather than binance's own 10
    exchange = ccxt.binance(binance_config(venue.url, rateLimit=500))
    try:
        exchange.load_markets()
        exchange.create_order(BTC, "market", "buy", 0.01)
    finally:
        exchange.close()

    waits = tradetel_capture.points(sc.EXCHANGE_RATELIMIT_WAIT)
    assert [dict(p.attributes) for p in waits] == [{sc.VENUE: "binance"}]
    assert waits[0].count == 2  # one per request
    assert waits[0].sum > 0.05


def test_a_subclass_calling_super_is_one_exchange_span_per_call(
    tradetel_capture: Capture, venue: FakeVenue
) -> None:
    class Bot(ccxt.binance):
        def create_order(self, *args: Any, **kwargs: Any) -> Any:
            return super().create_order(*args, **kwargs)

    exchange = Bot(binance_config(venue.url, enableRateLimit=False))
    try:
        first = exchange.create_order(BTC, "market", "buy", 0.01)
        second = exchange.create_order(BTC, "market", "sell", 0.01)
    finally:
        exchange.close()

    spans = spans_named(tradetel_capture, "exchange create_order")
    assert [s.attributes[sc.ORDER_ID] for s in spans] == [first["id"], second["id"]]
    assert [s.parent for s in spans] == [None, None]
    assert len(request_durations(tradetel_capture, "create_order")) == 1
    assert request_durations(tradetel_capture, "create_order")[0].count == 2


def test_ccxts_generic_edit_a_cancel_then_a_new_order_is_one_exchange_span(
    tradetel_capture: Capture, venue: FakeVenue
) -> None:
    class Bot(ccxt.binance):
        def edit_order(self, *args: Any, **kwargs: Any) -> Any:
            # ccxt's base class edits by calling the instrumented cancel_order and create_order
            return super(ccxt.binance, self).edit_order(*args, **kwargs)

    exchange = Bot(binance_config(venue.url, enableRateLimit=False))
    try:
        old = limit_buy(exchange, "e-1")
        tradetel_capture.clear()
        new = exchange.edit_order(
            old["id"], BTC, "limit", "buy", 0.02, RESTING_PRICE, {"clientOrderId": "e-2"}
        )
    finally:
        exchange.close()

    assert [s.name for s in tradetel_capture.spans if s.name.startswith("exchange ")] == [
        "exchange edit_order"
    ]
    edit = tradetel_capture.span("exchange edit_order")
    assert edit.attributes[sc.ORDER_OPERATION] == "amend"
    assert edit.attributes[sc.ORDER_ID] == old["id"]  # the order it changed
    assert tradetel_capture.span("order canceled").attributes[sc.ORDER_CLIENT_ID] == "e-1"
    acked = tradetel_capture.span("order acked").attributes
    assert (acked[sc.ORDER_CLIENT_ID], acked[sc.ORDER_ID]) == ("e-2", new["id"])
    assert latency_count(tradetel_capture, "cancel") == 1


def test_without_order_tracking_ccxt_calls_are_spans_and_no_order_events(
    tradetel_capture: Capture, binance: ccxt.binance
) -> None:
    CcxtInstrumentor().uninstrument()
    CcxtInstrumentor().instrument(track_orders=False)
    try:
        binance.create_order(BTC, "market", "buy", 0.01, params={"clientOrderId": "c-1"})
    finally:
        CcxtInstrumentor().uninstrument()
        CcxtInstrumentor().instrument(track_orders=True)

    span = tradetel_capture.span("exchange create_order")
    assert span.attributes[sc.ORDER_CLIENT_ID] == "c-1"
    assert len(tradetel_capture.spans) == 1  # no order acked / order filled
    assert tradetel_capture.points(sc.ORDER_EVENTS) == []
    assert default_tracker.get("c-1") is None
    assert default_tracker.stats()["open"] == 0


def test_uninstrument_restores_the_clients_own_methods(
    tradetel_capture: Capture, venue: FakeVenue, binance: ccxt.binance
) -> None:
    patched = {}
    for cls, name in (
        (ccxt.binance, "create_order"),
        (ccxt.async_support.binance, "create_order"),
        (ccxt.binance, "throttle"),  # defined on a base class
        (ccxt.async_support.binance, "throttle"),
        (TradingClient, "submit_order"),
    ):
        owner = next(c for c in cls.__mro__ if name in c.__dict__)
        patched[owner, name] = owner.__dict__[name]
    assert all(isinstance(m, wrapt.FunctionWrapper) for m in patched.values())
    CcxtInstrumentor().uninstrument()
    AlpacaInstrumentor().uninstrument()
    try:
        for (cls, name), wrapper in patched.items():
            assert cls.__dict__[name] is wrapper.__wrapped__
        binance.create_order(BTC, "market", "buy", 0.01)
        alpaca_client(venue.url).get_account()
    finally:
        CcxtInstrumentor().instrument(track_orders=True)
        AlpacaInstrumentor().instrument(track_orders=True)

    assert tradetel_capture.spans == []
    assert tradetel_capture.points(sc.EXCHANGE_REQUEST_DURATION) == []
    assert tradetel_capture.points(sc.ORDER_EVENTS) == []


# -- ccxt, async --------------------------------------------------------------------------------


def test_async_ccxt_orders_and_cancels_are_traced_like_sync_ones(
    tradetel_capture: Capture, venue: FakeVenue
) -> None:
    async def trade() -> dict[str, Any]:
        exchange = ccxt.async_support.binance(binance_config(venue.url, enableRateLimit=False))
        try:
            order = await exchange.create_order(
                BTC, "limit", "buy", 0.01, RESTING_PRICE, {"clientOrderId": "a-1"}
            )
            await exchange.cancel_order(order["id"], BTC)
            return order
        finally:
            await exchange.close()

    order = asyncio.run(trade())

    submit = tradetel_capture.span("exchange create_order")
    assert submit.kind is SpanKind.CLIENT
    assert submit.attributes[sc.ORDER_CLIENT_ID] == "a-1"
    assert submit.attributes[sc.ORDER_ID] == order["id"]
    assert submit.attributes[sc.ORDER_STATUS] == "acked"
    assert tradetel_capture.span("exchange cancel_order").attributes[sc.ORDER_ID] == order["id"]
    acked = tradetel_capture.span("order acked")
    assert [link.context.span_id for link in acked.links] == [submit.context.span_id]
    assert events(tradetel_capture, "canceled") == 1
    assert latency_count(tradetel_capture, "cancel") == 1
    assert len(request_durations(tradetel_capture, "cancel_order")) == 1


def test_concurrent_async_ccxt_orders_each_get_their_own_span(
    tradetel_capture: Capture, venue: FakeVenue
) -> None:
    venue.latency = 0.05  # long enough for the two requests to be in flight together

    async def trade() -> list[dict[str, Any]]:
        exchange = ccxt.async_support.binance(binance_config(venue.url, enableRateLimit=False))
        try:
            await exchange.load_markets()
            return await asyncio.gather(
                *(
                    exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": c})
                    for c in ("g-1", "g-2")
                )
            )
        finally:
            await exchange.close()

    answers = asyncio.run(trade())

    spans = spans_named(tradetel_capture, "exchange create_order")
    by_client = {s.attributes[sc.ORDER_CLIENT_ID]: s for s in spans}
    assert len(spans) == 2
    assert {c: s.attributes[sc.ORDER_ID] for c, s in by_client.items()} == {
        a["clientOrderId"]: a["id"] for a in answers
    }
    assert [s.parent for s in spans] == [None, None]  # neither is inside the other
    first, second = spans
    assert first.start_time < second.end_time  # and they were in flight together
    assert second.start_time < first.end_time
    for report in spans_named(tradetel_capture, "order filled"):
        (link,) = report.links
        span = by_client[report.attributes[sc.ORDER_CLIENT_ID]]
        assert link.context.span_id == span.context.span_id


# -- secrets ------------------------------------------------------------------------------------


@pytest.fixture
def requests_traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """OpenTelemetry's requests instrumentation, recording the API key header too."""
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", "X-MBX-APIKEY")
    RequestsInstrumentor().instrument()
    yield
    RequestsInstrumentor().uninstrument()


def telemetry_text(cap: Capture) -> str:
    """Everything the spans and logs of a capture show, as one text."""
    parts: list[object] = []
    for span in cap.spans:
        parts += [span.name, dict(span.attributes or {}), span.status.description]
        parts += [(e.name, dict(e.attributes or {})) for e in span.events]
    for log in cap.logs:
        parts += [log.log_record.body, dict(log.log_record.attributes or {})]
    return repr(parts)


@pytest.mark.usefixtures("requests_traced")
def test_api_keys_and_signatures_reach_the_venue_but_never_the_telemetry(
    tradetel_capture: Capture, venue: FakeVenue, binance: ccxt.binance
) -> None:
    binance.create_order(BTC, "market", "buy", 0.01)
    binance.fetch_balance()
    logging.getLogger("bot").warning(
        "GET %s headers %s",
        "https://api.binance.com/api/v3/account?timestamp=1&signature=s1gnat0re",
        {"X-MBX-APIKEY": BINANCE_KEY},
    )
    venue.stop()  # a network error: ccxt's message names the signed URL
    with pytest.raises(ccxt.NetworkError, match="signature="):
        binance.fetch_balance()

    signed = [r for r in venue.requests if r.path in ("/api/v3/order", "/api/v3/account")]
    assert len(signed) == 2
    signatures = []
    for request in signed:
        assert request.headers["X-MBX-APIKEY"] == BINANCE_KEY
        signatures.append(parse_qs(request.body or request.query)["signature"][0])
    text = telemetry_text(tradetel_capture)
    for secret in (BINANCE_KEY, BINANCE_SECRET, "signature=", "s1gnat0re", *signatures):
        assert secret not in text
    # what the secrets were in is still there, without them
    post = tradetel_capture.span("POST")
    assert post.attributes["http.request.header.x_mbx_apikey"] == ("***",)
    failed = spans_named(tradetel_capture, "exchange fetch_balance")[-1]
    assert failed.status.description.startswith("NetworkError: binance GET http://127.0.0.1:")
    assert failed.status.description.endswith("/api/v3/account")
    (log,) = [r for r in tradetel_capture.logs if str(r.log_record.body).startswith("GET ")]
    assert log.log_record.body == (
        "GET https://api.binance.com/api/v3/account headers {'X-MBX-APIKEY': '***'}"
    )


# -- alpaca-py ----------------------------------------------------------------------------------


def market(qty: float, client_id: str | None = None) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="AAPL",
        qty=qty,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        client_order_id=client_id,
    )


def resting_limit(client_id: str) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol="AAPL",
        qty=1,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        limit_price=RESTING_PRICE,
        client_order_id=client_id,
    )


def test_an_alpaca_market_order_is_an_exchange_span_with_its_ack_and_fill(
    tradetel_capture: Capture, alpaca: TradingClient
) -> None:
    order = alpaca.submit_order(market(1, "al-1"))

    span = tradetel_capture.span("exchange submit_order")
    assert span.kind is SpanKind.CLIENT
    assert {k: span.attributes.get(k) for k in (
        sc.VENUE, sc.SYMBOL, sc.SIDE, sc.ORDER_TYPE, sc.ORDER_QUANTITY, sc.ORDER_CLIENT_ID,
        sc.ORDER_ID, sc.ORDER_STATUS,
    )} == {
        sc.VENUE: "alpaca", sc.SYMBOL: "AAPL", sc.SIDE: "buy", sc.ORDER_TYPE: "market",
        sc.ORDER_QUANTITY: 1.0, sc.ORDER_CLIENT_ID: "al-1", sc.ORDER_ID: str(order.id),
        sc.ORDER_STATUS: "filled",
    }  # fmt: skip
    (duration,) = request_durations(tradetel_capture, "submit_order")
    assert duration.attributes[sc.VENUE] == "alpaca"
    assert events(tradetel_capture, "acked", **{sc.VENUE: "alpaca"}) == 1
    assert events(tradetel_capture, "filled", **{sc.VENUE: "alpaca"}) == 1
    filled = tradetel_capture.span("order filled")
    assert [link.context.span_id for link in filled.links] == [span.context.span_id]


@pytest.mark.parametrize(
    ("qty", "fail", "status", "reason", "rejected"),
    [
        (10, None, 403, "insufficient_funds", 1),  # 500k of buying power asked, 100k held
        (1, 429, 429, "rate_limited", 1),
        (0, None, 422, "invalid_order", 0),  # the tracker follows no zero-quantity order
    ],
)
def test_a_refused_alpaca_order_is_an_api_error_span_and_a_rejected_order(
    tradetel_capture: Capture,
    venue: FakeVenue,
    alpaca: TradingClient,
    qty: float,
    fail: int | None,
    status: int,
    reason: str,
    rejected: int,
) -> None:
    if fail is not None:
        venue.fail_next(fail)
    with pytest.raises(APIError) as raised:
        alpaca.submit_order(market(qty, "al-r"))
    assert raised.type is APIError
    assert raised.value.status_code == status

    span = tradetel_capture.span("exchange submit_order")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "APIError"
    assert span.attributes[sc.REJECT_REASON] == reason
    (duration,) = request_durations(tradetel_capture, "submit_order")
    assert duration.attributes[sc.ERROR_TYPE] == "APIError"
    assert events(tradetel_capture, "rejected", **{sc.REJECT_REASON: reason}) == rejected
    assert tradetel_capture.points(sc.ORDER_ANOMALIES) == []  # a refusal is no tracker error
    assert default_tracker.get("al-r") is None


def test_a_resting_alpaca_order_is_filled_when_get_order_reports_it(
    tradetel_capture: Capture, venue: FakeVenue, alpaca: TradingClient
) -> None:
    order = alpaca.submit_order(resting_limit("al-rest"))
    assert tradetel_capture.span("exchange submit_order").attributes[sc.ORDER_STATUS] == "acked"

    venue.fill_resting()
    alpaca.get_order_by_id(order.id)

    assert tradetel_capture.span("exchange get_order_by_id").attributes[sc.ORDER_ID] == str(
        order.id
    )
    filled = tradetel_capture.span("order filled")
    assert filled.attributes[sc.ORDER_CLIENT_ID] == "al-rest"
    assert filled.attributes[sc.FILL_PRICE] == RESTING_PRICE
    assert latency_count(tradetel_capture, "fill") == 1


def test_an_alpaca_cancel_is_confirmed_by_the_next_report_of_the_order(
    tradetel_capture: Capture, alpaca: TradingClient
) -> None:
    order = alpaca.submit_order(resting_limit("al-cx"))
    alpaca.cancel_order_by_id(order.id)
    assert events(tradetel_capture, "canceled") == 0  # accepted, not yet confirmed

    alpaca.get_order_by_id(order.id)

    cancel = tradetel_capture.span("exchange cancel_order_by_id")
    assert cancel.attributes[sc.ORDER_ID] == str(order.id)
    assert tradetel_capture.span("order canceled").attributes[sc.ORDER_CLIENT_ID] == "al-cx"
    assert events(tradetel_capture, "canceled") == 1
    assert latency_count(tradetel_capture, "cancel") == 1


def test_trades_of_an_order_that_already_ended_are_not_counted_again(
    tradetel_capture: Capture, binance: ccxt.binance
) -> None:
    binance.create_order(BTC, "market", "buy", 0.01, params={"clientOrderId": "t-1"})
    binance.fetch_my_trades(BTC)

    assert events(tradetel_capture, "filled") == 1
    assert tradetel_capture.points(sc.ORDER_ANOMALIES) == []


def test_a_bad_track_orders_variable_is_logged_and_orders_stay_tracked(
    tradetel_capture: Capture,
    binance: ccxt.binance,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TRADETEL_TRACK_EXCHANGE_ORDERS", "maybe")
    CcxtInstrumentor().uninstrument()
    with caplog.at_level(logging.ERROR, logger="tradetel"):
        CcxtInstrumentor().instrument()  # raises nothing: the loader would stop at it
    binance.create_order(BTC, "market", "buy", 0.01, params={"clientOrderId": "t-2"})

    assert any("TRADETEL_TRACK_EXCHANGE_ORDERS" in r.getMessage() for r in caplog.records)
    assert events(tradetel_capture, "filled") == 1


def test_a_partial_fill_seen_by_fetch_order_and_fetch_my_trades_counts_once(
    tradetel_capture: Capture, venue: FakeVenue, binance: ccxt.binance
) -> None:
    order = limit_buy(binance, "p-1")
    venue.fill_resting("p-1", fraction=0.5)
    binance.fetch_order(order["id"], BTC)  # a bot polling its order ...
    binance.fetch_my_trades(BTC)  # ... and its trades: the same half
    assert default_tracker.get("p-1")["filled_quantity"] == pytest.approx(0.005)

    venue.fill_resting("p-1")  # the rest: seen first as a trade, then by the order
    binance.fetch_my_trades(BTC)
    binance.fetch_order(order["id"], BTC)
    assert default_tracker.get("p-1") is None  # complete
    assert events(tradetel_capture, "partially_filled") == 1
    assert events(tradetel_capture, "filled") == 1
    assert tradetel_capture.points(sc.ORDER_ANOMALIES) == []


def test_a_refused_resend_of_a_live_order_id_leaves_the_live_order_open(
    tradetel_capture: Capture, binance: ccxt.binance
) -> None:
    limit_buy(binance, "live-1")
    with pytest.raises(ccxt.InvalidOrder):  # Binance: "Duplicate order sent."
        limit_buy(binance, "live-1")

    assert default_tracker.get("live-1")["status"] == "acked"
    assert events(tradetel_capture, "rejected") == 0
    (anomaly,) = tradetel_capture.points(sc.ORDER_ANOMALIES)
    assert anomaly.attributes[sc.ANOMALY] == "duplicate"


def test_an_alpaca_replace_ends_the_old_order_and_follows_the_new_one(
    tradetel_capture: Capture, venue: FakeVenue, alpaca: TradingClient
) -> None:
    from alpaca.trading.requests import ReplaceOrderRequest

    old = alpaca.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY,
                          time_in_force=TimeInForce.DAY, limit_price=1.0, client_order_id="r-1")
    )  # fmt: skip
    new = alpaca.replace_order_by_id(old.id, ReplaceOrderRequest(qty=2, limit_price=2.0))
    venue.fill_resting(new.client_order_id)
    alpaca.get_order_by_id(new.id)

    span = tradetel_capture.span("exchange replace_order_by_id")
    assert span.attributes[sc.ORDER_ID] == str(old.id)
    assert events(tradetel_capture, "canceled") == 1
    assert events(tradetel_capture, "filled") == 1
    assert default_tracker.open_orders() == []
