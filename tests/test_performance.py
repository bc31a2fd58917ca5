"""tradetel.performance: figures checked against empyrical on a public return series, and the
metrics they publish."""

from __future__ import annotations

import csv
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tradetel import ConfigError, performance, semconv
from tradetel.testing import Capture, capture

DATA = Path(__file__).parent / "data" / "ff_market_monthly.csv"
STRATEGY = semconv.STRATEGY_NAME
# Python 3.12+ warns about forking a process that has threads; that risk is what is tested.
FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"
RATIO_KEYS = (
    "volatility", "sharpe", "sortino", "calmar", "annual_return",
    "var_95", "cvar_95", "var_99", "cvar_99",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _no_trackers() -> Iterator[None]:
    performance.reset()
    yield
    performance.reset()


@pytest.fixture
def ep() -> ModuleType:
    """empyrical, the reference implementation (installed on Python >= 3.11 only)."""
    return pytest.importorskip("empyrical")


@lru_cache(maxsize=1)
def market_returns() -> tuple[float, ...]:
    """The US market's monthly total returns, 1926-07 to 2018-11 (Fama/French, see data/)."""
    with DATA.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return tuple((float(row["mkt_rf"]) + float(row["rf"])) / 100 for row in rows)


def drive(
    strategy: str, returns: Sequence[float], start: float = 100.0, **kwargs: Any
) -> performance.Tracker:
    """A tracker fed the equity curve of ``returns``: one update per return period."""
    tracker = performance.tracker(strategy, **kwargs)
    equity = start
    tracker.update_equity(equity)
    for r in returns:
        equity *= 1 + r
        tracker.update_equity(equity)
    return tracker


def array(values: Sequence[float]) -> Any:
    import numpy as np

    return np.asarray(values, dtype=float)


def reference(
    ep: ModuleType, returns: Sequence[float], periods_per_year: float = 12, risk_free: float = 0.0
) -> dict[str, float]:
    """empyrical's figures of ``returns``, as the tracker reports them (losses positive)."""
    r = array(returns)
    rf = (1 + risk_free) ** (1 / periods_per_year) - 1
    n = periods_per_year
    figures = {
        "volatility": ep.annual_volatility(r, annualization=n),
        "sharpe": ep.sharpe_ratio(r, risk_free=rf, annualization=n),
        "sortino": ep.sortino_ratio(r, required_return=rf, annualization=n),
        "calmar": ep.calmar_ratio(r, annualization=n),
        "annual_return": ep.annual_return(r, annualization=n),
        "var_95": -ep.value_at_risk(r, cutoff=0.05),
        "cvar_95": -ep.conditional_value_at_risk(r, cutoff=0.05),
        "var_99": -ep.value_at_risk(r, cutoff=0.01),
        "cvar_99": -ep.conditional_value_at_risk(r, cutoff=0.01),
    }
    # empyrical divides by a zero deviation (infinite ratio); tradetel calls it undefined
    for key in ("sharpe", "sortino"):
        if math.isinf(figures[key]):
            figures[key] = math.nan
    return figures


def assert_figures(actual: dict[str, float], expected: dict[str, float]) -> None:
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), key


def units(cap: Capture) -> dict[str, list[str]]:
    """Metric name -> the unit of each metric of that name collected now."""
    found: dict[str, list[str]] = {}
    data = cap.reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                found.setdefault(metric.name, []).append(metric.unit)
    return found


def value(cap: Capture, name: str, attributes: dict[str, str]) -> float:
    (point,) = cap.points(name, attributes)
    return float(point.value)


# -- figures against empyrical -------------------------------------------------------------


def test_since_start_figures_match_empyrical_on_the_market_series(ep: ModuleType) -> None:
    returns = array(market_returns())
    figures = drive("ff", returns, periods_per_year=12).snapshot()

    assert_figures(figures, reference(ep, returns))
    assert figures["periods"] == len(returns) == 1109
    assert figures["return"] == pytest.approx(ep.cum_returns_final(returns), rel=1e-9)
    assert figures["max_drawdown"] == pytest.approx(-ep.max_drawdown(returns), rel=1e-9)
    assert figures["max_drawdown"] == pytest.approx(0.8370662912919891, rel=1e-9)  # 1929-1932


def test_figures_match_empyrical_after_every_return_of_a_prefix(ep: ModuleType) -> None:
    returns = market_returns()[:40]
    tracker = performance.tracker("ff", periods_per_year=12)
    equity = 100.0
    tracker.update_equity(equity)
    for i, r in enumerate(returns, start=1):
        equity *= 1 + r
        tracker.update_equity(equity)
        assert_figures(tracker.snapshot(), reference(ep, returns[:i]))


def test_window_figures_match_empyrical_over_the_last_returns(ep: ModuleType) -> None:
    returns = array(market_returns())
    tracker = performance.tracker("ff", periods_per_year=12, window=60)
    equity = 100.0
    tracker.update_equity(equity)
    for i, r in enumerate(returns, start=1):
        equity *= 1 + r
        tracker.update_equity(equity)
        if i in (1, 2, 30, 60, 61, 500, len(returns)):
            figures = tracker.snapshot()
            assert_figures(figures, reference(ep, returns[max(0, i - 60) : i]))
            # the return and the drawdowns stay since start
            assert figures["max_drawdown"] == pytest.approx(-ep.max_drawdown(returns[:i]))
            assert figures["periods"] == i


def test_window_calmar_uses_the_window_own_max_drawdown(ep: ModuleType) -> None:
    returns = array(market_returns())
    window = returns[-60:]
    figures = drive("ff", returns, periods_per_year=12, window=60).snapshot()
    own = -ep.max_drawdown(window)
    assert own < figures["max_drawdown"]
    assert figures["calmar"] == pytest.approx(ep.annual_return(window, annualization=12) / own)


def test_annual_risk_free_rate_is_converted_per_period_geometrically(ep: ModuleType) -> None:
    returns = array(market_returns())
    since_start = drive("ff", returns, periods_per_year=12, risk_free=0.04).snapshot()
    windowed = drive("ffw", returns, periods_per_year=12, risk_free=0.04, window=120).snapshot()

    assert_figures(since_start, reference(ep, returns, risk_free=0.04))
    assert_figures(windowed, reference(ep, returns[-120:], risk_free=0.04))
    monthly = 1.04 ** (1 / 12) - 1
    assert since_start["sharpe"] == pytest.approx(
        ep.sharpe_ratio(returns, risk_free=monthly, annualization=12), rel=1e-9
    )
    assert since_start["sharpe"] < drive("rf0", returns, periods_per_year=12).snapshot()["sharpe"]


def test_current_drawdown_is_a_positive_fraction_below_the_peak(ep: ModuleType) -> None:
    returns = array(market_returns()[:60])  # to 1931-06, deep in the crash
    tracker = drive("ff", returns, periods_per_year=12)
    figures = tracker.snapshot()
    expected = -ep.max_drawdown(returns)
    curve = ep.cum_returns(returns, starting_value=1.0)
    current = 1 - curve[-1] / max(1.0, curve.max())
    assert figures["drawdown"] == pytest.approx(current, rel=1e-9)
    assert figures["max_drawdown"] == pytest.approx(expected, rel=1e-9)
    assert 0 < figures["drawdown"] < figures["max_drawdown"] < 1
    tracker.update_equity(1e9)  # a new high
    assert tracker.snapshot()["drawdown"] == 0.0
    assert tracker.snapshot()["max_drawdown"] == pytest.approx(expected, rel=1e-9)


def test_period_mode_closes_each_day_on_its_last_value_and_fills_gaps(ep: ModuleType) -> None:
    pd = pytest.importorskip("pandas")
    returns = market_returns()[:300]
    day = datetime(2020, 1, 6, tzinfo=timezone.utc)
    events: list[tuple[datetime, float]] = []
    equity = 100.0
    for i, r in enumerate(returns):
        day += timedelta(days=3 if i % 5 == 4 else 1)  # weekends: two empty days
        if i % 97 == 0:
            day += timedelta(days=9)  # a longer gap
        events.append((day + timedelta(hours=9), equity * (1 - abs(r) / 2)))  # not a close
        equity *= 1 + r
        events.append((day + timedelta(hours=16, minutes=30), equity))
    tracker = performance.tracker("daily", period=timedelta(days=1), periods_per_year=365)
    for when, v in events:
        tracker.update_equity(v, ts=when)

    # the reference: each day's last value, empty days filled, the day still open left out
    values = pd.Series([v for _, v in events], index=pd.DatetimeIndex([w for w, _ in events]))
    closes = values.resample("1D").last().ffill().to_numpy()[:-1]
    daily = closes[1:] / closes[:-1] - 1
    figures = tracker.snapshot()
    assert figures["periods"] == len(daily) > len(returns)  # filled gaps included
    assert_figures(figures, reference(ep, daily, periods_per_year=365))
    assert figures["return"] == pytest.approx(events[-1][1] / events[0][1] - 1, rel=1e-9)
    # the drawdowns follow every update, intraday troughs too
    every = values.to_numpy()
    peak = pd.Series(every).cummax().to_numpy()
    assert figures["max_drawdown"] == pytest.approx(max(1 - every / peak), rel=1e-9)
    assert figures["max_drawdown"] > -ep.max_drawdown(daily)


def test_period_mode_takes_seconds_and_naive_datetimes_as_utc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")  # a naive time read as local would be off
    time.tzset()
    try:
        hourly = performance.tracker("h", period=3600)
        hourly.update_equity(100.0, ts=datetime(2024, 1, 1, 10, 5))  # naive: UTC
        hourly.update_equity(110.0, ts=datetime(2024, 1, 1, 11, 59, tzinfo=timezone.utc))
        eastern = timezone(timedelta(hours=-5))
        hourly.update_equity(121.0, ts=datetime(2024, 1, 1, 7, 0, tzinfo=eastern))  # 12:00 UTC
        hourly.update_equity(121.0, ts=datetime(2024, 1, 1, 13, 0, tzinfo=timezone.utc).timestamp())
    finally:
        monkeypatch.undo()
        time.tzset()
    figures = hourly.snapshot()
    # 10:00 closes at 100, 11:00 at 110, 12:00 at 121; 13:00 is still open
    assert figures["rejected"] == 0
    assert figures["periods"] == 2
    assert figures["var_95"] == pytest.approx(-0.1)
    assert figures["volatility"] == pytest.approx(0.0, abs=1e-12)
    assert performance.tracker("h", period=timedelta(hours=1)) is hourly


def test_a_long_gap_fills_at_most_max_gap_empty_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(performance, "MAX_GAP", 5)
    tracker = performance.tracker("gappy", period=1.0)
    for ts, v in ((0.5, 100.0), (1.5, 110.0), (1000.0, 121.0), (1001.0, 121.0)):
        tracker.update_equity(v, ts=ts)
    # 110/100 - 1 closes second 1; seconds 2..999 are empty (5 kept); 121/110 - 1 closes 1000
    figures = tracker.snapshot()
    assert figures["periods"] == 7
    assert figures["annual_return"] == pytest.approx(1.21 ** (252 / 7) - 1)


def test_period_mode_with_one_bucket_has_no_return_yet() -> None:
    tracker = performance.tracker("one", period=60.0)
    tracker.update_equity(100.0, ts=0)
    tracker.update_equity(90.0, ts=30)
    figures = tracker.snapshot()
    assert figures["periods"] == 0
    assert figures["return"] == pytest.approx(-0.1)
    assert figures["drawdown"] == pytest.approx(0.1)
    assert math.isnan(figures["var_95"])
    assert math.isnan(figures["annual_return"])


def test_identical_returns_have_no_sharpe_and_zero_volatility() -> None:
    for strategy, window in (("since_start", None), ("windowed", 3)):
        figures = drive(strategy, [1.0] * 5, start=1.0, window=window).snapshot()
        assert figures["volatility"] == 0.0
        assert math.isnan(figures["sharpe"])
        assert math.isnan(figures["sortino"])  # no return below the risk-free rate
        assert math.isnan(figures["calmar"])  # no drawdown
        assert figures["var_95"] == -1.0


def test_too_few_returns_give_nan() -> None:
    tracker = performance.tracker("new")
    figures = tracker.snapshot()
    for key in ("equity", "return", "drawdown", "max_drawdown", "win_rate", "profit_factor"):
        assert math.isnan(figures[key]), key
    tracker.update_equity(100.0)
    tracker.update_equity(101.0)
    figures = tracker.snapshot()
    assert figures["periods"] == 1
    assert figures["var_95"] == pytest.approx(-0.01)
    for key in ("volatility", "sharpe", "sortino"):
        assert math.isnan(figures[key]), key


# -- trackers and settings -----------------------------------------------------------------


def test_tracker_is_one_per_strategy() -> None:
    first = performance.tracker("momentum", periods_per_year=365, window=30)
    assert performance.tracker("momentum") is first
    assert performance.tracker("momentum", periods_per_year=365, currency="USD") is first
    assert performance.tracker("other") is not first
    assert set(performance.trackers()) == {"momentum", "other"}


def test_documented_defaults() -> None:
    tracker = performance.tracker("defaults")
    assert tracker.periods_per_year == 252
    assert tracker.risk_free == 0.0
    assert tracker.window is None
    assert tracker.period is None
    assert tracker.currency == "USD"


@pytest.mark.parametrize(
    ("argument", "first", "again"),
    [
        ("periods_per_year", 252, 365),
        ("risk_free", 0.01, 0.02),
        ("window", 30, 60),
        ("period", 60.0, timedelta(minutes=5)),
        ("currency", "USD", "EUR"),
    ],
)
def test_asking_again_with_another_setting_raises(argument: str, first: Any, again: Any) -> None:
    tracker = performance.tracker("momentum", **{argument: first})
    with pytest.raises(ConfigError, match=rf"'momentum'.*{argument}"):
        performance.tracker("momentum", **{argument: again})
    assert performance.tracker("momentum") is tracker


@pytest.mark.parametrize(
    "settings",
    [
        {"periods_per_year": 0},
        {"periods_per_year": float("nan")},
        {"risk_free": -1.0},
        {"risk_free": float("inf")},
        {"window": 1},
        {"window": 2.5},
        {"window": 10**9},
        {"period": 0},
        {"period": timedelta(0)},
        {"currency": ""},
    ],
)
def test_invalid_settings_raise_config_error_naming_them(settings: dict[str, Any]) -> None:
    (argument,) = settings
    with pytest.raises(ConfigError, match=rf"'bad'.*{argument}"):
        performance.tracker("bad", **settings)
    assert "bad" not in performance.trackers()


def test_remove_and_reset_forget_trackers() -> None:
    first = performance.tracker("a", window=10)
    performance.tracker("b")
    performance.remove("a")
    performance.remove("never-made")
    assert set(performance.trackers()) == {"b"}
    assert performance.tracker("a", window=20) is not first  # a fresh one, new settings
    performance.reset()
    assert performance.trackers() == {}


# -- bad input -----------------------------------------------------------------------------


def test_bad_equity_updates_are_counted_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    clean = performance.tracker("clean")
    dirty = performance.tracker("dirty")
    good = [(100.0, 1.0), (103.0, 2.0), (99.0, 3.0), (104.0, 4.0)]
    bad = [
        (float("nan"), 2.5), (float("inf"), 2.5), (-float("inf"), 2.5),  # not_finite
        (0.0, 2.5), (-5.0, 2.5),  # not_positive
        (101.0, 0.5),  # time_backwards
        (101.0, float("nan")), (101.0, 2.5e12),  # bad_timestamp: NaN, milliseconds
        ("n/a", 2.5), (None, 2.5),  # not_finite: not a number at all
    ]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="tradetel"):
        for i, (v, ts) in enumerate(good):
            clean.update_equity(v, ts=ts)
            dirty.update_equity(v, ts=ts)
            if i:
                for bad_value, bad_ts in bad:
                    dirty.update_equity(bad_value, ts=bad_ts + i - 1)
        dirty.record_trade(float("nan"))

    expected = clean.snapshot()
    figures = dirty.snapshot()
    assert figures.pop("rejected") == 3 * len(bad) + 1
    assert expected.pop("rejected") == 0
    assert figures == pytest.approx(expected, nan_ok=True)
    warnings = [r.getMessage() for r in caplog.records if "'dirty'" in r.getMessage()]
    assert len(warnings) == 4  # once per reason
    assert all(semconv.PERFORMANCE_REJECTED in w for w in warnings)


def test_rejected_updates_are_counted_by_reason_in_a_metric() -> None:
    tracker = performance.tracker("dirty")
    tracker.update_equity(100.0, ts=10)
    tracker.update_equity(float("nan"), ts=11)
    tracker.update_equity(-1.0, ts=11)
    tracker.update_equity(0.0, ts=11)
    tracker.update_equity(100.0, ts=9)
    tracker.update_equity(100.0, ts=1_717_000_000_000)  # milliseconds
    tracker.update_positions({"BTC/USDT": float("inf")})
    tracker.update_positions({"BTC/USDT": "abc"})
    with capture() as cap:
        by_reason = {
            p.attributes[semconv.REASON]: p.value
            for p in cap.points(semconv.PERFORMANCE_REJECTED, {STRATEGY: "dirty"})
        }
        assert units(cap)[semconv.PERFORMANCE_REJECTED] == ["{update}"]
    assert by_reason == {
        "not_finite": 3, "not_positive": 2, "bad_timestamp": 1, "time_backwards": 1
    }  # fmt: skip
    assert tracker.snapshot()["rejected"] == 7


def test_a_rejected_positions_call_changes_nothing() -> None:
    tracker = performance.tracker("book")
    tracker.update_equity(1_000.0)
    tracker.update_positions({"A": 100.0}, unrealized_pnl=5.0)
    before = tracker.snapshot()
    tracker.update_positions({"A": 300.0, "B": float("nan")}, unrealized_pnl=9.0)
    tracker.update_positions(count=-1, unrealized_pnl=9.0)
    tracker.record_trade(5.0, ts=float("inf"))
    after = tracker.snapshot()
    assert after.pop("rejected") == 3
    before.pop("rejected")
    assert after == pytest.approx(before, nan_ok=True)


def test_wall_clock_stepping_back_does_not_reject_updates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter([1000.0, 999.0, 1001.0])
    monkeypatch.setattr(performance.time, "time", lambda: next(clock))
    tracker = performance.tracker("live")
    for v in (100.0, 101.0, 102.0):
        tracker.update_equity(v)
    figures = tracker.snapshot()
    assert figures["rejected"] == 0
    assert figures["periods"] == 2
    assert figures["time"] == 1001.0


def test_values_that_are_not_numbers_are_rejected_not_internal_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = performance.tracker("typo")
    tracker.update_equity(100.0)
    tracker.update_positions({"A": 10.0})
    before = tracker.snapshot()
    bad_calls: list[Callable[[], None]] = [
        lambda: tracker.update_equity("n/a"),  # type: ignore[arg-type]
        lambda: tracker.update_equity(None),  # type: ignore[arg-type]
        lambda: tracker.update_equity([101.0]),  # type: ignore[arg-type]
        lambda: tracker.record_trade(None),  # type: ignore[arg-type]
        lambda: tracker.record_trade("5 USDT"),  # type: ignore[arg-type]
        lambda: tracker.update_positions({"X": "abc"}),  # type: ignore[dict-item]
        lambda: tracker.update_positions({"A": 20.0, "X": None}),  # type: ignore[dict-item]
        lambda: tracker.update_positions(["A"]),  # type: ignore[arg-type]
        lambda: tracker.update_positions(long="abc"),  # type: ignore[arg-type]
        lambda: tracker.update_positions(count="three"),  # type: ignore[arg-type]
        lambda: tracker.update_positions(count=float("nan")),  # type: ignore[arg-type]
        lambda: tracker.update_positions(unrealized_pnl=object()),  # type: ignore[arg-type]
        lambda: tracker.update_positions(leverage=float("inf")),
    ]
    with caplog.at_level(logging.WARNING, logger="tradetel"):
        for call in bad_calls:  # under tradetel's tests an internal error would raise here
            call()
    after = tracker.snapshot()
    assert after.pop("rejected") == len(bad_calls)
    before.pop("rejected")
    assert after == pytest.approx(before, nan_ok=True)
    assert "internal error" not in caplog.text
    assert "(not_finite)" in caplog.text
    with capture() as cap:
        by_reason = {
            p.attributes[semconv.REASON]: p.value
            for p in cap.points(semconv.PERFORMANCE_REJECTED, {STRATEGY: "typo"})
        }
    assert by_reason == {"not_finite": len(bad_calls)}


def test_an_internal_error_is_never_raised_into_user_code(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def bug(self: performance.Tracker, close: float) -> None:
        raise RuntimeError("a bug in tradetel")

    tracker = performance.tracker("buggy")
    monkeypatch.setattr(performance.Tracker, "_close_period", bug)
    with pytest.raises(RuntimeError, match="a bug"):  # under tradetel's own tests
        tracker.update_equity(100.0)
    monkeypatch.delenv("TRADETEL_RAISE_INTERNAL_ERRORS")
    with caplog.at_level(logging.WARNING, logger="tradetel"):
        tracker.update_equity(100.0)
    assert "internal error in performance tracker" in caplog.text


def test_millisecond_and_unreadable_timestamps_are_rejected_as_bad_timestamp(
    caplog: pytest.LogCaptureFixture,
) -> None:
    start = 1_717_000_000.0  # 2024-05-29, in seconds
    tracker = performance.tracker("ccxt", period=60.0)
    tracker.update_equity(100.0, ts=start)
    bad: list[Any] = [
        start * 1_000,  # milliseconds, as exchanges (ccxt) give them
        int(start * 1_000_000),  # microseconds
        10_000_000_000,  # the year 2286
        datetime(3000, 1, 1, tzinfo=timezone.utc),
        -1.0,
        float("nan"),
        float("inf"),
        "2024-05-29",
        object(),
    ]
    with caplog.at_level(logging.WARNING, logger="tradetel"):
        for ts in bad:
            tracker.update_equity(90.0, ts=ts)
            tracker.record_trade(5.0, ts=ts)
    tracker.update_equity(110.0, ts=start + 60)  # closes the first minute
    tracker.update_equity(121.0, ts=datetime.fromtimestamp(start + 120, timezone.utc))
    tracker.update_equity(121.0, ts=start + 180)

    figures = tracker.snapshot()
    assert figures["rejected"] == 2 * len(bad)
    assert figures["periods"] == 2  # no period from a bad timestamp, no gap filled with zeros
    assert figures["var_95"] == pytest.approx(-0.1)
    assert figures["max_drawdown"] == 0.0  # no 90.0 taken
    assert figures["time"] == start + 180
    assert figures["trades"] == 0
    assert "(bad_timestamp)" in caplog.text
    with capture() as cap:
        by_reason = {
            p.attributes[semconv.REASON]: p.value
            for p in cap.points(semconv.PERFORMANCE_REJECTED, {STRATEGY: "ccxt"})
        }
    assert by_reason == {"bad_timestamp": 2 * len(bad)}


def test_time_in_milliseconds_is_rejected_without_a_period_too() -> None:
    tracker = performance.tracker("live")
    tracker.update_equity(100.0, ts=time.time() * 1000)
    tracker.record_trade(1.0, ts=time.time() * 1000)
    figures = tracker.snapshot()
    assert figures["rejected"] == 2
    assert math.isnan(figures["equity"])
    assert math.isnan(figures["time"])
    tracker.update_equity(100.0, ts=time.time())  # seconds are taken
    tracker.record_trade(1.0, ts=0)  # the epoch itself is a time
    figures = tracker.snapshot()
    assert (figures["equity"], figures["trades"], figures["trade_time"]) == (100.0, 1, 0.0)


def test_a_rejection_is_logged_outside_the_tracker_lock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = performance.tracker("logged")
    tracker.update_equity(100.0, ts=10)
    held: list[bool] = []

    class Probe(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            held.append(tracker._lock.locked())  # a slow handler would hold up every update

    probe = Probe()
    logging.getLogger("tradetel").addHandler(probe)
    try:
        with caplog.at_level(logging.WARNING, logger="tradetel"):
            tracker.update_equity(float("nan"))
            tracker.update_equity(-1.0)
            tracker.update_equity(100.0, ts=5)
            tracker.update_equity(100.0, ts=10_000_000_000)
    finally:
        logging.getLogger("tradetel").removeHandler(probe)
    assert held == [False] * 4


# -- memory --------------------------------------------------------------------------------


def test_history_is_bounded_by_max_history_and_var_covers_the_latest_returns(
    monkeypatch: pytest.MonkeyPatch, ep: ModuleType
) -> None:
    monkeypatch.setattr(performance, "MAX_HISTORY", 50)
    returns = market_returns()[:200]
    tracker = performance.tracker("long-run", periods_per_year=12)
    equity = 100.0
    tracker.update_equity(equity)
    for r in returns:
        equity *= 1 + r
        tracker.update_equity(equity)
        assert len(tracker._returns) <= 50
    figures = tracker.snapshot()
    since_start = reference(ep, returns)
    latest = reference(ep, returns[-50:])
    # mean, deviation and drawdown stay exact since start; VaR and CVaR cover the last 50
    assert_figures(figures, {k: since_start[k] for k in RATIO_KEYS if "var" not in k})
    assert_figures(figures, {k: latest[k] for k in RATIO_KEYS if "var" in k})


def test_window_bounds_the_history() -> None:
    tracker = drive("windowed", market_returns()[:100], window=12)
    assert len(tracker._returns) == 12
    assert tracker.snapshot()["periods"] == 100


# -- trades and positions ------------------------------------------------------------------


def test_trades_give_win_rate_profit_factor_and_realized_pnl() -> None:
    tracker = performance.tracker("trader")
    for pnl in (120.0, -40.0, 0.0, 30.0, -10.0):
        tracker.record_trade(pnl, ts=datetime(2024, 5, 1, tzinfo=timezone.utc))
    figures = tracker.snapshot()
    assert (figures["trades"], figures["wins"], figures["losses"], figures["flat"]) == (5, 2, 2, 1)
    assert figures["win_rate"] == pytest.approx(2 / 5)  # a flat trade is not a win
    assert figures["profit_factor"] == pytest.approx(150 / 50)
    assert figures["pnl_realized"] == pytest.approx(100.0)
    assert figures["trade_time"] == datetime(2024, 5, 1, tzinfo=timezone.utc).timestamp()


def test_profit_factor_is_inf_without_losses_and_nan_without_trades() -> None:
    tracker = performance.tracker("lucky")
    assert math.isnan(tracker.snapshot()["profit_factor"])
    assert math.isnan(tracker.snapshot()["win_rate"])
    tracker.record_trade(0.0)
    assert math.isnan(tracker.snapshot()["profit_factor"])  # only flat trades
    tracker.record_trade(5.0)
    assert tracker.snapshot()["profit_factor"] == math.inf


def test_positions_mapping_gives_exposure_and_leverage() -> None:
    tracker = performance.tracker("book")
    tracker.update_equity(10_000.0)
    tracker.update_positions(
        {"BTC/USDT": 15_000.0, "ETH/USDT": -5_000.0, "SOL/USDT": 0.0}, unrealized_pnl=-120.0
    )
    figures = tracker.snapshot()
    assert figures["long_notional"] == 15_000.0
    assert figures["short_notional"] == 5_000.0
    assert figures["positions"] == 2  # the zero entry is not open
    assert figures["exposure_gross"] == pytest.approx(2.0)
    assert figures["exposure_net"] == pytest.approx(1.0)
    assert figures["exposure_long"] == pytest.approx(1.5)
    assert figures["exposure_short"] == pytest.approx(0.5)
    assert figures["leverage"] == pytest.approx(2.0)
    assert figures["pnl_unrealized"] == -120.0

    tracker.update_equity(20_000.0)  # exposure follows the equity
    assert tracker.snapshot()["exposure_gross"] == pytest.approx(1.0)


def test_position_keywords_override_and_keep_their_last_value() -> None:
    tracker = performance.tracker("totals")
    tracker.update_equity(1_000.0)
    tracker.update_positions(long=500.0, short=-250.0, count=3, leverage=3.0)
    figures = tracker.snapshot()
    assert (figures["exposure_long"], figures["exposure_short"]) == (0.5, 0.25)
    assert (figures["positions"], figures["leverage"]) == (3, 3.0)  # as given, not computed
    tracker.update_positions(unrealized_pnl=12.5)
    figures = tracker.snapshot()
    assert (figures["positions"], figures["leverage"], figures["pnl_unrealized"]) == (3, 3.0, 12.5)
    tracker.update_positions(leverage=0.0)
    assert tracker.snapshot()["leverage"] == 0.0
    tracker.update_positions({"A": 100.0, "B": 200.0}, count=1)
    figures = tracker.snapshot()
    assert (figures["long_notional"], figures["short_notional"], figures["positions"]) == (
        300.0,
        0.0,
        1,
    )


def test_exposure_is_undefined_before_positions_and_equity() -> None:
    tracker = performance.tracker("flat-book")
    tracker.update_positions({"A": 100.0})
    assert math.isnan(tracker.snapshot()["exposure_gross"])  # no equity yet
    tracker.update_equity(1_000.0)
    assert tracker.snapshot()["exposure_gross"] == pytest.approx(0.1)
    assert math.isnan(performance.tracker("no-book").snapshot()["leverage"])


def test_concurrent_updates_are_all_counted() -> None:
    tracker = performance.tracker("threads")
    tracker.update_equity(100.0)

    def work() -> None:
        for i in range(500):
            tracker.record_trade(1.0 if i % 2 else -1.0)
            tracker.update_equity(100.0 + i % 7)
            tracker.snapshot()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures = tracker.snapshot()
    assert (figures["trades"], figures["wins"], figures["periods"]) == (2000, 1000, 2000)
    assert figures["rejected"] == 0


def test_snapshot_is_a_copy() -> None:
    tracker = drive("copy", [0.01, -0.02, 0.03])
    figures = tracker.snapshot()
    figures["sharpe"] = 99.0
    assert tracker.snapshot()["sharpe"] != 99.0


def test_a_collection_does_not_hold_up_updates(monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = drive("busy", market_returns()[:100], periods_per_year=12)
    computing, release = threading.Event(), threading.Event()
    calls: list[float] = []
    real = performance._value_at_risk

    def slow(ordered: list[float], cutoff: float) -> float:  # sorting 100,000 returns, say
        calls.append(cutoff)
        computing.set()
        release.wait(10)
        return real(ordered, cutoff)

    monkeypatch.setattr(performance, "_value_at_risk", slow)
    tracker.update_equity(1_000.0)
    collected: dict[str, float] = {}
    collector = threading.Thread(target=lambda: collected.update(tracker.snapshot()))
    updater = threading.Thread(target=tracker.update_equity, args=(2_000.0,))
    collector.start()
    try:
        assert computing.wait(5)
        updater.start()
        updater.join(2)
        held_up = updater.is_alive()
    finally:
        release.set()
        collector.join(10)
        if updater.ident is not None:
            updater.join(10)
    assert not held_up, "update_equity waited for the collection"
    assert collected["equity"] == 1_000.0  # the state as it was when the collection began
    # the update made during the collection is not hidden behind its result
    figures = tracker.snapshot()
    assert (figures["equity"], figures["periods"]) == (2_000.0, 102)
    with capture() as cap:
        assert value(cap, semconv.EQUITY, {STRATEGY: "busy"}) == 2_000.0
    computed = len(calls)
    assert tracker.snapshot() == pytest.approx(figures, nan_ok=True)
    assert len(calls) == computed  # no update since: the figures are cached


# -- metrics -------------------------------------------------------------------------------


def test_figures_are_published_with_their_names_units_and_attributes() -> None:
    made_after = time.time_ns()
    tracker = drive("pub", market_returns()[:120], periods_per_year=12)
    made_before = time.time_ns()
    tracker.record_trade(10.0)
    tracker.record_trade(-4.0)
    tracker.update_positions({"BTC/USDT": 50.0, "ETH/USDT": -25.0}, unrealized_pnl=3.0)
    figures = tracker.snapshot()
    strategy = {STRATEGY: "pub"}
    with capture() as cap:
        assert value(cap, semconv.EQUITY, strategy) == figures["equity"]
        for name, key in [
            (semconv.RETURN, "return"), (semconv.DRAWDOWN, "drawdown"),
            (semconv.DRAWDOWN_MAX, "max_drawdown"), (semconv.SHARPE, "sharpe"),
            (semconv.SORTINO, "sortino"), (semconv.CALMAR, "calmar"),
            (semconv.VOLATILITY, "volatility"), (semconv.WIN_RATE, "win_rate"),
            (semconv.PROFIT_FACTOR, "profit_factor"), (semconv.LEVERAGE, "leverage"),
            (semconv.PNL_REALIZED, "pnl_realized"), (semconv.PNL_UNREALIZED, "pnl_unrealized"),
            (semconv.POSITIONS_OPEN, "positions"),
        ]:  # fmt: skip
            assert value(cap, name, strategy) == figures[key], name
        for confidence, suffix in (("0.95", "95"), ("0.99", "99")):
            at = {**strategy, semconv.CONFIDENCE: confidence}
            assert value(cap, semconv.VAR, at) == figures["var_" + suffix]
            assert value(cap, semconv.CVAR, at) == figures["cvar_" + suffix]
        for kind in ("gross", "net", "long", "short"):
            at = {**strategy, semconv.EXPOSURE_KIND: kind}
            assert value(cap, semconv.EXPOSURE, at) == figures["exposure_" + kind]
        trades = {
            p.attributes[semconv.TRADE_OUTCOME]: p.value
            for p in cap.points(semconv.TRADES, strategy)
        }
        assert trades == {"win": 1, "loss": 1, "flat": 0}
        found = units(cap)
        metrics = {m.name: m for m in _collected(cap)}

    assert found[semconv.EQUITY] == found[semconv.PNL_REALIZED] == ["{USD}"]
    assert found[semconv.TRADES] == ["{trade}"]
    assert found[semconv.POSITIONS_OPEN] == ["{position}"]
    for name in (semconv.SHARPE, semconv.VAR, semconv.EXPOSURE, semconv.DRAWDOWN_MAX):
        assert found[name] == ["1"], name
    assert metrics[semconv.TRADES].data.is_monotonic is True
    assert type(metrics[semconv.SHARPE].data).__name__ == "Gauge"
    # the trade counts are cumulative since the tracker was made
    (start,) = {p.start_time_unix_nano for p in metrics[semconv.TRADES].data.data_points}
    assert made_after <= start <= made_before


def _collected(cap: Capture) -> list[Any]:
    data = cap.reader.get_metrics_data()
    assert data is not None
    return [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]


def test_undefined_figures_are_not_published() -> None:
    performance.tracker("silent")  # nothing reported yet
    one = performance.tracker("one-update")
    one.update_equity(100.0)
    with capture() as cap:
        published = {name for name, points in cap.metrics().items() if points}
        assert not any(
            p.attributes.get(STRATEGY) == "silent"
            for points in cap.metrics().values()
            for p in points
        )
        assert value(cap, semconv.EQUITY, {STRATEGY: "one-update"}) == 100.0
        assert value(cap, semconv.DRAWDOWN, {STRATEGY: "one-update"}) == 0.0
        for name in (semconv.SHARPE, semconv.VAR, semconv.WIN_RATE, semconv.EXPOSURE):
            assert cap.points(name, {STRATEGY: "one-update"}) == [], name
        for name in (semconv.TRADES, semconv.PNL_REALIZED, semconv.POSITIONS_OPEN):
            assert name not in published, name


def test_infinite_profit_factor_is_published() -> None:
    performance.tracker("lucky").record_trade(5.0)
    with capture() as cap:
        assert value(cap, semconv.PROFIT_FACTOR, {STRATEGY: "lucky"}) == math.inf


def test_trackers_recorded_unconfigured_publish_once_configured() -> None:
    tracker = drive("early", [0.01, 0.02, -0.01])
    assert tracker.snapshot()["periods"] == 3  # works without configure()
    with capture() as cap:
        assert value(cap, semconv.EQUITY, {STRATEGY: "early"}) == tracker.snapshot()["equity"]
        tracker.update_equity(200.0)
        assert value(cap, semconv.EQUITY, {STRATEGY: "early"}) == 200.0
    with capture() as again:  # a new configuration observes the same trackers
        assert value(again, semconv.EQUITY, {STRATEGY: "early"}) == 200.0
        performance.remove("early")
        assert again.points(semconv.EQUITY) == []


def test_each_currency_is_its_own_unit() -> None:
    performance.tracker("usd").update_equity(100.0)
    performance.tracker("eur", currency="EUR").update_equity(90.0)
    performance.tracker("usd2").update_equity(50.0)
    with capture() as cap:
        assert sorted(units(cap)[semconv.EQUITY]) == ["{EUR}", "{USD}"]
        assert {p.attributes[STRATEGY] for p in cap.points(semconv.EQUITY)} == {
            "usd",
            "eur",
            "usd2",
        }


def test_importing_the_module_does_not_load_the_otel_sdk() -> None:
    code = (
        "import sys, tradetel.performance as p; p.tracker('x').update_equity(1.0); "
        "p.tracker('x').snapshot(); "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# -- fork ----------------------------------------------------------------------------------


def in_forked_child(check: Callable[[], object], timeout: float = 20.0) -> str:
    """The repr of what ``check`` returns in a forked child; fails if it raises or hangs."""
    if not hasattr(os, "fork"):
        pytest.skip("os.fork() is not available on this platform")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe and the exit code, never return
        code = 1
        try:
            try:
                message = repr(check())
                code = 0
            except BaseException:
                message = traceback.format_exc()
            os.write(write_end, message.encode()[-4000:])
        finally:
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + timeout
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"the forked child hung for {timeout} s")
            time.sleep(0.01)
        with os.fdopen(read_end, "rb") as pipe:
            read_end = -1
            message = pipe.read().decode()
    finally:
        if read_end >= 0:
            os.close(read_end)
    assert os.waitstatus_to_exitcode(status) == 0, message
    return message


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize("locked", [False, True], ids=["idle", "lock-held-at-fork"])
def test_a_forked_child_starts_its_trackers_afresh(locked: bool) -> None:
    inherited = drive("momentum", [0.01, -0.02, 0.03])
    inherited.record_trade(10.0)
    inherited.update_positions({"A": 50.0})
    parent_figures = inherited.snapshot()

    def child() -> object:
        # a module-level reference kept from the parent is the child's tracker, emptied
        assert performance.trackers() == {"momentum": inherited}
        assert performance.tracker("momentum") is inherited
        assert inherited.snapshot()["periods"] == 0
        inherited.update_equity(60.0)  # no lock left held by a parent's thread
        with capture() as cap:
            published = sorted(
                (name, p.attributes[STRATEGY], p.value)
                for name in (semconv.EQUITY, semconv.TRADES, semconv.LEVERAGE)
                for p in cap.points(name)
            )
        return published, inherited.snapshot()["periods"]

    holding, release = threading.Event(), threading.Event()

    def hold() -> None:  # another thread of the parent, mid-update at the fork
        with inherited._lock, performance._trackers_lock:
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    if locked:
        holder.start()
        assert holding.wait(5)
    try:
        message = in_forked_child(child)
    finally:
        release.set()
        if locked:
            holder.join(10)
    assert message == repr(([(semconv.EQUITY, "momentum", 60.0)], 0))
    # the parent goes on as before
    assert performance.trackers() == {"momentum": inherited}
    assert inherited.snapshot() == pytest.approx(parent_figures, nan_ok=True)
    inherited.update_equity(200.0)
    assert inherited.snapshot()["equity"] == 200.0
