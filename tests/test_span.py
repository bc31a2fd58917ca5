"""``tradetel.span``: the context manager, sync and async."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

import tradetel
from tradetel import semconv as sc
from tradetel.testing import capture


def test_span_records_short_name_attributes_and_nests() -> None:
    attrs = {"venue": "binance", "custom.key": 3}
    with capture() as cap, tradetel.span("rebalance", **attrs) as outer:
        outer.set_attribute("trading.positions", 4)
        with tradetel.span("rebalance leg", symbol="ETH/USDT"):
            pass
    parent, child = cap.span("rebalance"), cap.span("rebalance leg")
    assert parent.attributes == {sc.VENUE: "binance", "custom.key": 3, "trading.positions": 4}
    assert child.attributes[sc.SYMBOL] == "ETH/USDT"
    assert child.parent is not None
    assert child.parent.span_id == parent.context.span_id


def test_span_records_an_escaping_exception_and_lets_it_propagate() -> None:
    with capture() as cap, pytest.raises(KeyError), tradetel.span("lookup"):
        raise KeyError("BTC")
    span = cap.span("lookup")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "KeyError"
    assert span.events[0].attributes["exception.type"] == "KeyError"


def test_async_with_span_covers_the_awaited_block() -> None:
    async def work() -> None:
        async with tradetel.span("fetch book") as s:
            s.add_event("snapshot", {"levels": 20})
            await asyncio.sleep(0.005)

    with capture() as cap:
        asyncio.run(work())
    span = cap.span("fetch book")
    assert span.end_time - span.start_time >= 5_000_000
    assert span.events[0].name == "snapshot"
    assert span.events[0].attributes == {"levels": 20}


def test_span_before_configure_yields_a_non_recording_span() -> None:
    with tradetel.span("nothing") as s:
        s.set_attribute("x", 1)  # accepted, ignored
        assert not s.is_recording()


def test_unencodable_attribute_values_become_text() -> None:
    class Position:
        def __repr__(self) -> str:
            return "Position(BTC, 1.5)"

    with capture() as cap, tradetel.span("s") as s:
        s.set_attribute("position", Position())
        s.set_attribute("big", 2**70)
        s.set_attribute("levels", [1.0, 2.0])
    attrs = cap.span("s").attributes
    assert attrs["position"] == "Position(BTC, 1.5)"
    assert attrs["big"] == str(2**70)
    assert tuple(attrs["levels"]) == (1.0, 2.0)


def test_text_that_is_not_valid_unicode_is_kept_with_the_bad_part_escaped() -> None:
    with capture() as cap, tradetel.span("s") as s:
        s.set_attribute("reason", "bad \ud800 byte")
        s.set_attribute("tags", ["ok", "also \udfff"])
    attrs = cap.span("s").attributes
    assert attrs["reason"] == "bad \\ud800 byte"
    assert tuple(attrs["tags"]) == ("ok", "also \\udfff")


def test_set_attribute_with_a_value_that_cannot_be_shown_never_raises() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise ValueError("no")

    with capture() as cap, tradetel.span("s") as s:
        s.set_attribute("x", Broken())
        s.add_event("e", {"y": Broken()})
    span = cap.span("s")
    assert span.attributes["x"] == "<Broken that cannot be shown>"
    assert span.events[0].attributes == {"y": "<Broken that cannot be shown>"}


def test_an_enum_attribute_is_recorded_as_its_value() -> None:
    import enum

    class Side(str, enum.Enum):
        BUY = "buy"

    with capture() as cap, tradetel.span("s") as s:
        s.set_attribute("trading.side", Side.BUY)
    assert cap.span("s").attributes["trading.side"] == "buy"
