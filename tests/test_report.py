"""``tradetel report``: the order-latency report of telemetry files the SDK really wrote."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

import tradetel
from tradetel import performance
from tradetel.alerts._model import Alert
from tradetel.alerts.notify import History
from tradetel.cli import cli
from tradetel.cli._report import parse_time
from tradetel.orders import OrderTracker
from tradetel.report import build_report, render
from tradetel.report._metrics import bucket_quantile

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc).timestamp()
MS = 1e-3


@pytest.fixture(autouse=True)
def _plain_output(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Variables that would make rich colour output that is not a terminal.
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    performance.reset()
    yield
    performance.reset()


def submit(tracker: OrderTracker, coid: str, venue: str, at: float, **fields: Any) -> None:
    order: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "side": "buy",
        "order_type": "limit",
        "quantity": 1.0,
        "price": 100.0,
        "arrival_price": 100.0,
        "strategy": "momo",
    }
    order.update(fields)
    tracker.submitted(coid, venue=venue, ts=at, **order)


def trade(tracker: OrderTracker) -> None:
    """Six orders on two venues, timed by the venue's clock (``ts``), so latencies are known.

    binance acks in 2, 4 and 3 ms; c-2 is the slowest to answer (acked after 4 ms, filled
    after 250 ms), then c-3 (rejected after 4 ms), then c-4 (acked after 3 ms).
    """
    submit(tracker, "c-1", "binance", T0)
    tracker.acked("c-1", order_id="b-1", ts=T0 + 2 * MS)
    tracker.filled("c-1", 1.0, 100.05, ts=T0 + 10 * MS)  # +5 bp

    submit(tracker, "c-2", "binance", T0 + 1)
    tracker.acked("c-2", order_id="b-2", ts=T0 + 1 + 4 * MS)
    tracker.filled("c-2", 0.5, 100.0, ts=T0 + 1 + 20 * MS)
    tracker.filled("c-2", 0.5, 100.2, ts=T0 + 1 + 250 * MS)  # average 100.1: +10 bp

    submit(tracker, "c-3", "binance", T0 + 2, quantity=50.0)
    tracker.rejected("c-3", reason="Account has insufficient balance", ts=T0 + 2 + 4 * MS)

    submit(tracker, "c-4", "binance", T0 + 3)
    tracker.acked("c-4", order_id="b-4", ts=T0 + 3 + 3 * MS)
    tracker.cancel_requested("c-4", ts=T0 + 3 + 50 * MS)
    tracker.canceled("c-4", ts=T0 + 3 + 80 * MS)

    submit(tracker, "k-1", "kraken", T0 + 4, side="sell")
    tracker.acked("k-1", order_id="k-1", ts=T0 + 4 + 0.8 * MS)
    tracker.filled("k-1", 1.0, 99.9, ts=T0 + 4 + 30 * MS)

    submit(tracker, "k-2", "kraken", T0 + 5)
    tracker.rejected("k-2", reason="Too many requests: rate limit exceeded", ts=T0 + 5 + 1 * MS)


def perform() -> None:
    perf = performance.tracker("momo")
    for equity in (10_000.0, 10_100.0, 9_900.0, 10_200.0):
        perf.update_equity(equity)
    for pnl in (50.0, -20.0, 30.0):
        perf.record_trade(pnl)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A session of the standard trades, its performance and a warning, written to files."""
    tradetel.configure(service_name="bot", exporter="file", data_dir=tmp_path, system_metrics=False)
    trade(OrderTracker())
    perform()
    logging.getLogger("tests.bot").warning("venue slow")
    assert tradetel.shutdown() is True
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["report", *args])
    return result.exit_code, result.output


def report_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["report", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def line_of(text: str, *words: str) -> str:
    """The one line of ``text`` holding all ``words``."""
    (found,) = [line for line in text.splitlines() if all(w in line.split() for w in words)]
    return found


def section(text: str, title: str) -> str:
    """The lines of a section, from its title to the next blank line before a title."""
    start = text.index(title)
    end = text.find("\n\n", start)
    return text[start : end if end >= 0 else None]


# -- latency -------------------------------------------------------------------------------------
def test_the_latency_table_has_a_row_per_venue_and_stage_with_counts(data_dir: Path) -> None:
    code, out = run(str(data_dir))
    assert code == 0, out
    table = section(out, "Order latency by venue and stage")
    assert line_of(table, "binance", "ack").split()[2] == "3"
    assert line_of(table, "binance", "first_fill").split()[2] == "2"
    assert line_of(table, "binance", "fill").split()[2] == "2"
    assert line_of(table, "binance", "cancel").split()[2] == "1"
    assert line_of(table, "kraken", "ack").split()[2] == "1"
    stages = [line.split()[1] for line in table.splitlines() if line.startswith("binance")]
    assert stages == ["ack", "first_fill", "fill", "cancel"]  # in lifecycle order


def test_p99_is_interpolated_in_its_bucket_and_max_is_exact(data_dir: Path) -> None:
    # acks of 2, 3 and 4 ms: one in (1, 2.5] ms, two in (2.5, 5] ms. The rank 0.99 * 3 = 2.97
    # lies 1.97 of the way into the second bucket's 2: 2.5 + 2.5 * 1.97 / 2 = 4.9625 ms.
    out = run(str(data_dir))[1]
    cells = line_of(section(out, "Order latency"), "binance", "ack").split()
    assert cells[-4:] == ["4.96", "ms", "4.00", "ms"]  # p99, max
    (ack,) = [
        row for row in report_json(str(data_dir))["latency"]
        if row["labels"] == {"venue": "binance", "stage": "ack"}
    ]  # fmt: skip
    assert ack["count"] == 3
    assert ack["p99"] == pytest.approx(4.9625 * MS)
    assert ack["p50"] == pytest.approx(3.125 * MS)  # rank 1.5: 2.5 + 2.5 * 0.5 / 2
    assert ack["max"] == pytest.approx(4 * MS, abs=1e-6)
    assert ack["mean"] == pytest.approx(3 * MS, abs=1e-6)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.75),  # rank 2 of 4: half way through (0.5, 1]
        (0.25, 0.5),  # rank 1: the top of the first bucket, (0, 0.5]
        (0.99, 2.0),  # in the +Inf bucket: the highest finite boundary
    ],
)
def test_bucket_quantiles_follow_prometheus_histogram_quantile(q: float, expected: float) -> None:
    assert bucket_quantile(q, [0.5, 1.0, 2.0], [1, 2, 0, 1]) == pytest.approx(expected)


def test_a_quantile_in_a_first_bucket_with_a_negative_bound_is_that_bound() -> None:
    assert bucket_quantile(0.5, [-10.0, 0.0, 10.0], [3, 1, 0, 0]) == -10.0
    assert bucket_quantile(0.5, [1.0], [0, 0]) is None


def test_series_of_two_processes_are_summed(tmp_path: Path) -> None:
    for service, acks in (("bot-a", (2, 3, 4)), ("bot-b", (6, 7))):
        tradetel.configure(
            service_name=service, exporter="file", data_dir=tmp_path, system_metrics=False
        )
        tracker = OrderTracker()
        for n, ms in enumerate(acks):
            submit(tracker, f"{service}-{n}", "binance", T0 + n)
            tracker.acked(f"{service}-{n}", ts=T0 + n + ms * MS)
        tradetel.shutdown()
    (ack,) = report_json(str(tmp_path))["latency"]
    assert ack["count"] == 5
    assert ack["max"] == pytest.approx(7 * MS, abs=1e-6)
    (only_b,) = report_json(str(tmp_path), "--service", "bot-b")["latency"]
    assert only_b["count"] == 2
    out = run(str(tmp_path), "--service", "bot-b")[1]
    assert "bot-a-0" not in out
    assert "bot-b-0" in out


def latency_line(temporality: int, start: int, at: int, counts: list[int], top: float) -> str:
    """One ExportMetricsServiceRequest of trading.order.latency, as a Collector writes it."""
    bounds = [0.001, 0.01, 0.1]
    point = {
        "startTimeUnixNano": str(start), "timeUnixNano": str(at), "count": str(sum(counts)),
        "sum": 0.0, "bucketCounts": [str(c) for c in counts], "explicitBounds": bounds,
        "max": top, "attributes": [
            {"key": "trading.venue", "value": {"stringValue": "okx"}},
            {"key": "trading.order.stage", "value": {"stringValue": "ack"}},
        ],
    }  # fmt: skip
    metric = {
        "name": "trading.order.latency", "unit": "s",
        "histogram": {"dataPoints": [point], "aggregationTemporality": temporality},
    }  # fmt: skip
    return json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [metric]}]}]})


def test_a_collector_file_of_any_name_with_delta_points_is_summed(tmp_path: Path) -> None:
    path = tmp_path / "otel-export.json"
    path.write_text(
        latency_line(1, 10, 20, [1, 2, 0, 0], 0.004) + "\n"
        + latency_line(1, 20, 30, [0, 1, 1, 0], 0.05) + "\n"
    )  # fmt: skip
    (ack,) = report_json(str(path))["latency"]
    assert (ack["count"], ack["max"]) == (5, 0.05)


def test_a_histogram_point_with_the_wrong_number_of_buckets_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "otel-export.json"
    path.write_text(
        latency_line(1, 10, 20, [1, 2, 0, 0], 0.004) + "\n"
        + latency_line(1, 20, 30, [0, 1, 1], 0.05) + "\n"  # 3 counts for 3 bounds
    )  # fmt: skip
    code, out = run(str(path))
    assert code == 0, out
    assert "trading.order.latency: a histogram point with 3 bucket counts for 3 bounds" in out
    data = report_json(str(path))
    assert data["sources"]["malformed"] == 1
    (ack,) = data["latency"]
    assert ack["count"] == 3


def test_the_latest_cumulative_point_wins_whatever_the_file_order(tmp_path: Path) -> None:
    path = tmp_path / "otel-export.json"
    path.write_text(
        latency_line(2, 10, 30, [1, 3, 0, 0], 0.006) + "\n"  # written last, read first
        + latency_line(2, 10, 20, [1, 2, 0, 0], 0.004) + "\n"
    )  # fmt: skip
    (ack,) = report_json(str(path))["latency"]
    assert (ack["count"], ack["max"]) == (4, 0.006)


# -- slowest orders ------------------------------------------------------------------------------
def test_the_slowest_order_comes_first_with_its_linked_reports(data_dir: Path) -> None:
    out = run(str(data_dir))[1]
    slowest = section(out, "Slowest orders")
    first = slowest.splitlines()[1]
    assert first.startswith("1. c-2")
    assert "filled after 250 ms" in first
    assert "10:00:01" in first.split("submitted")[1]  # the day too when the data spans days
    waterfall = out[out.index("1. c-2") : out.index("2. ")]
    assert line_of(waterfall, "order", "submit").startswith("order submit")
    filled = line_of(waterfall, "↪", "filled")
    assert "+250 ms" in filled
    assert "0.5 @ 100.2" in filled
    assert "↪ order acked" in waterfall
    assert "acked after 4.00 ms, filled after 250 ms" in first
    # ranked by the venue's first answer, then by the total: c-3's reject came after 4 ms too
    assert out.index("2. c-3") < out.index("3. c-4") < out.index("4. c-1")


def test_a_rejected_order_shows_its_error_span_marked(data_dir: Path) -> None:
    out = run(str(data_dir), "--top", "6")[1]
    rejected = out[out.index("c-3  binance") : out.index("k-2  kraken")]
    title = rejected.splitlines()[0]
    assert "rejected after 4.00 ms" in title
    row = line_of(rejected, "rejected", "↪")
    assert "✗ order rejected" in row
    assert row.rstrip().endswith("insufficient_funds: Account has insufficient balance")


def test_top_limits_the_orders_listed(data_dir: Path) -> None:
    out = run(str(data_dir), "--top", "2")[1]
    assert "2. c-3" in out
    assert "3. " not in out
    assert report_json(str(data_dir), "--top", "0")["slowest"] == []


def test_trace_prints_one_waterfall(data_dir: Path) -> None:
    slowest = report_json(str(data_dir))["slowest"][0]
    code, out = run(str(data_dir), "--trace", slowest["trace_id"])
    assert code == 0, out
    assert out.startswith(f"trace {slowest['trace_id']}")
    assert "client_id=c-2" in out
    assert "↪ order filled" in out
    assert "c-1" not in out
    code, prefix_out = run(str(data_dir), "--trace", slowest["trace_id"][:10])
    assert (code, prefix_out) == (0, out)


def test_an_unknown_trace_is_an_error(data_dir: Path) -> None:
    code, out = run(str(data_dir), "--trace", "0123456789abcdef0123456789abcdef")
    assert code == 1
    assert "trace '0123456789abcdef0123456789abcdef' not found" in out
    code, out = run(str(data_dir), "--trace", "not-an-id")
    assert code == 2
    assert "not a trace id" in out


def test_the_span_tree_is_indented_and_an_exception_marked(tmp_path: Path) -> None:
    class VenueDown(Exception):
        pass

    @tradetel.order("binance")
    def place() -> None:
        raise VenueDown("503 from the venue")

    @tradetel.strategy("momo")
    def decide() -> None:
        with tradetel.span("risk check"):
            pass
        with pytest.raises(VenueDown):
            place()

    tradetel.configure(service_name="bot", exporter="file", data_dir=tmp_path, system_metrics=False)
    decide()
    tradetel.shutdown()
    order = report_json(str(tmp_path))["slowest"][0]
    assert order["outcome"] == "failed"
    rows = [(row["depth"], row["name"]) for row in order["waterfall"]["rows"]]
    assert rows == [(0, "strategy momo"), (1, "risk check"), (1, "order submit")]
    out = run(str(tmp_path), "--trace", order["trace_id"])[1]
    assert "\n  ✗ order submit " in out
    assert line_of(out, "✗", "submit").rstrip().endswith("VenueDown: 503 from the venue")


def test_an_order_the_venue_never_answered_is_the_slowest(tmp_path: Path) -> None:
    @tradetel.order("binance")
    def place(client_order_id: str) -> dict[str, str]:
        tradetel.orders.submitted(client_order_id, venue="binance", quantity=1.0)
        return {"id": client_order_id, "status": "new"}  # accepted; the stream says the rest

    tradetel.configure(service_name="bot", exporter="file", data_dir=tmp_path, system_metrics=False)
    place("lost")
    place("answered")
    time.sleep(0.05)
    tradetel.orders.acked("answered")
    tradetel.shutdown()
    first, second = report_json(str(tmp_path))["slowest"]
    assert (first["client_id"], first["outcome"]) == ("lost", "no answer")
    assert first["answer"] >= second["answer"] >= 0.05
    assert "lost  binance" in run(str(tmp_path))[1]


def test_control_characters_in_the_data_are_shown_escaped(tmp_path: Path) -> None:
    """A venue's free text or a client id could move the cursor or retitle the terminal."""

    @tradetel.order("binance")
    def place(client_order_id: str) -> None:
        raise RuntimeError("venue said \x1b]0;owned\x07")

    tradetel.configure(
        service_name="bot\x1b[1m", exporter="file", data_dir=tmp_path, system_metrics=False
    )
    with pytest.raises(RuntimeError):
        place("c-1\x1b[2J")
    tradetel.shutdown()
    code, out = run(str(tmp_path))
    assert code == 0, out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "c-1\\x1b[2J" in out
    assert "bot\\x1b[1m" in out


def test_a_report_inside_the_submit_span_is_shown_once(tmp_path: Path) -> None:
    """A venue that rejects in its REST answer: the tracker's `order rejected` span is a child
    of the submit span and linked to it; the waterfall shows it once, in the tree."""

    @tradetel.order("binance")
    def place(client_order_id: str) -> None:
        tradetel.orders.submitted(client_order_id, venue="binance", quantity=1.0)
        tradetel.orders.rejected(client_order_id, reason="insufficient balance")

    tradetel.configure(service_name="bot", exporter="file", data_dir=tmp_path, system_metrics=False)
    place("r-1")
    tradetel.shutdown()
    order = report_json(str(tmp_path))["slowest"][0]
    names = [row["name"] for row in order["waterfall"]["rows"]]
    assert names == ["order submit", "order rejected"]


# -- rejects, fills, slippage, strategies ------------------------------------------------------
def test_rejects_are_counted_by_reason_and_venue(data_dir: Path) -> None:
    table = section(run(str(data_dir))[1], "Rejects by reason")
    assert line_of(table, "binance", "insufficient_funds").split()[-1] == "1"
    assert line_of(table, "kraken", "rate_limited").split()[-1] == "1"


def test_events_fill_ratio_and_slippage(data_dir: Path) -> None:
    out = run(str(data_dir))[1]
    events = section(out, "Order events by status")
    header = line_of(events, "venue", "new").split()
    counts = dict(zip(header[1:], line_of(events, "binance").split()[1:], strict=True))
    assert counts == {
        "new": "4", "acked": "3", "partially_filled": "1", "filled": "2", "canceled": "1",
        "rejected": "1",
    }  # fmt: skip
    # c-1 and c-2 filled whole, c-4 canceled unfilled: 3 orders, mean 2/3
    assert line_of(section(out, "Fill ratio"), "binance").split()[1:] == ["3", "66.67", "%"]
    slippage = line_of(section(out, "Slippage"), "binance", "buy").split()
    assert slippage[2:4] == ["2", "7.50"]  # +5 bp and +10 bp
    data = report_json(str(data_dir))
    (buy,) = [r for r in data["slippage"] if r["labels"] == {"venue": "binance", "side": "buy"}]
    assert buy["mean"] == pytest.approx(7.5, abs=1e-3)


def test_strategy_figures_are_the_last_values(data_dir: Path) -> None:
    table = section(run(str(data_dir))[1], "Strategy performance")
    assert line_of(table, "equity").split()[1:] == ["10,200.00", "USD"]
    assert line_of(table, "return").split()[1:] == ["+2.00", "%"]
    assert line_of(table, "max", "drawdown").split()[2:] == ["1.98", "%"]
    assert line_of(table, "win", "rate").split()[2:] == ["66.67", "%"]
    assert line_of(table, "trades").split()[-1] == "2/1/0"


# -- header, formats, robustness ------------------------------------------------------------------
def test_the_header_names_files_services_and_the_time_span(data_dir: Path) -> None:
    out = run(str(data_dir))[1]
    header = out[: out.index("Order latency")]
    assert "tradetel report  2026-11-20 10:00:00" in header
    assert f"files:    {data_dir}/\n" in header
    assert "  logs.jsonl (1 line), metrics.jsonl (1 line), traces.jsonl (1 line)\n" in header
    assert "services: bot" in header
    assert "1 WARN" in header
    assert "no malformed lines" in header


def test_json_carries_the_same_numbers_as_the_text(data_dir: Path) -> None:
    data = report_json(str(data_dir))
    json.dumps(data, allow_nan=False)
    assert data["slowest"][0]["client_id"] == "c-2"
    assert data["slowest"][0]["total"] == pytest.approx(0.25, abs=1e-6)
    assert {(r["labels"]["reason"], r["count"]) for r in data["rejects"]} == {
        ("insufficient_funds", 1),
        ("rate_limited", 1),
    }
    (strategy,) = data["strategies"]
    assert strategy["figures"]["trading.equity"] == 10_200
    assert strategy["trades"] == {"win": 2, "loss": 1}
    assert data["sources"]["services"] == ["bot"]


def test_a_truncated_last_line_is_skipped_and_counted(data_dir: Path) -> None:
    metrics = data_dir / "metrics.jsonl"
    first = metrics.read_text().splitlines()[0]
    with metrics.open("a") as file:
        file.write(first[: len(first) // 2])  # a writer killed mid-line
    code, out = run(str(data_dir))
    assert code == 0, out
    assert "1 malformed or truncated line(s)" in out
    assert f"{metrics}:2: not valid JSON" in out
    assert line_of(section(out, "Order latency"), "binance", "ack").split()[2] == "3"
    assert report_json(str(data_dir))["sources"]["malformed"] == 1


def test_venue_filter_keeps_only_that_venue(data_dir: Path) -> None:
    data = report_json(str(data_dir), "--venue", "kraken")
    assert {row["labels"]["venue"] for row in data["latency"]} == {"kraken"}
    assert [order["client_id"] for order in data["slowest"]] == ["k-2", "k-1"]  # 1 ms, 0.8 ms
    assert [row["labels"]["reason"] for row in data["rejects"]] == ["rate_limited"]
    assert data["strategies"][0]["strategy"] == "momo"  # strategies name no venue


def test_since_keeps_what_happened_after_it(tmp_path: Path) -> None:
    tradetel.configure(service_name="bot", exporter="file", data_dir=tmp_path, system_metrics=False)
    tracker = OrderTracker()
    submit(tracker, "early", "binance", time.time() - 60)
    tracker.acked("early", ts=time.time() - 59.998)
    tradetel.force_flush()  # the cumulative totals so far, before the window
    since = time.time()
    submit(tracker, "late", "binance", since + 1)
    tracker.acked("late", ts=since + 1.007)
    tradetel.shutdown()

    iso = datetime.fromtimestamp(since, tz=timezone.utc).isoformat()
    data = report_json(str(tmp_path), "--since", iso)
    (ack,) = data["latency"]
    assert ack["count"] == 1
    assert ack["max"] == pytest.approx(0.007, abs=1e-6)
    assert [order["client_id"] for order in data["slowest"]] == ["late"]
    assert report_json(str(tmp_path))["latency"][0]["count"] == 2


def test_since_and_until_accept_iso_times_and_durations_ago() -> None:
    now = 1_800_000_000.0
    assert parse_time("10m", now) == now - 600
    assert parse_time("2h", now) == now - 7200
    assert (
        parse_time("2026-11-21T10:00:00Z", now)
        == datetime(2026, 11, 21, 10, tzinfo=timezone.utc).timestamp()
    )
    assert parse_time("2026-11-21T12:00:00+02:00", now) == parse_time("2026-11-21T10:00", now)
    code, out = run("--since", "yesterday")
    assert code == 2
    assert "--since" in out
    assert "neither an ISO 8601 time" in out


def test_no_files_is_an_error_naming_the_folder(tmp_path: Path) -> None:
    code, out = run("--data-dir", str(tmp_path / "missing"))
    assert code == 1
    assert f"{tmp_path / 'missing'}: no such file or folder" in out


def test_a_run_without_orders_says_no_data_in_each_section(tmp_path: Path) -> None:
    @tradetel.instrument
    def step() -> None:
        pass

    tradetel.configure(exporter="file", data_dir=tmp_path, system_metrics=False)
    step()
    tradetel.shutdown()
    code, out = run("--data-dir", str(tmp_path))
    assert code == 0, out
    for title in ("Order latency", "Rejects by reason", "Fill ratio", "Slippage", "Strategy"):
        assert section(out, title).splitlines()[1].strip() == "no data"
    assert "no order submit spans" in out


def test_the_text_has_no_control_characters_when_not_a_terminal(data_dir: Path) -> None:
    out = run(str(data_dir))[1]
    assert "\x1b" not in out
    assert all(line.isprintable() for line in out.splitlines())
    # tables are laid out for at least 120 columns, so a waterfall row stays on one line
    assert "+250 ms" in line_of(out, "↪", "filled", "100.2")


def test_render_prints_on_any_console_the_demo_gives(data_dir: Path) -> None:
    console = Console(record=True, width=100, force_terminal=False)
    render(build_report([data_dir], data_dir=data_dir, since=T0 - 1), console)
    text = console.export_text()
    assert "1. c-2" in text
    assert "no alert history" in text


# -- alerts ------------------------------------------------------------------------------------
def alert(name: str, **labels: str) -> Alert:
    return Alert(
        labels={"alertname": name, "severity": "critical", **labels},
        annotations={"summary": f"{name} summary"},
        state="firing",
        value=0.15,
        active_at=T0,
    )


def test_alerts_are_paired_from_firing_to_resolved(data_dir: Path) -> None:
    history = History(data_dir / "alerts-history.db")
    drawdown, stuck, old = (
        alert("DrawdownLimit", strategy="momo"),
        alert("StuckOrder"),
        alert("Old"),
    )
    history.record(old, "firing", T0 - 100)
    history.record(old, "resolved", T0 - 90)
    history.record(drawdown, "pending", T0 + 1)
    history.record(drawdown, "firing", T0 + 3)
    history.record(drawdown, "resolved", T0 + 19)
    history.record(stuck, "firing", T0 + 30)
    history.close()

    out = run(str(data_dir), "--since", "2026-11-20T10:00:00Z")[1]
    alerts = section(out, "Alerts fired and resolved")
    row = line_of(alerts, "DrawdownLimit")
    assert "10:00:03" in row
    assert "10:00:19 (16.0 s)" in row
    assert 'strategy="momo"' in row
    assert "still firing at end" in line_of(alerts, "StuckOrder")
    assert "Old" not in alerts  # resolved before --since
    (episode, _) = report_json(str(data_dir), "--since", "2026-11-20T10:00:00Z")["alerts"][
        "episodes"
    ]
    assert (episode["alertname"], episode["duration"]) == ("DrawdownLimit", 16.0)


def test_an_alert_firing_again_without_a_resolve_starts_a_new_episode(data_dir: Path) -> None:
    """The process stopped while the alert fired; the next run's alert is its own episode."""
    history = History(data_dir / "alerts-history.db")
    latency = alert("LatencyHigh", venue="beta")
    history.record(latency, "firing", T0 - 100)  # the first run ends while it fires
    history.record(latency, "firing", T0 + 5)
    history.record(latency, "resolved", T0 + 15)
    history.close()

    everything = report_json(str(data_dir))["alerts"]["episodes"]
    assert [(e["fired_at"], e["resolved_at"], e["end_unknown"]) for e in everything] == [
        (T0 - 100, None, True),
        (T0 + 5, T0 + 15, False),
    ]
    out = run(str(data_dir))[1]
    assert "end not recorded" in out
    (episode,) = report_json(str(data_dir), "--since", "2026-11-20T10:00:00Z")["alerts"]["episodes"]
    assert episode["duration"] == 10.0


def test_a_file_path_reads_the_alert_history_beside_it(
    data_dir: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path_factory.mktemp("shell")  # a folder whose .tradetel is another bot's
    (elsewhere / ".tradetel").mkdir()
    other = History(elsewhere / ".tradetel" / "alerts-history.db")
    other.record(alert("NotThisOne"), "firing", T0)
    other.close()
    mine = History(data_dir / "alerts-history.db")
    mine.record(alert("ThisOne"), "firing", T0)
    mine.close()
    monkeypatch.chdir(elsewhere)
    names = [
        e["alertname"] for e in report_json(str(data_dir / "metrics.jsonl"))["alerts"]["episodes"]
    ]
    assert names == ["ThisOne"]


def test_an_unreadable_alert_history_is_a_note_not_a_crash(data_dir: Path) -> None:
    (data_dir / "alerts-history.db").write_bytes(b"this is not an sqlite database" * 100)
    code, out = run(str(data_dir))
    assert code == 0, out
    assert "alert history unreadable" in section(out, "Alerts fired and resolved")


def test_a_missing_alert_history_is_a_note(data_dir: Path) -> None:
    out = run(str(data_dir))[1]
    assert "no alert history (alerts-history.db not found)" in out
    assert not (data_dir / "alerts-history.db").exists()  # reading never creates it
