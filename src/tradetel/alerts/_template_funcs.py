"""The functions an alert template may call: the table of Go's builtins and Prometheus' own.

Prometheus' functions behave as in 2.42's ``template/template.go``: the humanize functions take a
number or a numeric string (``convertToFloat``) and print with ``%.4g``, and regular expressions
follow RE2 (``$`` is the end of the text, ``\\d`` and ``\\w`` are ASCII) through the translation
the PromQL evaluator uses.  Functions that need PromQL (``query`` and those working on its
results) are refused by name, so that a rule file using them fails when it is loaded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ._duration import parse_duration
from ._promql_regex import GoRegex, RegexInvalid, RegexUnsupported, compile_go
from ._template_builtins import (
    FuncError,
    eq,
    html,
    index,
    is_true,
    le,
    length,
    lt,
    query_escape,
    slice_,
    urlquery,
)
from ._template_fmt import sprint, sprintf, sprintln
from ._template_values import AlertData, GoTime, Html, format_g, go_quote, type_name

__all__ = [
    "ANY",
    "FUNCS",
    "STR",
    "UNSUPPORTED",
    "Func",
    "parse_float",
]

#: The kinds of parameter: a string, or any value (Go's interface{} and reflect.Value).
STR = "string"
ANY = "any"


@dataclass(frozen=True)
class Func:
    """A function: its implementation (given the arguments and the data), the kinds of its
    fixed parameters and, if it takes any number more, their kind."""

    impl: Callable[[Sequence[object], AlertData], object]
    params: tuple[str, ...] = ()
    variadic: str | None = None


# --- Prometheus' functions ----------------------------------------------------------------------

_DIGITS = r"[0-9](?:_?[0-9])*"
_HEX = r"[0-9a-fA-F]"
_DECIMAL = re.compile(
    rf"[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?"
)
_HEX_FLOAT = re.compile(
    rf"[+-]?0[xX](?:_?{_HEX})*(?:\.(?:{_HEX}(?:_?{_HEX})*)?)?[pP][+-]?{_DIGITS}"
)
_INFINITY = re.compile(r"[+-]?(?:inf|infinity)", re.IGNORECASE)


def _has_digits(hex_float: str) -> bool:
    body = hex_float.lstrip("+-")[2:]
    return any(c not in "._" for c in body[: body.lower().index("p")])


def parse_float(text: str) -> float:
    """Go's ``strconv.ParseFloat(text, 64)``: Go literal syntax, no spaces, overflow an error."""
    if text.lower() == "nan":
        return math.nan
    if _INFINITY.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    value: float | None = None
    if _DECIMAL.fullmatch(text):
        value = float(text)
    elif _HEX_FLOAT.fullmatch(text) and _has_digits(text):
        try:
            value = float.fromhex(text.replace("_", ""))
        except OverflowError:
            value = math.inf
    if value is None:
        raise FuncError(f"strconv.ParseFloat: parsing {go_quote(text)}: invalid syntax")
    if math.isinf(value):
        raise FuncError(f"strconv.ParseFloat: parsing {go_quote(text)}: value out of range")
    return value


def _to_float(value: object) -> float:
    """Prometheus' ``convertToFloat``."""
    if type(value) is float:
        return value
    if type(value) is str:
        return parse_float(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise FuncError(f"can't convert {type_name(value)} to float")


def _scale(value: float, prefixes: str, step: float) -> str:
    """``%.4g`` and an SI (or IEC) prefix: divide while >= step, or multiply while < 1."""
    prefix = ""
    if math.fabs(value) >= 1:
        for candidate in prefixes.split():
            if math.fabs(value) < step:
                break
            prefix, value = candidate, value / step
    else:
        for candidate in ["m", "u", "n", "p", "f", "a", "z", "y"]:
            if math.fabs(value) >= 1:
                break
            prefix, value = candidate, value * 1000
    return format_g(value, 4) + prefix


def _humanize(args: Sequence[object], _: AlertData) -> str:
    value = _to_float(args[0])
    if value == 0 or math.isnan(value) or math.isinf(value):
        return format_g(value, 4)
    return _scale(value, "k M G T P E Z Y", 1000)


def _humanize1024(args: Sequence[object], _: AlertData) -> str:
    value = _to_float(args[0])
    if math.fabs(value) <= 1 or math.isnan(value) or math.isinf(value):
        return format_g(value, 4)
    return _scale(value, "ki Mi Gi Ti Pi Ei Zi Yi", 1024)


def _int64(value: float) -> int:
    """Go's ``int64(value)`` on amd64: out of range gives the minimum int64."""
    return int(value) if -(2.0**63) <= value < 2.0**63 else -(2**63)


def _quo(a: int, b: int) -> int:
    """Go's integer division, which truncates toward zero."""
    return abs(a) // b * (1 if a >= 0 else -1)


def _rem(a: int, b: int) -> int:
    return a - b * _quo(a, b)


def _humanize_duration(args: Sequence[object], _: AlertData) -> str:  # noqa: PLR0911 - as Prometheus
    value = _to_float(args[0])
    if math.isnan(value) or math.isinf(value):
        return format_g(value, 4)
    if value == 0:
        return format_g(value, 4) + "s"
    if math.fabs(value) >= 1:
        sign = "-" if value < 0 else ""
        value = math.fabs(value)
        whole = _int64(value)
        seconds, minutes = _rem(whole, 60), _rem(_quo(whole, 60), 60)
        hours, days = _rem(_quo(whole, 3600), 24), _quo(whole, 86400)
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{format_g(value, 4)}s"
    return _scale(value, "", 1000) + "s"


def _humanize_percentage(args: Sequence[object], _: AlertData) -> str:
    return format_g(_to_float(args[0]) * 100, 4) + "%"


def _to_time(value: float) -> GoTime:
    if math.isnan(value) or math.isinf(value):
        raise FuncError("value is NaN or Inf")
    nanos = value * 1e9
    if nanos > 2.0**63 or nanos < -(2.0**63):
        raise FuncError(
            f"{sprint([value])} cannot be represented as a nanoseconds timestamp "
            "since it overflows int64"
        )
    return GoTime(_quo(_int64(nanos), 1_000_000))  # model.TimeFromUnixNano truncates


def _humanize_timestamp(args: Sequence[object], _: AlertData) -> str:
    value = _to_float(args[0])
    if math.isnan(value) or math.isinf(value):
        return format_g(value, 4)
    return str(_to_time(value))


def _parse_duration(args: Sequence[object], _: AlertData) -> float:
    """Prometheus' ``model.ParseDuration``, in seconds."""
    text = str(args[0])
    if text == "":
        raise FuncError("empty duration string")
    try:
        if text != text.strip():  # Go does not trim
            raise ValueError(text)
        ms = parse_duration(text)
    except ValueError:
        raise FuncError(f"not a valid duration string: {go_quote(text)}") from None
    if ms * 1_000_000 > 2**63 - 1:  # a Go time.Duration is int64 nanoseconds
        raise FuncError("duration out of range")
    return ms / 1000


def _strip_port(args: Sequence[object], _: AlertData) -> str:
    """The host of ``host:port`` (Go's ``net.SplitHostPort``), or the text if it is not one."""
    text = str(args[0])
    colon = text.rfind(":")
    if colon < 0:
        return text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or end + 1 != colon:
            return text
        host, after_open, after_close = text[1:end], 1, end + 1
    else:
        host, after_open, after_close = text[:colon], 0, 0
        if ":" in host:
            return text
    if "[" in text[after_open:] or "]" in text[after_close:]:
        return text
    return host


def _compile(pattern: str) -> GoRegex:
    try:
        return compile_go(pattern)
    except RegexInvalid as exc:
        raise FuncError(f"error parsing regexp: {exc}") from None
    except RegexUnsupported as exc:
        raise FuncError(f"tradetel cannot run this regexp: {exc}") from None


def _re_replace_all(args: Sequence[object], _: AlertData) -> str:
    """Go's ``ReplaceAllString``: an empty match right after a match is not replaced."""
    regex, replacement, text = _compile(str(args[0])), str(args[1]), str(args[2])
    out, last_end, search = [], 0, 0
    while search <= len(text) and (match := regex.pattern.search(text, search)) is not None:
        start, end = match.span()
        out.append(text[last_end:start])
        if end > last_end or start == 0:
            out.append(regex.expand(replacement, match))
        last_end = end
        search = search + 1 if search + 1 > end else end
    out.append(text[last_end:])
    return "".join(out)


def _match(args: Sequence[object], _: AlertData) -> bool:
    return _compile(str(args[0])).pattern.search(str(args[1])) is not None


def _rune_case(char: str, convert: Callable[[str], str]) -> str:
    mapped = convert(char)
    if len(mapped) == 1:
        return mapped
    # Go maps rune to rune (Unicode's simple mappings); Python's full mapping may be longer
    if convert is str.lower:
        return "i" if char == "\u0130" else char
    titled = char.title() if convert is str.upper else char
    return titled if len(titled) == 1 else char


def _case(text: str, convert: Callable[[str], str]) -> str:
    if text.isascii():
        return convert(text)
    return "".join(_rune_case(char, convert) for char in text)


def _title(args: Sequence[object], _: AlertData) -> str:
    """Go's ``strings.Title``: upper-case the first letter of each word."""
    out, previous = [], " "
    for char in str(args[0]):
        if previous.isascii():
            separator = not (previous.isalnum() or previous == "_")
        else:
            separator = previous.isspace()
        out.append(_rune_case(char, str.title) if separator else char)
        previous = char
    return "".join(out)


def _fn(impl: Callable[[str], object]) -> Callable[[Sequence[object], AlertData], object]:
    return lambda args, _: impl(str(args[0]))


_S = (STR,)
FUNCS: dict[str, Func] = {
    # Go's builtins (and/or are evaluated lazily by the executor)
    "and": Func(lambda args, _: args[-1], (ANY,), ANY),
    "or": Func(lambda args, _: args[-1], (ANY,), ANY),
    "not": Func(lambda args, _: not is_true(args[0]), (ANY,)),
    "len": Func(length, (ANY,)),
    "index": Func(index, (ANY,), ANY),
    "slice": Func(slice_, (ANY,), ANY),
    "eq": Func(eq, (ANY,), ANY),
    "ne": Func(lambda args, data: not eq(args, data), (ANY, ANY)),
    "lt": Func(lt, (ANY, ANY)),
    "le": Func(le, (ANY, ANY)),
    "gt": Func(lambda args, data: not le(args, data), (ANY, ANY)),
    "ge": Func(lambda args, data: not lt(args, data), (ANY, ANY)),
    "print": Func(lambda args, _: sprint(args), (), ANY),
    "println": Func(lambda args, _: sprintln(args), (), ANY),
    "printf": Func(lambda args, _: sprintf(str(args[0]), args[1:]), _S, ANY),
    "html": Func(html, (), ANY),
    "urlquery": Func(urlquery, (), ANY),
    # Prometheus'
    "humanize": Func(_humanize, (ANY,)),
    "humanize1024": Func(_humanize1024, (ANY,)),
    "humanizeDuration": Func(_humanize_duration, (ANY,)),
    "humanizePercentage": Func(_humanize_percentage, (ANY,)),
    "humanizeTimestamp": Func(_humanize_timestamp, (ANY,)),
    "toTime": Func(lambda args, _: _to_time(_to_float(args[0])), (ANY,)),
    "parseDuration": Func(_parse_duration, _S),
    "toUpper": Func(_fn(lambda text: _case(text, str.upper)), _S),
    "toLower": Func(_fn(lambda text: _case(text, str.lower)), _S),
    "title": Func(_title, _S),
    "match": Func(_match, (STR, STR)),
    "reReplaceAll": Func(_re_replace_all, (STR, STR, STR)),
    "stripPort": Func(_strip_port, _S),
    "safeHtml": Func(_fn(Html), _S),
    "graphLink": Func(_fn(lambda expr: f"/graph?g0.expr={query_escape(expr)}&g0.tab=0"), _S),
    "tableLink": Func(_fn(lambda expr: f"/graph?g0.expr={query_escape(expr)}&g0.tab=1"), _S),
    "externalURL": Func(lambda _, data: data.ExternalURL),
    "pathPrefix": Func(lambda _, data: urlsplit(data.ExternalURL).path),
}

_ON_QUERIES = "it works on the results of query, which tradetel's alert templates cannot run"
#: Functions of Prometheus (or Go) that tradetel rejects when the rules are loaded, and why.
UNSUPPORTED: dict[str, str] = {
    "query": "tradetel's alert templates cannot run PromQL queries",
    **{name: _ON_QUERIES for name in ("first", "label", "value", "strvalue", "sortByLabel")},
    "args": "it builds arguments for {{template}}, which tradetel does not support",
    "js": "not implemented by tradetel",
    "call": "not implemented by tradetel",
}
