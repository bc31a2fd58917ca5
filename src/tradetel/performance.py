"""Performance and risk figures of a strategy, published as gauges when a metric reader collects.

    from tradetel import performance

    perf = performance.tracker("momentum", periods_per_year=365)
    perf.update_equity(10_250.0)                  # one call closes one return period
    perf.record_trade(+125.0)                     # a closed trade's realised PnL
    perf.update_positions({"BTC/USDT": 5_000.0, "ETH/USDT": -2_000.0})
    perf.snapshot()["sharpe"]

Recording is O(1) (amortised) under a lock per tracker: a bounded deque of returns, a running
peak and drawdown, running sums for the since-start mean, deviation and downside deviation.
The ratios are computed by ``snapshot()``, which a metric reader's collection calls, and are
cached until the next update. The formulas follow empyrical (see ``docs/performance.md``).
Bad input (NaN, infinities, equity <= 0, a timestamp going backwards) is counted and skipped;
nothing here raises into the caller's code after the tracker is made.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from itertools import repeat
from typing import TYPE_CHECKING

from . import semconv as sc
from ._errors import ConfigError
from ._internal import report_internal_error, warn_once
from ._metrics import add_source, gauge_metric, sum_metric

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric

__all__ = [
    "DEFAULT_CURRENCY",
    "DEFAULT_PERIODS_PER_YEAR",
    "MAX_GAP",
    "MAX_HISTORY",
    "Tracker",
    "remove",
    "reset",
    "tracker",
    "trackers",
]

#: Return periods in a year when ``periods_per_year`` is not given (trading days).
DEFAULT_PERIODS_PER_YEAR = 252
#: Account currency when ``currency`` is not given; the unit of the money gauges is ``{USD}``.
DEFAULT_CURRENCY = "USD"
#: Returns kept for VaR and CVaR since start (and the largest rolling window): memory stays
#: bounded, and past this many returns VaR and CVaR cover the most recent ones only.
MAX_HISTORY = 100_000
#: Empty periods forward-filled (as zero returns) for one gap in ``period`` mode, at most.
MAX_GAP = 10_000

#: A point in time: seconds since the epoch, or a ``datetime`` (naive means UTC).
Timestamp = float | int | datetime

_NAN = float("nan")
_REASONS = ("not_finite", "not_positive", "time_backwards")


class Tracker:
    """The performance and risk figures of one strategy; make it with :func:`tracker`.

    The settings are read-only attributes: ``strategy``, ``periods_per_year``, ``risk_free``
    (annual), ``window``, ``period`` (seconds or None) and ``currency``.
    """

    def __init__(
        self,
        strategy: str,
        periods_per_year: float,
        risk_free: float,
        window: int | None,
        period: float | None,
        currency: str,
    ) -> None:
        self.strategy = strategy
        self.periods_per_year = periods_per_year
        self.risk_free = risk_free
        self.window = window
        self.period = period
        self.currency = currency
        self._lock = threading.Lock()
        self._start_ns = time.time_ns()
        #: The risk-free rate of one return period, compounded to the annual rate.
        self._rf = (1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0
        self._returns: deque[float] = deque(maxlen=window or MAX_HISTORY)
        self._cache: dict[str, float] | None = None
        self._rejected = dict.fromkeys(_REASONS, 0)
        # since start, over every return: Welford's count, mean and sum of squared deviations,
        # and the sum of squared shortfalls below the risk-free rate (compensated)
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._down = 0.0
        self._down_c = 0.0
        # equity as updated: first value, latest, running peak, largest drawdown
        self._first = _NAN
        self._equity = _NAN
        self._peak = _NAN
        self._max_dd = 0.0
        self._time: float | None = None
        # period closes, which the returns are made of (each update when period is None)
        self._base = _NAN
        self._close = _NAN
        self._close_peak = _NAN
        self._close_max_dd = 0.0
        self._bucket: int | None = None
        self._open = _NAN
        # closed trades
        self._wins = self._losses = self._flat = 0
        self._profit = 0.0
        self._loss = 0.0
        self._realized = 0.0
        self._trade_time = _NAN
        # positions
        self._positions_seen = False
        self._long = 0.0
        self._short = 0.0
        self._count = 0
        self._unrealized = 0.0
        self._leverage: float | None = None

    def __repr__(self) -> str:
        return f"<performance.Tracker {self.strategy!r}>"

    # -- recording -----------------------------------------------------------------------

    def update_equity(self, value: float, ts: Timestamp | None = None) -> None:
        """Record the account equity at ``ts`` (default: now).

        Without a ``period`` each call closes one return period; with one, the last value in
        each period is its close. A non-finite value, a value <= 0 or a ``ts`` earlier than
        the previous one is counted as rejected and skipped.
        """
        try:
            with self._lock:
                self._update_equity(float(value), ts)
        except Exception as exc:
            report_internal_error("performance tracker", exc)

    def record_trade(self, pnl: float, *, ts: Timestamp | None = None) -> None:
        """Record a closed trade's realised PnL: a win above 0, a loss below 0, else flat.

        ``ts`` (default: now) is kept as ``snapshot()["trade_time"]``; trades may arrive out
        of order. A non-finite ``pnl`` or ``ts`` is counted as rejected and skipped.
        """
        try:
            with self._lock:
                self._record_trade(float(pnl), ts)
        except Exception as exc:
            report_internal_error("performance tracker", exc)

    def update_positions(
        self,
        positions: Mapping[str, float] | None = None,
        *,
        long: float | None = None,
        short: float | None = None,
        count: int | None = None,
        unrealized_pnl: float | None = None,
        leverage: float | None = None,
    ) -> None:
        """Record the open positions, as ``{symbol: signed notional}`` or as totals.

        A mapping gives the long notional (sum of the positive values), the short notional
        (sum of the magnitudes of the negative ones) and the count (non-zero entries); a
        keyword given as well overrides what the mapping gives. ``long`` and ``short`` are
        magnitudes (a negative ``short`` is taken as its size). Every figure left out keeps
        its last value. ``leverage``, until given, is gross notional / equity. A non-finite
        figure or a negative count rejects the whole call.
        """
        try:
            with self._lock:
                self._update_positions(positions, long, short, count, unrealized_pnl, leverage)
        except Exception as exc:
            report_internal_error("performance tracker", exc)

    def snapshot(self) -> dict[str, float]:
        """Every figure now, by name; an undefined one (too few returns, no trades) is NaN."""
        with self._lock:
            if self._cache is None:
                self._cache = self._compute()
            return dict(self._cache)

    def _observe(self) -> tuple[dict[str, float], bool, int, dict[str, int]]:
        """What the metric source publishes: the figures, whether positions were reported,
        the creation time and the rejected updates by reason."""
        figures = self.snapshot()
        with self._lock:
            return figures, self._positions_seen, self._start_ns, dict(self._rejected)

    # -- internals (called under the lock) ------------------------------------------------

    def _reject(self, reason: str) -> None:
        self._rejected[reason] += 1
        self._cache = None
        warn_once(
            f"performance {reason} {self.strategy}",
            "tradetel: performance tracker %r skipped an update (%s); this one and later ones "
            "are counted in the metric %s and in snapshot()['rejected'].",
            self.strategy,
            reason,
            sc.PERFORMANCE_REJECTED,
        )

    def _seconds(self, ts: Timestamp | None, last: float | None) -> float:
        if ts is None:  # the wall clock may step back a little: never reject it for that
            now = time.time()
            return now if last is None or now > last else last
        if isinstance(ts, datetime):
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=timezone.utc)
            return ts.timestamp()
        return float(ts)

    def _update_equity(self, value: float, ts: Timestamp | None) -> None:
        if not math.isfinite(value):
            return self._reject("not_finite")
        if value <= 0.0:
            return self._reject("not_positive")
        t = self._seconds(ts, self._time)
        if not math.isfinite(t):
            return self._reject("not_finite")
        if self._time is not None and t < self._time:
            return self._reject("time_backwards")
        self._time = t
        self._cache = None

        if math.isnan(self._first):  # the first update
            self._first = self._peak = value
        self._equity = value
        if value > self._peak:
            self._peak = value
        else:
            drawdown = 1.0 - value / self._peak
            if drawdown > self._max_dd:
                self._max_dd = drawdown

        if self.period is None:
            self._close_period(value)
            return None
        bucket = math.floor(t / self.period)
        if self._bucket is None:
            self._bucket = bucket
        elif bucket > self._bucket:
            self._close_period(self._open)
            empty = bucket - self._bucket - 1
            if empty > 0:
                self._add_zero_returns(min(empty, MAX_GAP))
            self._bucket = bucket
        self._open = value
        return None

    def _close_period(self, close: float) -> None:
        previous = self._close
        self._close = close
        if math.isnan(previous):  # the first close is the base of the returns
            self._base = self._close_peak = close
            return
        self._add_return(close / previous - 1.0)
        if close > self._close_peak:
            self._close_peak = close
        else:
            drawdown = 1.0 - close / self._close_peak
            if drawdown > self._close_max_dd:
                self._close_max_dd = drawdown

    def _add_return(self, r: float) -> None:
        self._returns.append(r)
        self._n += 1
        delta = r - self._mean
        self._mean += delta / self._n
        self._m2 += delta * (r - self._mean)
        shortfall = r - self._rf
        if shortfall < 0.0:
            self._add_down(shortfall * shortfall)

    def _add_zero_returns(self, k: int) -> None:
        """Append ``k`` zero returns at once (Chan et al.'s update for merging a batch)."""
        self._returns.extend(repeat(0.0, min(k, self._returns.maxlen or k)))
        n = self._n + k
        delta = -self._mean
        self._mean += delta * k / n
        self._m2 += delta * delta * self._n * k / n
        self._n = n
        if self._rf > 0.0:
            self._add_down(k * self._rf * self._rf)

    def _add_down(self, x: float) -> None:
        # Neumaier's compensated sum: many small squares added to a large total stay exact
        total = self._down + x
        if abs(self._down) >= abs(x):
            self._down_c += (self._down - total) + x
        else:
            self._down_c += (x - total) + self._down
        self._down = total

    def _record_trade(self, pnl: float, ts: Timestamp | None) -> None:
        if not math.isfinite(pnl):
            return self._reject("not_finite")
        t = self._seconds(ts, None)
        if not math.isfinite(t):
            return self._reject("not_finite")
        self._cache = None
        self._trade_time = t
        self._realized += pnl
        if pnl > 0.0:
            self._wins += 1
            self._profit += pnl
        elif pnl < 0.0:
            self._losses += 1
            self._loss -= pnl
        else:
            self._flat += 1
        return None

    def _update_positions(
        self,
        positions: Mapping[str, float] | None,
        long: float | None,
        short: float | None,
        count: int | None,
        unrealized: float | None,
        leverage: float | None,
    ) -> None:
        new_long, new_short, new_count = self._long, self._short, self._count
        if positions is not None:
            new_long = new_short = 0.0
            new_count = 0
            for notional in positions.values():
                x = float(notional)
                if x > 0.0:
                    new_long += x
                    new_count += 1
                elif x < 0.0:
                    new_short -= x
                    new_count += 1
                elif x != 0.0:  # NaN
                    return self._reject("not_finite")
        if long is not None:
            new_long = abs(float(long))
        if short is not None:
            new_short = abs(float(short))
        if count is not None:
            new_count = int(count)
        new_unrealized = self._unrealized if unrealized is None else float(unrealized)
        new_leverage = self._leverage if leverage is None else float(leverage)
        figures = (
            new_long,
            new_short,
            new_unrealized,
            0.0 if new_leverage is None else new_leverage,
        )
        if not all(math.isfinite(x) for x in figures):
            return self._reject("not_finite")
        if new_count < 0:
            return self._reject("not_positive")
        self._cache = None
        self._positions_seen = True
        self._long, self._short, self._count = new_long, new_short, new_count
        self._unrealized, self._leverage = new_unrealized, new_leverage
        return None

    # -- figures --------------------------------------------------------------------------

    def _compute(self) -> dict[str, float]:
        ppy, rf, equity = self.periods_per_year, self._rf, self._equity
        if self.window is None:
            n, mean = self._n, self._mean
            variance = self._m2 / (n - 1) if n > 1 else _NAN
            down = (self._down + self._down_c) / n if n else _NAN
            growth = self._close / self._base if n else _NAN
            max_dd = self._close_max_dd
        else:
            n, mean, variance, down, growth, max_dd = _window_figures(list(self._returns), rf)
        std = math.sqrt(variance) if variance > 0.0 else variance  # 0.0 or NaN as is
        annual = _annualise(growth, ppy / n) if n else _NAN
        excess = mean - rf
        downside = math.sqrt(down) * math.sqrt(ppy)
        ordered = sorted(self._returns)
        trades = self._wins + self._losses + self._flat
        gross = self._long + self._short
        positions, leverage = self._positions_seen, self._leverage
        return {
            "equity": equity,
            "return": equity / self._first - 1.0,
            "annual_return": annual,
            "volatility": std * math.sqrt(ppy) if n > 1 else _NAN,
            "sharpe": excess / std * math.sqrt(ppy) if n > 1 and std > 0.0 else _NAN,
            "sortino": excess * ppy / downside if n > 1 and downside > 0.0 else _NAN,
            "calmar": annual / max_dd if max_dd > 0.0 and math.isfinite(annual) else _NAN,
            "drawdown": 1.0 - equity / self._peak,
            "max_drawdown": self._max_dd if not math.isnan(equity) else _NAN,
            "var_95": _value_at_risk(ordered, 0.05),
            "cvar_95": _expected_shortfall(ordered, 0.05),
            "var_99": _value_at_risk(ordered, 0.01),
            "cvar_99": _expected_shortfall(ordered, 0.01),
            "periods": self._n,
            "time": _NAN if self._time is None else self._time,
            "pnl_realized": self._realized,
            "pnl_unrealized": self._unrealized,
            "trades": trades,
            "wins": self._wins,
            "losses": self._losses,
            "flat": self._flat,
            "win_rate": self._wins / trades if trades else _NAN,
            "profit_factor": _profit_factor(self._profit, self._loss),
            "trade_time": self._trade_time,
            "long_notional": self._long,
            "short_notional": self._short,
            "positions": self._count,
            "exposure_gross": gross / equity if positions else _NAN,
            "exposure_net": (self._long - self._short) / equity if positions else _NAN,
            "exposure_long": self._long / equity if positions else _NAN,
            "exposure_short": self._short / equity if positions else _NAN,
            "leverage": _NAN if not positions else gross / equity if leverage is None else leverage,
            "rejected": sum(self._rejected.values()),
        }


def _window_figures(
    returns: list[float], rf: float
) -> tuple[int, float, float, float, float, float]:
    """Count, mean, variance, mean squared shortfall, growth and max drawdown of ``returns``."""
    n = len(returns)
    if not n:
        return 0, _NAN, _NAN, _NAN, _NAN, 0.0
    mean = math.fsum(returns) / n
    if n > 1 and min(returns) != max(returns):
        variance = math.fsum((r - mean) ** 2 for r in returns) / (n - 1)
    else:  # identical values: exactly no dispersion, whatever the rounding of the mean
        variance = 0.0 if n > 1 else _NAN
    down = math.fsum(min(r - rf, 0.0) ** 2 for r in returns) / n
    level = peak = 1.0
    max_dd = 0.0
    for r in returns:
        level *= 1.0 + r
        if level > peak:
            peak = level
        elif 1.0 - level / peak > max_dd:
            max_dd = 1.0 - level / peak
    return n, mean, variance, down, level, max_dd


def _annualise(growth: float, power: float) -> float:
    try:
        return float(growth**power) - 1.0
    except OverflowError:  # a huge gain over a few short periods
        return math.inf


def _value_at_risk(ordered: list[float], cutoff: float) -> float:
    """Minus the ``cutoff`` quantile of the returns, interpolated linearly between ranks."""
    if not ordered:
        return _NAN
    position = (len(ordered) - 1) * cutoff
    i = int(position)
    fraction = position - i
    low = ordered[i]
    if fraction == 0.0 or i + 1 >= len(ordered):
        return 0.0 - low
    return 0.0 - (low + (ordered[i + 1] - low) * fraction)


def _expected_shortfall(ordered: list[float], cutoff: float) -> float:
    """Minus the mean of the worst returns, up to and including the ``cutoff`` rank."""
    if not ordered:
        return _NAN
    tail = int((len(ordered) - 1) * cutoff) + 1
    return 0.0 - math.fsum(ordered[:tail]) / tail


def _profit_factor(profit: float, loss: float) -> float:
    if loss > 0.0:
        return profit / loss
    return math.inf if profit > 0.0 else _NAN


# -- the trackers ------------------------------------------------------------------------

_trackers: dict[str, Tracker] = {}
_trackers_lock = threading.Lock()


def tracker(
    strategy: str,
    *,
    periods_per_year: float | None = None,
    risk_free: float | None = None,
    window: int | None = None,
    period: float | timedelta | None = None,
    currency: str | None = None,
) -> Tracker:
    """The performance tracker of ``strategy``, made on the first call.

    Args:
        strategy: the ``trading.strategy.name`` of every figure.
        periods_per_year: return periods in a year, to annualise (default 252; 365 for a
            market open every day, 12 for monthly returns).
        risk_free: the ANNUAL risk-free rate (default 0.0), used per period as
            ``(1 + risk_free) ** (1 / periods_per_year) - 1``.
        window: compute the ratios, volatility and VaR over the last ``window`` returns
            (default: since start).
        period: seconds (or a ``timedelta``) per return period, bucketed on the updates'
            timestamps (default: each ``update_equity`` call closes one period).
        currency: the account currency, the unit of the money gauges (default "USD").

    Asking again returns the same tracker; an argument given again with another value
    raises ``ConfigError``.
    """
    if not isinstance(strategy, str) or not strategy:
        raise ConfigError(
            f"performance.tracker(): strategy must be a non-empty string: {strategy!r}"
        )
    if isinstance(period, timedelta):
        period = period.total_seconds()
    given: dict[str, object] = {
        "periods_per_year": _number(strategy, "periods_per_year", periods_per_year, 0.0),
        "risk_free": _number(strategy, "risk_free", risk_free, -1.0),
        "window": window,
        "period": _number(strategy, "period", period, 0.0),
        "currency": currency,
    }
    if window is not None and (
        not isinstance(window, int) or isinstance(window, bool) or not 2 <= window <= MAX_HISTORY
    ):
        raise _invalid(strategy, "window", window, f"a whole number from 2 to {MAX_HISTORY}")
    if currency is not None and (not isinstance(currency, str) or not currency.isalnum()):
        raise _invalid(strategy, "currency", currency, 'a currency code such as "USD"')
    with _trackers_lock:
        existing = _trackers.get(strategy)
        if existing is None:
            made = _trackers[strategy] = Tracker(
                strategy,
                DEFAULT_PERIODS_PER_YEAR if periods_per_year is None else float(periods_per_year),
                0.0 if risk_free is None else float(risk_free),
                window,
                None if period is None else float(period),
                DEFAULT_CURRENCY if currency is None else currency,
            )
            return made
    for name, value in given.items():
        if value is not None and getattr(existing, name) != value:
            raise ConfigError(
                f"performance tracker {strategy!r} already exists with {name}="
                f"{getattr(existing, name)!r}; tracker() was called again with {name}={value!r}"
            )
    return existing


def _invalid(strategy: str, name: str, value: object, expected: str) -> ConfigError:
    return ConfigError(
        f"performance tracker {strategy!r}: {name} must be {expected}, not {value!r}"
    )


def _number(strategy: str, name: str, value: object, above: float) -> float | None:
    """``value`` as a float, checked to be a finite number above ``above``; None stays None."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= above
    ):
        raise _invalid(strategy, name, value, f"a number above {above:g}")
    return float(value)


def remove(strategy: str) -> None:
    """Forget the tracker of ``strategy``: its figures are no longer published."""
    with _trackers_lock:
        _trackers.pop(strategy, None)


def reset() -> None:
    """Forget every tracker (for tests and notebooks)."""
    with _trackers_lock:
        _trackers.clear()


def trackers() -> dict[str, Tracker]:
    """The live trackers, by strategy."""
    with _trackers_lock:
        return dict(_trackers)


# -- publishing --------------------------------------------------------------------------

#: (metric, snapshot key, description) of the gauges in the account currency.
_MONEY = (
    (sc.EQUITY, "equity", "Account equity."),
    (sc.PNL_REALIZED, "pnl_realized", "Realised PnL of the trades closed since start."),
    (sc.PNL_UNREALIZED, "pnl_unrealized", "Unrealised PnL of the open positions."),
)
#: (metric, snapshot key, description) of the gauges with unit 1.
_RATIOS = (
    (sc.RETURN, "return", "Cumulative return since the first equity update."),
    (sc.DRAWDOWN, "drawdown", "Drawdown from the highest equity, as a positive fraction."),
    (sc.DRAWDOWN_MAX, "max_drawdown", "Largest drawdown since start, as a positive fraction."),
    (sc.SHARPE, "sharpe", "Annualised Sharpe ratio of the returns."),
    (sc.SORTINO, "sortino", "Annualised Sortino ratio of the returns."),
    (sc.CALMAR, "calmar", "Annual return over the largest drawdown of the returns."),
    (sc.VOLATILITY, "volatility", "Annualised standard deviation of the returns."),
    (sc.WIN_RATE, "win_rate", "Share of the closed trades that won."),
    (sc.PROFIT_FACTOR, "profit_factor", "Gross profit over gross loss of the closed trades."),
    (sc.LEVERAGE, "leverage", "Leverage: gross notional over equity unless reported."),
)
_RISK = (
    (sc.VAR, "var_", "Historical value at risk of one period's return, as a loss fraction."),
    (sc.CVAR, "cvar_", "Historical expected shortfall of one period's return, as a loss fraction."),
)
_CONFIDENCES = (("0.95", "95"), ("0.99", "99"))
_EXPOSURES = ("gross", "net", "long", "short")
_OUTCOMES = (("win", "wins"), ("loss", "losses"), ("flat", "flat"))

_Points = list[tuple[dict[str, str], float]]


def _observe(now_ns: int) -> list[Metric]:
    """Every live tracker's figures as metrics (a source of ``tradetel._metrics``)."""
    gauges: dict[tuple[str, str, str], _Points] = {}
    trades: list[tuple[dict[str, str], float, int]] = []
    rejected: list[tuple[dict[str, str], float, int]] = []

    def gauge(name: str, unit: str, description: str, attributes: dict[str, str],
              value: float) -> None:  # fmt: skip
        if not math.isnan(value):  # NaN is an undefined figure: not published
            gauges.setdefault((name, unit, description), []).append((attributes, value))

    for strategy, t in sorted(trackers().items()):
        figures, positions_seen, start_ns, counts = t._observe()
        attrs: dict[str, str] = {sc.STRATEGY_NAME: strategy}
        money = "{" + t.currency + "}"
        has_trades = figures["trades"] > 0
        for name, key, description in _MONEY:
            if (key != "pnl_realized" or has_trades) and (
                key != "pnl_unrealized" or positions_seen
            ):
                gauge(name, money, description, attrs, figures[key])
        for name, key, description in _RATIOS:
            gauge(name, "1", description, attrs, figures[key])
        for name, prefix, description in _RISK:
            for confidence, suffix in _CONFIDENCES:
                point = {**attrs, sc.CONFIDENCE: confidence}
                gauge(name, "1", description, point, figures[prefix + suffix])
        for kind in _EXPOSURES:
            point = {**attrs, sc.EXPOSURE_KIND: kind}
            gauge(sc.EXPOSURE, "1", "Notional over equity.", point, figures["exposure_" + kind])
        if positions_seen:
            gauge(sc.POSITIONS_OPEN, "{position}", "Open positions.", attrs, figures["positions"])
        if has_trades:
            for outcome, key in _OUTCOMES:
                trades.append(({**attrs, sc.TRADE_OUTCOME: outcome}, figures[key], start_ns))
        for reason, count in counts.items():
            if count:
                rejected.append(({**attrs, sc.REASON: reason}, count, start_ns))

    found = [
        gauge_metric(name, unit, description, points, now_ns)
        for (name, unit, description), points in gauges.items()
    ]
    found.append(
        sum_metric(
            sc.TRADES, "{trade}", "Closed trades, by outcome.", trades, now_ns, monotonic=True
        )
    )
    found.append(
        sum_metric(
            sc.PERFORMANCE_REJECTED, "{update}",
            "Performance updates skipped as invalid (NaN, equity <= 0, time going backwards).",
            rejected, now_ns, monotonic=True,
        )
    )  # fmt: skip
    return [m for m in found if m is not None]


add_source(_observe)
