"""The stdlib logging bridge."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk._logs import LogRecordProcessor

import tradetel
from tradetel.testing import capture


def test_log_records_inside_a_span_carry_its_trace_and_span_ids() -> None:
    log = logging.getLogger("bot.test_logs")
    log.setLevel(logging.INFO)

    @tradetel.strategy("logger")
    def step() -> None:
        log.info("signal %s", "buy")

    with capture() as cap:
        step()
        log.info("outside")
    span = cap.span("strategy logger")
    inside, outside = cap.logs
    assert inside.log_record.body == "signal buy"
    assert inside.log_record.trace_id == span.context.trace_id
    assert inside.log_record.span_id == span.context.span_id
    assert outside.log_record.body == "outside"
    assert not outside.log_record.trace_id


def test_bridge_adds_no_root_handler_so_basic_config_still_works() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    with capture():
        assert root.handlers == before


def test_records_of_loggers_below_their_level_are_not_bridged() -> None:
    log = logging.getLogger("bot.quiet")
    log.setLevel(logging.WARNING)
    with capture() as cap:
        log.info("too detailed")
        log.warning("kept")
    assert [r.log_record.body for r in cap.logs] == ["kept"]


def test_tradetel_and_opentelemetry_loggers_are_not_bridged() -> None:
    with capture() as cap:
        logging.getLogger("tradetel").warning("internal")
        logging.getLogger("opentelemetry.exporter").warning("exporter noise")
        logging.getLogger("tradetel_bot").warning("a user's logger with a similar name")
    assert [r.log_record.body for r in cap.logs] == ["a user's logger with a similar name"]


def test_logs_false_bridges_nothing() -> None:
    with capture(logs=False) as cap:
        logging.getLogger("bot").warning("not exported")
    assert cap.logs == []


def test_bridge_stops_after_shutdown(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    class Recorder(LogRecordProcessor):
        def on_emit(self, log_record: Any) -> None:
            seen.append(log_record.log_record.body)

        def shutdown(self) -> None:  # keeps recording: only the bridge can stop the records
            pass

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    tradetel.configure(exporter="none", additional_log_processors=[Recorder()])
    logging.getLogger("bot").warning("before")
    tradetel.shutdown()
    logging.getLogger("bot").warning("after")
    assert seen == ["before"]
    assert "after" in caplog.text  # the program's own logging is untouched
