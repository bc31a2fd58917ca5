"""Performance and risk figures of a strategy, published as gauges when a metric reader collects.

    from tradetel import performance

    perf = performance.tracker("momentum", periods_per_year=365)
    perf.update_equity(10_250.0)                  # one call closes one return period
    perf.record_trade(+125.0)                     # a closed trade's realised PnL
    perf.update_positions({"BTC/USDT": 5_000.0, "ETH/USDT": -2_000.0})
    perf.snapshot()["sharpe"]

Recording is O(1) (amortised) under a lock per tracker: a bounded deque of returns, a running
peak and drawdown, running sums for the since-start mean, deviation and downside deviation.
The ratios are computed by ``snapshot()``, which a metric reader's collection calls, from a
copy of the state taken under the lock, so that a collection never holds up an update; they
are cached until the next update. The formulas follow empyrical (see ``docs/performance.md``).
Bad input (anything not a finite number, equity <= 0, a timestamp that is not in seconds,
such as milliseconds, or that goes backwards) is counted and skipped; nothing here raises into
the caller's code after the tracker is made. A forked child starts with no trackers.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from itertools import repeat
from typing import TYPE_CHECKING, NamedTuple

from . import semconv as sc
from ._errors import ConfigError
from ._internal import report_internal_error, warn_once
from ._metrics import add_source, gauge_metric, sum_metric
from .tick_to_trade import to_ns

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
_REASONS = ("not_finite", "not_positive", "bad_timestamp", "time_backwards")


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
        #: Bumped by every change (a rejection too): the cached figures are of one version.
        self._version = 0
        self._cache: tuple[int, _View] | None = None
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
        each period is its close. A value that is not a finite number, a value <= 0, a ``ts``
        that is not a time in seconds (milliseconds, for one) or a ``ts`` earlier than the
        previous one is counted as rejected and skipped.
        """
        try:
            equity = _finite(value)
            when = _read_time(ts)
            if equity is None:
                reason: str | None = "not_finite"
            elif equity <= 0.0:
                reason = "not_positive"
            elif when is None:
                reason = "bad_timestamp"
            else:
                with self._lock:
                    reason = self._update_equity(equity, when, ts is None)
            if reason is not None:
                self._reject(reason)
        except Exception as exc:
            report_internal_error("performance tracker", exc)

    def record_trade(self, pnl: float, *, ts: Timestamp | None = None) -> None:
        """Record a closed trade's realised PnL: a win above 0, a loss below 0, else flat.

        ``ts`` (default: now) is kept as ``snapshot()["trade_time"]``; trades may arrive out
        of order. A ``pnl`` that is not a finite number or a ``ts`` that is not a time in
        seconds is counted as rejected and skipped.
        """
        try:
            value = _finite(pnl)
            when = _read_time(ts)
            if value is None:
                self._reject("not_finite")
            elif when is None:
                self._reject("bad_timestamp")
            else:
                with self._lock:
                    self._record_trade(value, when)
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
        its last value. ``leverage``, until given, is gross notional / equity. A figure that
        is not a finite number or a negative count rejects the whole call.
        """
        try:
            read = _read_positions(positions, long, short, count, unrealized_pnl, leverage)
            if isinstance(read, str):
                self._reject(read)
            else:
                with self._lock:
                    self._update_positions(*read)
        except Exception as exc:
            report_internal_error("performance tracker", exc)

    def snapshot(self) -> dict[str, float]:
        """Every figure now, by name; an undefined one (too few returns, no trades) is NaN."""
        return dict(self._view()[0])

    def _observe(self) -> tuple[dict[str, float], bool, int, dict[str, int]]:
        """What the metric source publishes: the figures, whether positions were reported,
        the creation time and the rejected updates by reason (all of one version)."""
        figures, positions_seen, rejected = self._view()
        return figures, positions_seen, self._start_ns, dict(rejected)

    def _view(self) -> _View:
        """The figures, whether positions were reported and the rejections by reason (not to
        be changed: cached). Computed outside the lock, from a copy of the state."""
        with self._lock:
            cached = self._cache
            if cached is not None and cached[0] == self._version:
                return cached[1]
            version = self._version
            state = self._state()
        view = (_compute(state), state.positions_seen, state.rejected)
        with self._lock:
            if self._version == version:  # not when an update came meanwhile: it is newer
                self._cache = (version, view)
        return view

    def _reject(self, reason: str) -> None:
        """Count a rejected update, then log it (once per reason), outside the lock."""
        with self._lock:
            self._rejected[reason] += 1
            self._version += 1
        warn_once(
            f"performance {reason} {self.strategy}",
            "tradetel: performance tracker %r skipped an update (%s); this one and later ones "
            "are counted in the metric %s and in snapshot()['rejected'].",
            self.strategy,
            reason,
            sc.PERFORMANCE_REJECTED,
        )

    # -- internals (called under the lock) ------------------------------------------------

    def _state(self) -> _State:
        """A copy of what the figures are computed from: scalars and the list of returns."""
        return _State(
            periods_per_year=self.periods_per_year,
            rf=self._rf,
            window=self.window,
            returns=list(self._returns),
            n=self._n,
            mean=self._mean,
            m2=self._m2,
            down=self._down + self._down_c,
            first=self._first,
            equity=self._equity,
            peak=self._peak,
            max_dd=self._max_dd,
            time=_NAN if self._time is None else self._time,
            base=self._base,
            close=self._close,
            close_max_dd=self._close_max_dd,
            wins=self._wins,
            losses=self._losses,
            flat=self._flat,
            profit=self._profit,
            loss=self._loss,
            realized=self._realized,
            trade_time=self._trade_time,
            positions_seen=self._positions_seen,
            long=self._long,
            short=self._short,
            open_count=self._count,
            unrealized=self._unrealized,
            leverage=self._leverage,
            rejected=dict(self._rejected),
        )

    def _update_equity(self, value: float, t: float, now: bool) -> str | None:
        """Take a checked equity at ``t`` (``now``: the wall clock's, not given); the reason
        when its time is rejected, else None."""
        if self._time is not None and t < self._time:
            if not now:
                return "time_backwards"
            t = self._time  # the wall clock may step back a little: never reject it for that
        self._time = t
        self._version += 1

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

    def _record_trade(self, pnl: float, t: float) -> None:
        self._version += 1
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

    def _update_positions(
        self,
        long: float | None,
        short: float | None,
        count: int | None,
        unrealized: float | None,
        leverage: float | None,
    ) -> None:
        """Take checked figures (see ``_read_positions``); None keeps the last value."""
        self._version += 1
        self._positions_seen = True
        if long is not None:
            self._long = long
        if short is not None:
            self._short = short
        if count is not None:
            self._count = count
        if unrealized is not None:
            self._unrealized = unrealized
        if leverage is not None:
            self._leverage = leverage


#: The figures, whether positions were reported, and the rejected updates by reason.
_View = tuple[dict[str, float], bool, dict[str, int]]


class _State(NamedTuple):
    """A copy of a tracker's state, taken under its lock, to compute the figures outside it."""

    periods_per_year: float
    rf: float
    window: int | None
    returns: list[float]
    n: int
    mean: float
    m2: float
    down: float
    first: float
    equity: float
    peak: float
    max_dd: float
    time: float
    base: float
    close: float
    close_max_dd: float
    wins: int
    losses: int
    flat: int
    profit: float
    loss: float
    realized: float
    trade_time: float
    positions_seen: bool
    long: float
    short: float
    open_count: int
    unrealized: float
    leverage: float | None
    rejected: dict[str, int]


def _finite(value: object) -> float | None:
    """``value`` as a float if it is a finite number; None for NaN, infinities and anything
    that is not a number ("n/a", None): the caller's bad input, never an internal error."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ArithmeticError):
        return None
    return x if math.isfinite(x) else None


def _read_time(ts: Timestamp | None) -> float | None:
    """``ts`` in seconds since the epoch (now when None); None when it is not such a time:
    unreadable, not finite, negative, or a millisecond or microsecond timestamp."""
    if ts is None:
        return time.time()
    ns = to_ns(ts)
    return None if ns is None else ns / 1e9


def _read_positions(
    positions: Mapping[str, float] | None,
    long: float | None,
    short: float | None,
    count: int | None,
    unrealized: float | None,
    leverage: float | None,
) -> str | tuple[float | None, float | None, int | None, float | None, float | None]:
    """The checked ``(long, short, count, unrealized, leverage)`` of an ``update_positions``
    call (None: keep the last value), or the reason to reject the whole call."""
    new_long: float | None = None
    new_short: float | None = None
    new_count: int | None = None
    if positions is not None:
        totals = _read_mapping(positions)
        if totals is None:
            return "not_finite"
        new_long, new_short, new_count = totals
    read: list[float | None] = []
    for given in (long, short, count, unrealized, leverage):
        x = None if given is None else _finite(given)
        if given is not None and x is None:
            return "not_finite"
        read.append(x)
    given_long, given_short, given_count, new_unrealized, new_leverage = read
    if given_long is not None:
        new_long = abs(given_long)
    if given_short is not None:
        new_short = abs(given_short)
    if given_count is not None:
        new_count = int(given_count)
    if new_count is not None and new_count < 0:
        return "not_positive"
    return new_long, new_short, new_count, new_unrealized, new_leverage


def _read_mapping(positions: Mapping[str, float]) -> tuple[float, float, int] | None:
    """The long and short notionals and the count of ``{symbol: signed notional}``; None when
    a notional (or a total) is not a finite number, or ``positions`` is not a mapping."""
    try:
        notionals = list(positions.values())
    except Exception:  # not a mapping: the caller's bad input, like a string for a number
        return None
    long = short = 0.0
    count = 0
    for notional in notionals:
        x = _finite(notional)
        if x is None:
            return None
        if x > 0.0:
            long += x
            count += 1
        elif x < 0.0:
            short -= x
            count += 1
    return (long, short, count) if math.isfinite(long) and math.isfinite(short) else None


def _compute(s: _State) -> dict[str, float]:
    """Every figure of ``s`` (outside the tracker's lock: sorting the returns takes a while)."""
    ppy, rf, equity = s.periods_per_year, s.rf, s.equity
    if s.window is None:
        n, mean = s.n, s.mean
        variance = s.m2 / (n - 1) if n > 1 else _NAN
        down = s.down / n if n else _NAN
        growth = s.close / s.base if n else _NAN
        max_dd = s.close_max_dd
    else:
        n, mean, variance, down, growth, max_dd = _window_figures(s.returns, rf)
    std = math.sqrt(variance) if variance > 0.0 else variance  # 0.0 or NaN as is
    annual = _annualise(growth, ppy / n) if n else _NAN
    excess = mean - rf
    downside = math.sqrt(down) * math.sqrt(ppy)
    ordered = sorted(s.returns)
    trades = s.wins + s.losses + s.flat
    gross = s.long + s.short
    positions, leverage = s.positions_seen, s.leverage
    return {
        "equity": equity,
        "return": equity / s.first - 1.0,
        "annual_return": annual,
        "volatility": std * math.sqrt(ppy) if n > 1 else _NAN,
        "sharpe": excess / std * math.sqrt(ppy) if n > 1 and std > 0.0 else _NAN,
        "sortino": excess * ppy / downside if n > 1 and downside > 0.0 else _NAN,
        "calmar": annual / max_dd if max_dd > 0.0 and math.isfinite(annual) else _NAN,
        "drawdown": 1.0 - equity / s.peak,
        "max_drawdown": s.max_dd if not math.isnan(equity) else _NAN,
        "var_95": _value_at_risk(ordered, 0.05),
        "cvar_95": _expected_shortfall(ordered, 0.05),
        "var_99": _value_at_risk(ordered, 0.01),
        "cvar_99": _expected_shortfall(ordered, 0.01),
        "periods": s.n,
        "time": s.time,
        "pnl_realized": s.realized,
        "pnl_unrealized": s.unrealized,
        "trades": trades,
        "wins": s.wins,
        "losses": s.losses,
        "flat": s.flat,
        "win_rate": s.wins / trades if trades else _NAN,
        "profit_factor": _profit_factor(s.profit, s.loss),
        "trade_time": s.trade_time,
        "long_notional": s.long,
        "short_notional": s.short,
        "positions": s.open_count,
        "exposure_gross": gross / equity if positions else _NAN,
        "exposure_net": (s.long - s.short) / equity if positions else _NAN,
        "exposure_long": s.long / equity if positions else _NAN,
        "exposure_short": s.short / equity if positions else _NAN,
        "leverage": _NAN if not positions else gross / equity if leverage is None else leverage,
        "rejected": sum(s.rejected.values()),
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


def _after_fork_in_child() -> None:
    """A forked child's trackers start afresh: the parent's figures are not the child's.

    Each tracker is emptied in place and stays registered, so a reference kept from the
    parent (a module-level ``perf = tracker(...)``) records and publishes the child's own
    figures. The locks are new ones: a thread of the parent may have held one at the fork,
    and it does not exist in the child to release it. (No threads, no I/O here.)
    """
    global _trackers_lock
    _trackers_lock = threading.Lock()
    for t in _trackers.values():
        t.__init__(  # type: ignore[misc]
            t.strategy, t.periods_per_year, t.risk_free, t.window, t.period, t.currency
        )


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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
            "Performance updates skipped as invalid (not a finite number, equity <= 0, "
            "a timestamp not in seconds, time going backwards).",
            rejected, now_ns, monotonic=True,
        )
    )  # fmt: skip
    return [m for m in found if m is not None]


add_source(_observe)
