"""The numeric side of PromQL functions and operators, as Prometheus 2.42 computes them.

Results are compared with promtool's by exact float equality, so each kernel keeps
Prometheus' order of float operations (Kahan sums where 2.42 has them, its incremental
means, its extrapolation steps), and Go's ``math`` special cases replace Python's
exceptions: Go returns ±Inf or NaN where Python raises (division by zero, ``fmod``,
``pow``, ``floor`` of Inf/NaN), and ``math.Max``/``math.Min`` treat NaN and signed zeros
their own way.  ``math.Pow`` is Go 1.19's own algorithm (repeated squaring for the integer
part of the exponent, Go's amd64 assembly ``Exp`` and ``Log`` for the fraction), which is
not always the correctly rounded result C's ``pow`` gives.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Sequence
from fractions import Fraction

__all__ = [
    "avg_over_time",
    "bucket_quantile",
    "changes",
    "deriv",
    "duration_seconds",
    "extrapolated_rate",
    "go_div",
    "go_exp",
    "go_floor",
    "go_log",
    "go_max",
    "go_min",
    "go_mod",
    "go_pow",
    "instant_rate",
    "max_over_time",
    "min_over_time",
    "parse_go_float",
    "quantile",
    "resets",
    "round_to",
    "stddev_over_time",
    "sum_over_time",
]

_INF = math.inf
_NAN = math.nan


# --- Go's math -----------------------------------------------------------------------


def go_div(x: float, y: float) -> float:
    """``x / y`` with IEEE results for a zero divisor, as Go gives them."""
    if y == 0.0:
        if x == 0.0 or math.isnan(x):
            return _NAN
        negative = (math.copysign(1.0, x) < 0) != (math.copysign(1.0, y) < 0)
        return -_INF if negative else _INF
    return x / y


def go_mod(x: float, y: float) -> float:
    """Go's ``math.Mod``: the remainder takes the dividend's sign (C ``fmod``)."""
    if y == 0.0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
        return _NAN
    return math.fmod(x, y)


def go_floor(x: float) -> float:
    if x == 0.0 or math.isinf(x) or math.isnan(x):
        return x  # keeps -0, ±Inf and NaN as Go does
    return float(math.floor(x))


def go_max(x: float, y: float) -> float:
    if _INF in (x, y):
        return _INF
    if math.isnan(x) or math.isnan(y):
        return _NAN
    if x == 0.0 and y == 0.0:
        return y if math.copysign(1.0, x) < 0 else x
    return x if x > y else y


def go_min(x: float, y: float) -> float:
    if -_INF in (x, y):
        return -_INF
    if math.isnan(x) or math.isnan(y):
        return _NAN
    if x == 0.0 and y == 0.0:
        return x if math.copysign(1.0, x) < 0 else y
    return x if x < y else y


def _is_odd_int(x: float) -> bool:
    if abs(x) >= 1 << 53:
        return False
    frac, whole = math.modf(x)
    return frac == 0.0 and int(whole) & 1 == 1


def _ldexp(frac: float, exp: int) -> float:
    try:
        return math.ldexp(frac, exp)
    except OverflowError:
        return math.copysign(_INF, frac)


def go_pow(x: float, y: float) -> float:  # noqa: PLR0911, PLR0912 - Go's cases in Go's order
    """Go's ``math.Pow``, special cases and algorithm included."""
    if y == 0.0 or x == 1.0:
        return 1.0
    if y == 1.0:
        return x
    if math.isnan(x) or math.isnan(y):
        return _NAN
    if x == 0.0:
        odd_negative_zero = math.copysign(1.0, x) < 0 and _is_odd_int(y)
        if y < 0:
            return -_INF if odd_negative_zero else _INF
        return x if odd_negative_zero else 0.0
    if math.isinf(y):
        if x == -1.0:
            return 1.0
        return 0.0 if (abs(x) < 1) == (y > 0) else _INF
    if math.isinf(x):
        if x < 0:
            return go_pow(1 / x, -y)  # Pow(-0, -y)
        return 0.0 if y < 0 else _INF
    if y == 0.5:
        return math.sqrt(x) if x >= 0 else _NAN
    if y == -0.5:
        return 1 / math.sqrt(x) if x >= 0 else _NAN

    yf, yi = math.modf(abs(y))
    if yf != 0 and x < 0:
        return _NAN
    if yi >= 1 << 63:
        if x == -1:
            return 1.0
        return 0.0 if (abs(x) < 1) == (y > 0) else _INF

    a1 = 1.0
    ae = 0
    if yf != 0:
        if yf > 0.5:
            yf -= 1
            yi += 1
        a1 = go_exp(yf * go_log(x))
    x1, xe = math.frexp(x)
    i = int(yi)
    while i != 0:
        if xe < -(1 << 12) or xe > (1 << 12):
            ae += xe  # catastrophic over/underflow: let ldexp settle it
            break
        if i & 1 == 1:
            a1 *= x1
            ae += xe
        x1 *= x1
        xe <<= 1
        if x1 < 0.5:
            x1 += x1
            xe -= 1
        i >>= 1
    if y < 0:
        a1 = 1 / a1
        ae = -ae
    return _ldexp(a1, ae)


def _fma(a: float, b: float, c: float) -> float:
    """``a*b + c`` rounded once, as the FMA instructions Go's amd64 ``Exp`` uses."""
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
        return a * b + c
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    if exact == 0:
        return a * b + c  # the product is exact here, so IEEE gives the zero's sign
    try:
        return float(exact)  # int / int: correctly rounded
    except OverflowError:
        return math.copysign(_INF, exact)


_LOG2E = 1.4426950408889634073599246810018920
_LN2U = 0.69314718055966295651160180568695068359375
_LN2L = 0.28235290563031577122588448175013436025525412068e-12
_EXP_OVERFLOW = 7.09782712893384e02
_EXP_TAYLOR = (
    2.4801587301587301587e-5,
    1.9841269841269841270e-4,
    1.3888888888888888889e-3,
    8.3333333333333333333e-3,
    4.1666666666666666667e-2,
    1.6666666666666666667e-1,
    0.5,
    1.0,
)


def go_exp(x: float) -> float:
    """Go's ``math.Exp`` on amd64 with FMA (its assembly, Shibata's method).

    Prometheus' ``^`` reaches it for fractional exponents through ``math.Pow``; the C
    library's ``exp`` differs from it in the last bit for many arguments.
    """
    if math.isnan(x) or x == _INF:
        return x
    if x == -_INF:
        return 0.0
    if x > _EXP_OVERFLOW:
        return _INF
    scaled = _LOG2E * x
    # CVTSD2SL: round half to even; out of int32 range it gives the "indefinite" -2**31
    k = round(scaled) if -(2.0**31) <= scaled < 2.0**31 else -(2**31)
    r = _fma(-float(k), _LN2U, x)
    r = _fma(-float(k), _LN2L, r)
    r *= 0.0625
    p = _EXP_TAYLOR[0]
    for coefficient in _EXP_TAYLOR[1:]:
        p = _fma(p, r, coefficient)
    r *= p
    for _ in range(3):  # (e^y - 1) for y, 2y, 4y, 8y ...
        r *= r + 2.0
    r = _fma(r, r + 2.0, 1.0)
    biased = k + 0x3FF
    if biased <= 0:
        return 0.0
    if biased >= 0x7FF:
        return _INF
    return r * 2.0 ** (biased - 0x3FF)


_HALF_SQRT2 = 7.07106781186547524401e-01
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_L1, _L2, _L3, _L4, _L5, _L6, _L7 = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)


def go_log(x: float) -> float:
    """Go's ``math.Log`` on amd64 (its assembly: FreeBSD's method, frexp done on the bits)."""
    bits: int = struct.unpack("<q", struct.pack("<d", x))[0]
    if bits & 0x7FFF_FFFF_FFFF_FFFF == 0:
        return -_INF
    if bits < 0:
        return _NAN
    if bits >= 0x7FF0_0000_0000_0000:
        return x
    # frexp on the bits: the mantissa with the exponent of 0.5, in [0.5, 1)
    f1: float = struct.unpack("<d", struct.pack("<q", (bits & (1 << 52) - 1) | (0x3FE << 52)))[0]
    k = float(((bits >> 52) & 0x7FF) - 0x3FE)
    if f1 <= _HALF_SQRT2:  # the assembly's "not less than" compare: <= rather than Go's <
        k -= 1.0
        f1 *= 2.0
    f = f1 - 1.0
    s = f / (2.0 + f)
    s2 = s * s
    s4 = s2 * s2
    t1 = s2 * (_L1 + s4 * (_L3 + s4 * (_L5 + s4 * _L7)))
    t2 = s4 * (_L2 + s4 * (_L4 + s4 * _L6))
    r = t1 + t2
    hfsq = 0.5 * f * f
    return k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)


def round_to(value: float, to_nearest: float) -> float:
    """PromQL ``round``: ties go up; the inverse is used as Prometheus does."""
    inverse = go_div(1.0, to_nearest)
    return go_div(go_floor(value * inverse + 0.5), inverse)


def duration_seconds(ms: int) -> float:
    """Go's ``time.Duration.Seconds()`` for a duration of ``ms`` milliseconds."""
    seconds, rest = divmod(ms, 1000)
    if ms < 0 and rest:  # Go's integer division truncates toward zero
        seconds, rest = seconds + 1, rest - 1000
    return float(seconds) + float(rest * 1_000_000) / 1e9


_DECIMAL = re.compile(
    r"[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+(?:_\d+)*)?"
)
_HEX = re.compile(
    r"([+-]?)0[xX]((?:_?[0-9a-fA-F])*)(?:\.((?:[0-9a-fA-F]_?)*))?[pP]([+-]?\d+(?:_\d+)*)"
)


def parse_go_float(text: str) -> float | None:
    """Go's ``strconv.ParseFloat(text, 64)``, or None where Go returns an error.

    Go takes ``Inf``/``Infinity`` (any case, signed) and ``NaN`` (unsigned), hex floats with
    a ``p`` exponent, underscores between digits, and no surrounding spaces; a value out of
    range is an error rather than ±Inf.
    """
    lower = text.lower()
    unsigned = lower[1:] if lower[:1] in ("+", "-") else lower
    if unsigned in ("inf", "infinity"):
        return -_INF if lower.startswith("-") else _INF
    if lower == "nan":
        return _NAN
    hexa = _HEX.fullmatch(text)
    if hexa:
        sign, whole, frac, exp = hexa.groups()
        whole = whole.replace("_", "")
        frac = (frac or "").replace("_", "")
        if not whole and not frac:
            return None
        value = float.fromhex(f"{sign}0x{whole or '0'}.{frac or '0'}p{exp.replace('_', '')}")
    elif _DECIMAL.fullmatch(text):
        value = float(text)
    else:
        return None
    return None if math.isinf(value) else value


# --- Range-vector kernels ------------------------------------------------------------


def _kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    # Neumaier's improvement: swap when the next term is larger than the running sum
    if abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def extrapolated_rate(
    times: Sequence[int],
    values: Sequence[float],
    range_start: int,
    range_end: int,
    range_ms: int,
    *,
    is_counter: bool,
    is_rate: bool,
) -> float | None:
    """``rate``, ``increase`` and ``delta`` as 2.42's ``extrapolatedRate``; None below 2 samples."""
    if len(values) < 2:
        return None
    result = values[-1] - values[0]
    if is_counter:
        prev = values[0]
        for v in values[1:]:
            if v < prev:
                result += prev
            prev = v
    duration_to_start = float(times[0] - range_start) / 1000
    duration_to_end = float(range_end - times[-1]) / 1000
    sampled_interval = float(times[-1] - times[0]) / 1000
    average_between = sampled_interval / float(len(values) - 1)
    if is_counter and result > 0 and values[0] >= 0:
        # a counter cannot go below zero: start no earlier than its zero point
        duration_to_zero = sampled_interval * (values[0] / result)
        if duration_to_zero < duration_to_start:
            duration_to_start = duration_to_zero
    threshold = average_between * 1.1
    extrapolate_to = sampled_interval
    if duration_to_start < threshold:
        extrapolate_to += duration_to_start
    else:
        extrapolate_to += average_between / 2
    if duration_to_end < threshold:
        extrapolate_to += duration_to_end
    else:
        extrapolate_to += average_between / 2
    factor = extrapolate_to / sampled_interval
    if is_rate:
        factor /= duration_seconds(range_ms)
    return result * factor


def instant_rate(times: Sequence[int], values: Sequence[float]) -> float | None:
    """``irate``: the last two samples, a drop counting as a counter reset."""
    if len(values) < 2:
        return None
    last, previous = values[-1], values[-2]
    result = last if last < previous else last - previous
    interval = times[-1] - times[-2]
    if interval == 0:
        return None
    return result / (float(interval) / 1000)


def deriv(times: Sequence[int], values: Sequence[float]) -> float | None:
    """``deriv``: 2.42's least-squares slope (Kahan sums, x relative to the first sample)."""
    if len(values) < 2:
        return None
    intercept_time = times[0]
    n = 0.0
    sum_x = c_x = sum_y = c_y = sum_xy = c_xy = sum_x2 = c_x2 = 0.0
    init_y = values[0]
    const_y = True
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        if const_y and i > 0 and v != init_y:
            const_y = False
        n += 1.0
        x = float(t - intercept_time) / 1e3
        sum_x, c_x = _kahan_inc(x, sum_x, c_x)
        sum_y, c_y = _kahan_inc(v, sum_y, c_y)
        sum_xy, c_xy = _kahan_inc(x * v, sum_xy, c_xy)
        sum_x2, c_x2 = _kahan_inc(x * x, sum_x2, c_x2)
    if const_y:
        return _NAN if math.isinf(init_y) else 0.0
    sum_x += c_x
    sum_y += c_y
    sum_xy += c_xy
    sum_x2 += c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    return go_div(cov_xy, var_x)


def changes(values: Sequence[float]) -> float:
    count = 0
    prev = values[0]
    for v in values[1:]:
        if v != prev and not (math.isnan(v) and math.isnan(prev)):
            count += 1
        prev = v
    return float(count)


def resets(values: Sequence[float]) -> float:
    count = 0
    prev = values[0]
    for v in values[1:]:
        if v < prev:
            count += 1
        prev = v
    return float(count)


def avg_over_time(values: Sequence[float]) -> float:
    """2.42's incremental mean with a Kahan-compensated running sum."""
    mean = count = c = 0.0
    for v in values:
        count += 1
        if math.isinf(mean):
            if math.isinf(v) and (mean > 0) == (v > 0):
                continue  # Inf of the same sign: the mean is right already
            if not (math.isinf(v) or math.isnan(v)):
                continue  # Inf - Inf would turn the mean into NaN
        mean, c = _kahan_inc(v / count - mean / count, mean, c)
    return mean if math.isinf(mean) else mean + c


def sum_over_time(values: Sequence[float]) -> float:
    total = c = 0.0
    for v in values:
        total, c = _kahan_inc(v, total, c)
    return total if math.isinf(total) else total + c


def min_over_time(values: Sequence[float]) -> float:
    result = values[0]
    for v in values:
        if v < result or math.isnan(result):
            result = v
    return result


def max_over_time(values: Sequence[float]) -> float:
    result = values[0]
    for v in values:
        if v > result or math.isnan(result):
            result = v
    return result


def stddev_over_time(values: Sequence[float]) -> float:
    count = mean = c_mean = aux = c_aux = 0.0
    for v in values:
        count += 1
        delta = v - (mean + c_mean)
        mean, c_mean = _kahan_inc(delta / count, mean, c_mean)
        aux, c_aux = _kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux)
    return math.sqrt((aux + c_aux) / count)


# --- Quantiles -----------------------------------------------------------------------


def _nan_first(v: float) -> tuple[bool, float]:
    # Prometheus' vectorByValueHeap orders NaN below every number
    return (not math.isnan(v), v)


def quantile(q: float, values: Sequence[float]) -> float:
    """The ``quantile`` aggregation and ``quantile_over_time``: rank q*(n-1), interpolated."""
    if not values or math.isnan(q):
        return _NAN
    if q < 0:
        return -_INF
    if q > 1:
        return _INF
    ordered = sorted(values, key=_nan_first)
    n = float(len(ordered))
    rank = q * (n - 1)
    lower = max(0.0, float(math.floor(rank)))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


def _outside(q: float) -> float:
    """A quantile's result for q outside [0, 1]: NaN for NaN, else -Inf below and +Inf above."""
    if math.isnan(q):
        return _NAN
    return -_INF if q < 0 else _INF


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """``histogram_quantile`` over classic buckets: (upper bound, cumulative count) pairs."""
    if not 0 <= q <= 1:
        return _outside(q)
    ordered = sorted(buckets, key=lambda b: b[0])
    if ordered[-1][0] != _INF:
        return _NAN
    merged = _monotonic(_coalesce(ordered))
    if len(merged) < 2 or merged[-1][1] == 0:  # no finite bucket, or no observations
        return _NAN
    rank = q * merged[-1][1]
    b = _search([count >= rank for _, count in merged[:-1]])
    if b == len(merged) - 1:
        return merged[-2][0]  # in the +Inf bucket: the highest finite bound
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    bucket_start = 0.0
    bucket_end, count = merged[b]
    if b > 0:
        bucket_start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return bucket_start + (bucket_end - bucket_start) * go_div(rank, count)


def _coalesce(ordered: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Buckets with the same upper bound merged (their counts added)."""
    merged = [ordered[0]]
    for bound, count in ordered[1:]:
        if bound == merged[-1][0]:
            merged[-1] = (bound, merged[-1][1] + count)
        else:
            merged.append((bound, count))
    return merged


def _monotonic(buckets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Counts raised to the highest count below them (2.42's ensureMonotonic).

    The running maximum starts at the first bucket's count, so a NaN there turns the
    correction off for the whole histogram, as in Prometheus.
    """
    highest = buckets[0][1]
    out = [buckets[0]]
    for bound, count in buckets[1:]:
        if count > highest:
            highest = count
        elif count < highest:
            count = highest  # noqa: PLW2901 - the envelope replaces the count
        out.append((bound, count))
    return out


def _search(predicate: Sequence[bool]) -> int:
    """Go's ``sort.Search``: a binary search, even where the predicate is not monotonic."""
    i, j = 0, len(predicate)
    while i < j:
        h = (i + j) >> 1
        if not predicate[h]:
            i = h + 1
        else:
            j = h
    return i
