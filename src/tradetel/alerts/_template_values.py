"""The values of alert templates and how Go prints the simple ones.

A template sees Go values: float64 (``$value``), string, int and bool constants, the label maps
(``map[string]string``), the data struct, ``template.HTML`` (``safeHtml``) and ``*time.Time``
(``toTime``).  Here they are Python values with Go's names and Go's text.  A float64 prints as
``strconv.FormatFloat(v, 'g', -1, 64)`` does: the shortest digits that round-trip, in exponent
form when the exponent is < -4 or >= 6 (``if shortest { eprec = 6 }`` in Go's
``strconv/ftoa.go``), so 1e6 prints ``1e+06``.  Python's ``repr`` gives the same shortest
digits, and its ``%e``/``%f``/``%g`` with a precision round exactly as Go does.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import ClassVar

__all__ = [
    "AlertData",
    "GoTime",
    "Html",
    "can_backquote",
    "format_float",
    "format_g",
    "go_quote",
    "to_bytes",
    "type_name",
    "valid_utf8",
]


class Html(str):
    """``html/template.HTML`` (what ``safeHtml`` returns): prints as its text, but is not a string
    to functions that take one."""

    __slots__ = ()


@dataclass(frozen=True)
class GoTime:
    """A ``*time.Time`` in UTC (what ``toTime`` returns), at Prometheus' millisecond precision."""

    millis: int

    def __str__(self) -> str:
        # Go's Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST", fraction trimmed
        seconds, millis = divmod(self.millis, 1000)
        moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
        fraction = f".{millis:03d}".rstrip("0") if millis else ""
        return f"{moment:%Y-%m-%d %H:%M:%S}{fraction} +0000 UTC"


@dataclass(frozen=True)
class AlertData:
    """The template's data (``.``): Prometheus' ``AlertTemplateData`` struct."""

    Labels: Mapping[str, str]
    ExternalLabels: Mapping[str, str]
    ExternalURL: str
    Value: float

    FIELDS: ClassVar[tuple[str, ...]] = ("Labels", "ExternalLabels", "ExternalURL", "Value")
    TYPE: ClassVar[str] = (
        "struct { Labels map[string]string; ExternalLabels map[string]string; "
        "ExternalURL string; Value float64 }"
    )


_GO_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "bool"),  # before int, which it is in Python
    (int, "int"),
    (float, "float64"),
    (Html, "template.HTML"),  # before str
    (str, "string"),
    (GoTime, "*time.Time"),
    (AlertData, AlertData.TYPE),
    (Mapping, "map[string]string"),
)


def type_name(value: object) -> str:
    """The Go type of a template value, as ``%T`` and error messages name it."""
    if value is None:
        return "<nil>"
    for python_type, go_name in _GO_TYPES:
        if isinstance(value, python_type):
            return go_name
    return type(value).__name__


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPES["\v"] = "\\v"


def go_quote(text: str, quote: str = '"', *, ascii_only: bool = False) -> str:
    """Go's ``strconv.Quote`` (``QuoteToASCII`` with ``ascii_only``; ``QuoteRune`` with ``'``)."""
    out = [quote]
    for char in text:
        code = ord(char)
        if char in (quote, "\\"):
            out.append("\\" + char)
        elif char.isprintable() and not (ascii_only and code >= 0x80):
            out.append(char)
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code < 0xDD00:  # a byte that is not UTF-8 (see to_bytes)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code < 0xE000:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


def to_bytes(text: str) -> bytes:
    """The bytes of a Go string.  Go strings are bytes: a ``\\xff`` in a template literal is one
    byte, kept in a str as Python's surrogate escape until the output is made valid UTF-8."""
    return text.encode("utf-8", "surrogateescape")


def valid_utf8(text: str) -> str:
    """The output as JSON would carry Go's: bytes that are not UTF-8 become U+FFFD."""
    try:
        text.encode()
    except UnicodeEncodeError:
        try:
            return to_bytes(text).decode(errors="replace")
        except UnicodeEncodeError:
            return text.encode(errors="replace").decode()
    return text


def can_backquote(text: str) -> bool:
    return not any(
        (c < " " and c != "\t") or c in "`\x7f\ufeff" or 0xD800 <= ord(c) < 0xE000 for c in text
    )


def _shortest(value: float) -> tuple[str, int]:
    """The shortest round-trip digits of ``abs(value)`` (finite, non-zero) and the decimal point
    position: ``0.<digits> * 10**point``."""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    if fraction == "0":
        fraction = ""
    digits = (whole + fraction).lstrip("0")
    point = len(whole) - (len(whole + fraction) - len(digits)) + int(exponent or 0)
    return digits.rstrip("0"), point


def _exp_form(digits: str, point: int, upper: bool) -> str:
    exp = point - 1
    body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{body}{'E' if upper else 'e'}{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _shortest_g(value: float, upper: bool = False) -> str:
    """Go's ``strconv.FormatFloat(abs(value), 'g', -1, 64)`` for a finite, non-zero value."""
    digits, point = _shortest(value)
    if point - 1 < -4 or point - 1 >= 6:  # eprec = 6 for the shortest form
        return _exp_form(digits, point, upper)
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _hex_float(value: float, prec: int, upper: bool) -> str:
    """Go's ``%x`` of ``abs(value)``: ``0x1.8p+00``, the leading digit normalised to 1."""
    if value == 0:
        mant, exp = 0, 0
    else:
        fraction, exp2 = math.frexp(abs(value))
        mant, exp = int(fraction * (1 << 53)) << 8, exp2 - 1  # leading 1 at bit 60
    if 0 <= prec < 15:
        shift = prec * 4
        extra = (mant << shift) & ((1 << 60) - 1)
        mant >>= 60 - shift
        if extra | (mant & 1) > 1 << 59:
            mant += 1
        mant <<= 60 - shift
        if mant & (1 << 61):
            mant >>= 1
            exp += 1
    digits = "0123456789ABCDEF" if upper else "0123456789abcdef"
    lead, rest = (mant >> 60) & 1, (mant << 4) & ((1 << 64) - 1)
    tail = ""
    count = prec if prec >= 0 else 16
    while count > 0 and (prec >= 0 or rest):
        tail += digits[(rest >> 60) & 15]
        rest = (rest << 4) & ((1 << 64) - 1)
        count -= 1
    p = "P" if upper else "p"
    sign = "-" if exp < 0 else "+"
    return f"0{'X' if upper else 'x'}{lead}{'.' + tail if tail else ''}{p}{sign}{abs(exp):02d}"


def format_float(value: float, verb: str, prec: int) -> str:  # noqa: PLR0911 - strconv's switch
    """Go's ``strconv.FormatFloat(value, verb, prec, 64)``; ``prec`` -1 is the shortest form."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if verb in "xX":
        return sign + _hex_float(value, prec, verb == "X")
    if verb == "b":
        bits = struct.unpack("<Q", struct.pack("<d", value))[0]
        mant, exp = bits & ((1 << 52) - 1), (bits >> 52) & 0x7FF
        if exp:
            mant |= 1 << 52
        return f"{sign}{mant}p{'-' if exp - 1075 < 0 else '+'}{abs(max(exp, 1) - 1075)}"
    if prec >= 0:
        return sign + f"{abs(value):.{prec}{verb}}"
    if value == 0:
        return sign + ("0e+00" if verb in "eE" else "0")
    if verb in "gG":
        return sign + _shortest_g(value, verb == "G")
    digits, point = _shortest(value)
    if verb in "eE":
        return sign + _exp_form(digits, point, verb == "E")
    return sign + f"{abs(value):.{max(len(digits) - point, 0)}f}"


def format_g(value: float, prec: int) -> str:
    """``fmt.Sprintf("%.<prec>g", value)``: what Prometheus' humanize functions print."""
    return format_float(value, "g", prec)
