"""The decorators as users apply them: every kind of function, every form of the decorator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import tradetel
from tradetel import semconv as sc
from tradetel.testing import capture


def _current_span_id() -> int:
    return trace.get_current_span().get_span_context().span_id


# -- forms of the decorators ----------------------------------------------------------------
def test_instrument_bare_names_the_span_after_the_qualified_name() -> None:
    @tradetel.instrument
    def compute(x: int) -> int:
        return x * 2

    with capture() as cap:
        assert compute(21) == 42
    span = cap.span("test_instrument_bare_names_the_span_after_the_qualified_name.<locals>.compute")
    assert span.kind is SpanKind.INTERNAL
    assert span.attributes[sc.CODE_FUNCTION_NAME].endswith("compute")
    (point,) = cap.points(sc.CALL_DURATION)
    assert point.count == 1
    assert point.attributes == {sc.CODE_FUNCTION_NAME: span.attributes[sc.CODE_FUNCTION_NAME]}


def test_instrument_with_arguments_sets_name_attributes_and_recorded_args() -> None:
    @tradetel.instrument("risk check", attributes={"venue": "binance"}, record_args=("limit",))
    def check(position: float, limit: float) -> bool:
        return position < limit

    with capture() as cap:
        assert check(1.0, limit=5.0) is True
    span = cap.span("risk check")
    assert span.attributes[sc.VENUE] == "binance"
    assert span.attributes["limit"] == 5.0


def test_instrument_with_empty_parentheses_is_the_bare_form() -> None:
    @tradetel.instrument()
    def step() -> None:
        pass

    with capture() as cap:
        step()
    assert [s.name for s in cap.spans] == [step.__qualname__]


def test_record_args_naming_a_missing_argument_is_an_error_at_decoration() -> None:
    with pytest.raises(tradetel.ConfigError, match=r"record_args names \['nope'\]"):

        @tradetel.instrument(record_args=("nope",))
        def f(x: int) -> None:
            pass


def test_sample_rate_outside_zero_to_one_is_an_error_at_decoration() -> None:
    with pytest.raises(tradetel.ConfigError, match="sample_rate must be a number from 0 to 1"):
        tradetel.instrument(sample_rate=1.5)


def test_decorated_function_keeps_its_name_docstring_and_wrapped() -> None:
    def original(a: int) -> int:
        """Docs."""
        return a

    decorated = tradetel.instrument(original)
    assert decorated.__name__ == "original"
    assert decorated.__doc__ == "Docs."
    assert decorated.__wrapped__ is original  # type: ignore[attr-defined]


# -- kinds of function ---------------------------------------------------------------------
class Bot:
    def __init__(self) -> None:
        self.steps = 0

    @tradetel.strategy("momentum")
    def on_tick(self, price: float) -> str:
        self.steps += 1
        return "buy" if price > 100 else "hold"

    @tradetel.instrument
    @classmethod
    def create(cls) -> Bot:
        return cls()

    @staticmethod
    @tradetel.instrument
    def helper(x: int) -> int:
        return x + 1


def test_methods_classmethods_and_staticmethods_are_traced() -> None:
    with capture() as cap:
        bot = Bot.create()
        assert bot.on_tick(101.0) == "buy"
        assert Bot.helper(1) == 2
        assert bot.steps == 1
    names = [s.name for s in cap.spans]
    assert names == ["Bot.create", "strategy momentum", "Bot.helper"]
    assert (
        cap.span("strategy momentum").attributes[sc.CODE_FUNCTION_NAME]
        == "test_decorators.Bot.on_tick"
    )


def test_async_function_span_covers_the_await_and_parents_inner_spans() -> None:
    @tradetel.instrument
    async def inner() -> int:
        await asyncio.sleep(0)
        return 1

    @tradetel.strategy("async-strat")
    async def outer() -> int:
        await asyncio.sleep(0.01)
        return await inner() + 1

    with capture() as cap:
        assert asyncio.run(outer()) == 2
    parent = cap.span("strategy async-strat")
    child = cap.span(inner.__qualname__)
    assert child.parent is not None
    assert child.parent.span_id == parent.context.span_id
    assert parent.end_time - parent.start_time >= 10_000_000  # the 10 ms await is inside


def test_generator_span_covers_the_whole_iteration_and_not_the_consumer() -> None:
    seen_inside: list[int] = []

    @tradetel.instrument
    def ticks(n: int) -> Iterator[int]:
        for i in range(n):
            seen_inside.append(_current_span_id())
            yield i

    with capture() as cap:
        gen = ticks(3)
        consumer_ids = []
        for value in gen:
            consumer_ids.append(_current_span_id())
            assert value in (0, 1, 2)
        assert cap.spans[0].name == ticks.__qualname__  # ended after the last item
    span = cap.span(ticks.__qualname__)
    assert set(seen_inside) == {span.context.span_id}  # current inside the generator body
    assert span.context.span_id not in consumer_ids  # never held across the yield


def test_generator_forwards_send_throw_and_close() -> None:
    @tradetel.instrument
    def accumulator() -> Iterator[int]:
        total = 0
        while True:
            try:
                value = yield total
            except ValueError:
                value = -100
            total += value

    with capture() as cap:
        gen = accumulator()
        assert next(gen) == 0
        assert gen.send(5) == 5
        assert gen.throw(ValueError("reset")) == -95
        gen.close()
    span = cap.span(accumulator.__qualname__)
    assert span.status.status_code is StatusCode.UNSET  # closing early is not an error


def test_generator_return_value_reaches_yield_from() -> None:
    @tradetel.instrument
    def inner() -> Iterator[int]:
        yield 1
        return 42

    def outer() -> Iterator[int]:
        result = yield from inner()
        yield result

    with capture():
        assert list(outer()) == [1, 42]


def test_async_generator_span_covers_iteration_and_forwards_asend_athrow_aclose() -> None:
    inside: list[int] = []

    @tradetel.instrument
    async def stream() -> AsyncIterator[int]:
        total = 0
        while True:
            inside.append(_current_span_id())
            try:
                value = yield total
            except KeyError:
                value = 1000
            total += value or 0

    async def consume() -> list[Any]:
        agen = stream()
        out = [await agen.__anext__(), await agen.asend(2), await agen.athrow(KeyError("x"))]
        out.append(_current_span_id())
        await agen.aclose()
        return out

    with capture() as cap:
        a, b, c, consumer_span = asyncio.run(consume())
    assert (a, b, c) == (0, 2, 1002)
    span = cap.span(stream.__qualname__)
    assert set(inside) == {span.context.span_id}
    assert consumer_span != span.context.span_id


def test_async_generator_exception_is_recorded_and_propagates() -> None:
    @tradetel.instrument
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise RuntimeError("feed lost")

    async def consume() -> list[int]:
        return [x async for x in failing()]

    with capture() as cap, pytest.raises(RuntimeError, match="feed lost"):
        asyncio.run(consume())
    span = cap.span(failing.__qualname__)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "RuntimeError"


def test_async_generator_before_configure_passes_values_through() -> None:
    @tradetel.instrument
    async def numbers() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    async def consume() -> list[int]:
        return [x async for x in numbers()]

    assert asyncio.run(consume()) == [0, 1, 2]


# -- exceptions ----------------------------------------------------------------------------
def test_exception_is_recorded_with_error_type_and_reraised_unchanged() -> None:
    class VenueDown(Exception):
        pass

    error = VenueDown("no route")

    @tradetel.order("binance")
    def submit(symbol: str) -> None:
        raise error

    with capture() as cap:
        with pytest.raises(VenueDown) as raised:
            submit("BTC/USDT")
        assert raised.value is error
        (point,) = cap.points(sc.ORDER_DURATION)
    span = cap.span("order submit")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "VenueDown"
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.message"] == "no route"
    assert point.attributes[sc.ERROR_TYPE] == "VenueDown"


# -- @order --------------------------------------------------------------------------------
def test_order_reads_trading_arguments_and_the_returned_id_and_status() -> None:
    @tradetel.order("binance", instrument_kind="spot")
    def create_order(symbol: str, type: str, side: str, amount: float, price: float | None = None):
        return {"id": "8812", "status": "open"}

    with capture() as cap:
        create_order("BTC/USDT", "LIMIT", side="BUY", amount=0.5, price=64000.0)
        (point,) = cap.points(sc.ORDER_DURATION)
    span = cap.span("order submit")
    assert span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes)
    assert attrs[sc.VENUE] == "binance"
    assert attrs[sc.ORDER_OPERATION] == "submit"
    assert attrs[sc.SYMBOL] == "BTC/USDT"
    assert attrs[sc.ORDER_TYPE] == "limit"
    assert attrs[sc.SIDE] == "buy"
    assert attrs[sc.ORDER_QUANTITY] == 0.5
    assert attrs[sc.ORDER_PRICE] == 64000.0
    assert attrs[sc.ORDER_ID] == "8812"
    assert attrs[sc.ORDER_STATUS] == "acked"  # ccxt's "open": the venue accepted it
    assert attrs[sc.INSTRUMENT_KIND] == "spot"
    # metrics carry only bounded attributes: no symbol, id, price or quantity
    assert point.attributes == {
        sc.VENUE: "binance",
        sc.ORDER_OPERATION: "submit",
        sc.ORDER_TYPE: "limit",
        sc.INSTRUMENT_KIND: "spot",
    }


def test_order_result_object_with_id_and_status_attributes() -> None:
    class Ack:
        id = 77
        status = "filled"

    @tradetel.order("alpaca", operation="amend")
    def replace(client_order_id: str) -> Ack:
        return Ack()

    with capture() as cap:
        replace("c-1")
    span = cap.span("order amend")
    assert span.attributes[sc.ORDER_ID] == "77"
    assert span.attributes[sc.ORDER_STATUS] == "filled"
    assert span.attributes[sc.ORDER_CLIENT_ID] == "c-1"


def test_bare_order_takes_the_venue_from_a_venue_argument() -> None:
    @tradetel.order
    def cancel(venue: str, order_id: str) -> None:
        pass

    with capture() as cap:
        cancel("kraken", "1")
        cancel("okx", "2")
        venues = sorted(p.attributes[sc.VENUE] for p in cap.points(sc.ORDER_DURATION))
    assert venues == ["kraken", "okx"]
    assert {s.attributes[sc.VENUE] for s in cap.spans} == {"kraken", "okx"}


def test_symbol_is_a_metric_label_only_for_configured_symbols() -> None:
    @tradetel.order("binance")
    def submit(symbol: str) -> None:
        pass

    with capture(metric_symbols=["BTC/USDT"]) as cap:
        submit("BTC/USDT")
        submit("DOGE/USDT")
        labels = sorted(str(p.attributes.get(sc.SYMBOL)) for p in cap.points(sc.ORDER_DURATION))
    assert labels == ["BTC/USDT", "None"]


# -- @strategy -----------------------------------------------------------------------------
def test_bare_strategy_uses_the_qualified_name_for_span_and_strategy_name() -> None:
    @tradetel.strategy
    def mean_revert() -> None:
        pass

    with capture() as cap:
        mean_revert()
        (point,) = cap.points(sc.STRATEGY_DURATION)
    span = cap.span(mean_revert.__qualname__)
    assert span.attributes[sc.STRATEGY_NAME] == mean_revert.__qualname__
    assert point.attributes[sc.STRATEGY_NAME] == mean_revert.__qualname__


# -- sampling and metrics --------------------------------------------------------------------
def test_metrics_are_recorded_for_every_call_even_when_no_trace_is_sampled() -> None:
    @tradetel.order("binance")
    def submit() -> None:
        pass

    with capture(trace_sample_rate=0.0) as cap:
        for _ in range(25):
            submit()
        (point,) = cap.points(sc.ORDER_DURATION)
    assert cap.spans == []
    assert point.count == 25
    assert list(point.explicit_bounds) == list(sc.LATENCY_BUCKETS)
    assert sum(point.bucket_counts) == 25


def test_sampled_duration_carries_an_exemplar_of_its_span() -> None:
    @tradetel.order("binance")
    def submit() -> None:
        pass

    with capture() as cap:
        submit()
        (point,) = cap.points(sc.ORDER_DURATION)
    span = cap.span("order submit")
    (exemplar,) = point.exemplars
    assert exemplar.trace_id == span.context.trace_id
    assert exemplar.span_id == span.context.span_id


def test_children_of_an_unsampled_root_are_not_sampled() -> None:
    tracer = trace.get_tracer("third-party")

    @tradetel.instrument(sample_rate=1.0)
    def inner() -> None:
        with tracer.start_as_current_span("http GET"):
            pass

    @tradetel.strategy("s")
    def outer() -> None:
        inner()

    with capture(trace_sample_rate=0.0) as cap:
        outer()
        inner()  # on its own it is a root, and its own sample_rate applies
    assert sorted(s.name for s in cap.spans) == ["http GET", inner.__qualname__]


def test_decorator_sample_rate_zero_drops_its_traces_but_not_its_metrics() -> None:
    @tradetel.instrument(sample_rate=0.0)
    def noisy() -> None:
        pass

    with capture(trace_sample_rate=1.0) as cap:
        noisy()
        noisy()
        (point,) = cap.points(sc.CALL_DURATION)
    assert cap.spans == []
    assert point.count == 2


def test_spans_of_other_instrumentations_nest_both_ways() -> None:
    tracer = trace.get_tracer("third-party")

    @tradetel.order("binance")
    def submit() -> None:
        with tracer.start_as_current_span("POST /api/v3/order"):
            pass

    with capture() as cap, tracer.start_as_current_span("handle tick"):
        submit()
    tick, order_span, http = (
        cap.span(n) for n in ("handle tick", "order submit", "POST /api/v3/order")
    )
    assert order_span.parent is not None
    assert order_span.parent.span_id == tick.context.span_id
    assert http.parent is not None
    assert http.parent.span_id == order_span.context.span_id
    assert tick.context.trace_id == order_span.context.trace_id == http.context.trace_id


def test_decorators_applied_before_configure_record_once_it_runs() -> None:
    @tradetel.strategy("early")
    def step() -> int:
        return 7

    assert step() == 7  # not configured: runs, records nothing
    with capture() as cap:
        assert step() == 7
    assert [s.name for s in cap.spans] == ["strategy early"]
    assert step() == 7  # shut down again: still runs


def test_kill_switch_returns_the_function_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    def f() -> None:
        pass

    monkeypatch.setenv("TRADETEL_DISABLED", "1")
    assert tradetel.instrument(f) is f
    assert tradetel.order("binance")(f) is f
    monkeypatch.delenv("TRADETEL_DISABLED")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tradetel.strategy("s")(f) is f


def test_partials_and_callable_objects_are_named_after_what_they_call() -> None:
    import functools

    def submit(venue: str, symbol: str) -> str:
        return f"{venue}:{symbol}"

    class Router:
        def __call__(self) -> int:
            return 1

    with capture() as cap:
        assert tradetel.instrument(functools.partial(submit, "binance"))("BTC/USDT") == (
            "binance:BTC/USDT"
        )
        assert tradetel.instrument(Router())() == 1
    assert [s.name for s in cap.spans] == [submit.__qualname__, Router.__qualname__]
    # code.function.name names the module of the function a partial calls, not functools's
    assert (
        cap.spans[0].attributes[sc.CODE_FUNCTION_NAME] == f"test_decorators.{submit.__qualname__}"
    )


def test_decorator_sample_rate_zero_also_keeps_what_it_calls_out_of_traces() -> None:
    from opentelemetry import baggage, context

    tracer = trace.get_tracer("third-party")

    @tradetel.order("binance")
    def submit() -> None:
        with tracer.start_as_current_span("POST /order"):
            pass

    @tradetel.instrument(sample_rate=0.0)
    def heartbeat() -> None:
        token = context.attach(baggage.set_baggage("desk", "crypto"))  # a new context
        try:
            submit()
        finally:
            context.detach(token)

    with capture(trace_sample_rate=1.0) as cap:
        heartbeat()
        (point,) = cap.points(sc.ORDER_DURATION)
    assert cap.spans == []
    assert point.count == 1


def test_venue_read_from_an_argument_is_kept_as_given() -> None:
    @tradetel.order
    def submit(venue: str) -> None:
        pass

    with capture() as cap:
        submit("Kraken")
        (point,) = cap.points(sc.ORDER_DURATION)
    assert point.attributes[sc.VENUE] == "Kraken"
    assert cap.span("order submit").attributes[sc.VENUE] == "Kraken"


def test_async_generator_before_configure_still_forwards_asend_and_athrow() -> None:
    @tradetel.instrument
    async def running_total() -> AsyncIterator[int]:
        total = 0
        while True:
            try:
                total += (yield total) or 0
            except KeyError:
                total = -1

    async def consume() -> list[int]:
        agen = running_total()
        out = [await agen.__anext__(), await agen.asend(5), await agen.athrow(KeyError())]
        await agen.aclose()
        return out

    assert asyncio.run(consume()) == [0, 5, -1]


def test_generator_called_with_wrong_arguments_ends_its_span_with_the_error() -> None:
    @tradetel.instrument
    def ticks(n: int) -> Iterator[int]:
        yield from range(n)

    with capture() as cap, pytest.raises(TypeError):
        list(ticks(1, 2))  # type: ignore[call-arg]
    assert cap.span(ticks.__qualname__).attributes[sc.ERROR_TYPE] == "TypeError"


class _Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("repr is broken")


def test_an_argument_that_cannot_be_shown_does_not_leave_the_span_current() -> None:
    @tradetel.instrument(record_args=("position",))
    def rebalance(position: object) -> str:
        return "done"

    with capture() as cap:
        assert rebalance(_Unprintable()) == "done"
        assert not trace.get_current_span().get_span_context().is_valid
    assert cap.span(rebalance.__qualname__).attributes["position"] == (
        "<_Unprintable that cannot be shown>"
    )


def test_a_name_that_is_not_text_is_an_error_at_decoration() -> None:
    import enum

    class Step(enum.Enum):
        REBALANCE = 1

    with pytest.raises(tradetel.ConfigError, match="@instrument: the name must be a string"):
        tradetel.instrument(Step.REBALANCE)  # type: ignore[call-overload]
    with pytest.raises(tradetel.ConfigError, match="@strategy: the name must be a string"):
        tradetel.strategy(Step.REBALANCE)  # type: ignore[call-overload]


def test_a_generator_closed_early_runs_its_cleanup_inside_its_span() -> None:
    seen_in_finally: list[int] = []

    @tradetel.instrument
    def feed() -> Iterator[int]:
        try:
            yield 1
            yield 2
        finally:
            seen_in_finally.append(_current_span_id())

    with capture() as cap:
        gen = feed()
        next(gen)
        gen.close()
    assert seen_in_finally == [cap.span(feed.__qualname__).context.span_id]


def test_span_block_left_by_generator_exit_is_not_an_error() -> None:
    def ticks() -> Iterator[int]:
        with tradetel.span("tick loop"):
            yield 1
            yield 2

    with capture() as cap:
        gen = ticks()
        next(gen)
        gen.close()
    assert cap.span("tick loop").status.status_code is StatusCode.UNSET
