"""Secrets out of what leaves the process: text in, text out, and the spans and log records
that exporters and the user's own processors are given."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

import tradetel
from tradetel._export import scrub_log, scrub_span
from tradetel._scrub import MAX_ERROR_CHARS, is_secret_key, scrub, scrub_attributes, scrub_message
from tradetel.testing import Capture

SIGNED = "https://api.binance.com/api/v3/account?timestamp=1700000000000&signature=c0ffee"
UNSIGNED = "https://api.binance.com/api/v3/account"


# -- text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"GET {SIGNED} failed", f"GET {UNSIGNED} failed"),
        (f"{SIGNED}#frag", UNSIGNED),
        ("wss://stream.binance.com:9443/ws?listenKey=abc", "wss://stream.binance.com:9443/ws"),
        (
            "Max retries exceeded with url: /api/v3/order?symbol=BTCUSDT&signature=c0ffee (x)",
            "Max retries exceeded with url: /api/v3/order (x)",
        ),
        (
            "proxy https://bot:hunter2@proxy.local:8080/ refused",
            "proxy https://proxy.local:8080/ refused",
        ),
    ],
)
def test_urls_keep_their_host_and_path_but_lose_query_fragment_and_credentials(
    text: str, shown: str
) -> None:
    assert scrub(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "body timestamp=1&symbol=BTCUSDT&signature=c0ffee",
            "body timestamp=1&symbol=BTCUSDT&signature=***",
        ),
        ("apiKey=k3y passphrase=p4ss qty=1", "apiKey=*** passphrase=*** qty=1"),
        ("login failed: password = hunter2", "login failed: password = ***"),
        (
            "{'X-MBX-APIKEY': 'k', 'Accept': 'application/json'}",
            "{'X-MBX-APIKEY': '***', 'Accept': 'application/json'}",
        ),
        ("{'APCA-API-SECRET-KEY': 's'}", "{'APCA-API-SECRET-KEY': '***'}"),
        ("{'OK-ACCESS-SIGN': 's', 'OK-ACCESS-PASSPHRASE': 'p'}",
         "{'OK-ACCESS-SIGN': '***', 'OK-ACCESS-PASSPHRASE': '***'}"),
        ("{'Authorization': 'Bearer t'}", "{'Authorization': '***'}"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: ***"),
        ('{"secret": "x", "symbol": "BTC/USDT"}', '{"secret": "***", "symbol": "BTC/USDT"}'),
        ('password="two words" ok', 'password="***" ok'),
        ("{'X-MBX-APIKEY': b'k3y'}", "{'X-MBX-APIKEY': b'***'}"),
        ("sig=c0ffee&signal=buy", "sig=***&signal=buy"),
        ("secretKey=abc clientSecret=def AccessKeyId=ghi", "secretKey=*** clientSecret=*** "
         "AccessKeyId=***"),
        ('{"listenKey": "pqr", "signalStrength": 2}', '{"listenKey": "***", "signalStrength": 2}'),
    ],
)  # fmt: skip
def test_values_of_keys_that_name_a_secret_are_redacted(text: str, shown: str) -> None:
    assert scrub(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "design=1",
        "consignment=2 lots",
        "total_tokens=5",
        "signal=buy",
        "filled 0.5 BTC/USDT @ 50000 at 10:00:01",
        "see https://docs.example.com/orders for the fields",
    ],
)
def test_text_that_only_looks_like_a_secret_is_kept(text: str) -> None:
    assert scrub(text) == text


def test_a_long_message_is_cut_after_scrubbing() -> None:
    message = scrub_message(f"GET {SIGNED} " + "x" * 1000)
    assert len(message) == MAX_ERROR_CHARS
    assert message.startswith(f"GET {UNSIGNED} xxx")
    assert message.endswith("...")


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("http.request.header.x-mbx-apikey", True),
        ("http.request.header.x_mbx_apikey", True),  # the older semantic conventions
        ("http.request.header.authorization", True),
        ("http.request.header.apca-api-key-id", True),
        ("exchange.api_secret", True),
        ("url.full", False),
        ("trading.order.client_id", False),
        ("trading.consignment", False),
        ("gen_ai.usage.total_tokens", False),
        ("trading.signal", False),
    ],
)
def test_attribute_keys_that_name_a_secret(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


# -- attributes ---------------------------------------------------------------------------------


def test_clean_attributes_need_no_copy() -> None:
    attributes = {"url.full": UNSIGNED, "trading.order.quantity": 1.0, "tags": ("a", "b")}
    assert scrub_attributes(attributes) is None
    assert scrub_attributes({}) is None
    assert scrub_attributes(None) is None


def test_attributes_with_secrets_are_scrubbed_in_a_copy() -> None:
    attributes = {
        "url.full": SIGNED,
        "http.request.header.x-mbx-apikey": ("k3y",),
        "urls": [UNSIGNED, SIGNED],
        "exchange.api_secret": "s3cret",
        "retries": 2,
    }
    original = dict(attributes)

    assert scrub_attributes(attributes) == {
        "url.full": UNSIGNED,
        "http.request.header.x-mbx-apikey": ("***",),
        "urls": (UNSIGNED, UNSIGNED),
        "exchange.api_secret": "***",
        "retries": 2,
    }
    assert attributes == original


# -- spans and log records ----------------------------------------------------------------------


def readable_span(**overrides: Any) -> ReadableSpan:
    fields: dict[str, Any] = {
        "name": "exchange fetch_balance",
        "context": SpanContext(1, 2, is_remote=False, trace_flags=TraceFlags(1)),
        "attributes": {"trading.venue": "binance"},
        "events": [Event("retry", {"attempt": 1}, 5)],
        "kind": SpanKind.CLIENT,
        "status": Status(StatusCode.ERROR, "NetworkError: timeout"),
        "start_time": 1,
        "end_time": 9,
    }
    fields.update(overrides)
    return ReadableSpan(**fields)


def test_a_clean_span_is_exported_as_it_is() -> None:
    span = readable_span()
    assert scrub_span(span) is span


def test_a_span_with_secrets_is_exported_as_a_scrubbed_copy() -> None:
    span = readable_span(
        name=f"GET {SIGNED}",
        attributes={"url.full": SIGNED, "trading.venue": "binance"},
        events=[Event("exception", {"exception.message": f"GET {SIGNED}"}, 5)],
        status=Status(StatusCode.ERROR, f"NetworkError: binance GET {SIGNED}"),
    )

    clean = scrub_span(span)

    assert clean.name == f"GET {UNSIGNED}"
    assert dict(clean.attributes) == {"url.full": UNSIGNED, "trading.venue": "binance"}
    assert [(e.name, dict(e.attributes), e.timestamp) for e in clean.events] == [
        ("exception", {"exception.message": f"GET {UNSIGNED}"}, 5)
    ]
    assert clean.status.status_code is StatusCode.ERROR
    assert clean.status.description == f"NetworkError: binance GET {UNSIGNED}"
    assert (clean.context, clean.kind, clean.start_time, clean.end_time) == (
        span.context, span.kind, span.start_time, span.end_time,
    )  # fmt: skip
    assert span.attributes["url.full"] == SIGNED  # the span itself is not changed


def readable_log(body: Any, attributes: dict[str, Any]) -> ReadableLogRecord:
    return ReadableLogRecord(LogRecord(body=body, attributes=attributes), Resource.create({}))


def test_a_clean_log_record_is_exported_as_it_is() -> None:
    record = readable_log("order acked", {"trading.venue": "binance"})
    assert scrub_log(record) is record


def test_a_log_record_with_secrets_is_exported_as_a_scrubbed_copy() -> None:
    record = readable_log(f"GET {SIGNED} failed", {"api_key": "k3y", "n": 1})

    clean = scrub_log(record)

    assert clean.log_record.body == f"GET {UNSIGNED} failed"
    assert dict(clean.log_record.attributes) == {"api_key": "***", "n": 1}
    assert record.log_record.body == f"GET {SIGNED} failed"  # the record is not changed


def test_a_structured_log_body_is_scrubbed_too() -> None:
    record = readable_log({"apiKey": "k3y", "url": SIGNED, "qty": 1}, {})

    clean = scrub_log(record)

    assert clean.log_record.body == {"apiKey": "***", "url": UNSIGNED, "qty": 1}


def test_secrets_nested_in_log_attributes_are_scrubbed() -> None:
    request = {"headers": {"X-MBX-APIKEY": "KEY123"}, "params": [{"signature": "SIG456"}]}
    record = readable_log("order sent", {"request": request, "qty": 1})

    clean = scrub_log(record)

    assert clean.log_record.attributes["request"] == {
        "headers": {"X-MBX-APIKEY": "***"},
        "params": ({"signature": "***"},),
    }
    assert clean.log_record.attributes["qty"] == 1


@pytest.mark.parametrize("header", ["key", "KEY", "x-mbx-apikey", "apca-api-secret-key"])
def test_an_api_key_header_attribute_is_redacted(header: str) -> None:
    assert is_secret_key(f"http.request.header.{header}")


# -- through configure() ------------------------------------------------------------------------


@pytest.fixture
def processors() -> Iterator[tuple[InMemorySpanExporter, InMemoryLogRecordExporter]]:
    """tradetel configured with a user's own span and log processors (and no exporter)."""
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    tradetel.configure(
        exporter="none",
        system_metrics=False,
        additional_span_processors=[SimpleSpanProcessor(spans)],
        additional_log_processors=[SimpleLogRecordProcessor(logs)],
    )
    yield spans, logs
    tradetel.shutdown()


def test_the_users_span_processor_is_given_spans_without_secrets(
    processors: tuple[InMemorySpanExporter, InMemoryLogRecordExporter],
) -> None:
    spans, _ = processors
    with tradetel.span("fetch balance") as span:
        span.set_attribute("url.full", SIGNED)
        span.set_attribute("http.request.header.x-mbx-apikey", "k3y")
        span.add_event("retry", {"url.full": SIGNED})
    # a span of another instrumentation, through the global tracer provider
    with trace.get_tracer("requests").start_as_current_span(f"GET {SIGNED}"):
        pass

    ours, theirs = spans.get_finished_spans()
    assert ours.attributes["url.full"] == UNSIGNED
    assert ours.attributes["http.request.header.x-mbx-apikey"] == "***"
    assert ours.events[0].attributes["url.full"] == UNSIGNED
    assert theirs.name == f"GET {UNSIGNED}"


def test_the_users_log_processor_is_given_records_without_secrets(
    processors: tuple[InMemorySpanExporter, InMemoryLogRecordExporter],
) -> None:
    _, logs = processors
    logging.getLogger("bot").warning(
        "GET %s headers %s", SIGNED, {"X-MBX-APIKEY": "k3y"}, extra={"api_key": "k3y"}
    )

    (record,) = logs.get_finished_logs()
    assert record.log_record.body == f"GET {UNSIGNED} headers {{'X-MBX-APIKEY': '***'}}"
    assert record.log_record.attributes["api_key"] == "***"


def test_an_exception_recorded_on_a_span_is_scrubbed_when_recorded(
    tradetel_capture: Capture,
) -> None:
    with pytest.raises(ConnectionError), tradetel.span("fetch balance") as span:
        raise ConnectionError(f"GET {SIGNED} failed")

    # the live span already holds the scrubbed text: nothing that reads it sees the secret
    (event,) = span.events
    assert event.attributes["exception.message"] == f"GET {UNSIGNED} failed"
    assert "c0ffee" not in event.attributes["exception.stacktrace"]
    assert span.status.description == f"ConnectionError: GET {UNSIGNED} failed"
    exported = tradetel_capture.span("fetch balance")
    assert exported.status.description == f"ConnectionError: GET {UNSIGNED} failed"
