"""Prometheus names for OTLP metrics and attributes, as Prometheus' OTLP receiver gives them.

The rules follow ``github.com/prometheus/otlptranslator`` (``metric_namer.go``: ``normalizeName``,
``addUnitTokens``; ``unit_namer.go``: ``buildUnitSuffixes``, ``cleanUpUnit``; ``label_namer.go``:
``LabelNamer.Build``; ``strconv.go``: ``sanitizeLabelName``) under Prometheus' default settings:
``translation_strategy: UnderscoreEscapingWithSuffixes``,
``label_name_underscore_sanitization: true`` and ``label_name_preserve_multiple_underscores: true``.
Attribute values become label values as pdata's ``Value.AsString`` renders them.
"""

from __future__ import annotations

import base64
import json
import math
import re
from decimal import Decimal
from typing import Literal

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

__all__ = ["Kind", "attribute_value", "format_float", "label_name", "metric_name"]

#: The metric type as the name builder sees it: a monotonic Sum is a counter, a
#: non-monotonic one an up-down counter (no ``_total``, and no ``_ratio`` either).
Kind = Literal["gauge", "counter", "updown", "histogram", "summary"]

# UCUM unit -> Prometheus unit word (otlptranslator's unitMap; unknown units pass through).
_UNITS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
    "us": "microseconds", "ns": "nanoseconds",
    "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
    "TiBy": "tibibytes", "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
    "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
}  # fmt: skip
# The unit after "/" (perUnitMap), singular: "By/s" -> "bytes_per_second".
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month",
              "y": "year"}  # fmt: skip

# In metric names "_" is a separator like any invalid character, so runs of them collapse.
_METRIC_SEPARATORS = re.compile(r"[^a-zA-Z0-9:]+")
# Label names keep runs of underscores (label_name_preserve_multiple_underscores: true).
_INVALID_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str, unit: str, kind: Kind) -> str:
    """The Prometheus metric family name of an OTel metric.

    Raises:
        ValueError: nothing valid is left of the name (e.g. ``"..."`` with no unit).
    """
    tokens = [token for token in _METRIC_SEPARATORS.split(name) if token]
    main, per = _unit_suffixes(unit)
    main, per = _clean_unit(main), _clean_unit(per)
    # A suffix already among the name's words is not added again ("x.seconds" in s).
    if main in tokens:
        main = ""
    if per == "per_":
        per = ""
    else:
        per = per.removesuffix("_")
        if per in tokens:
            per = ""
    if per:
        main = main.removesuffix("_")
    tokens += [suffix for suffix in (main, per) if suffix]
    # The type suffix goes last and only once: the unit comes before "_total".
    if kind == "counter":
        tokens = [token for token in tokens if token != "total"] + ["total"]
    if unit == "1" and kind == "gauge":
        tokens = [token for token in tokens if token != "ratio"] + ["ratio"]
    result = "_".join(tokens)
    if result and "0" <= result[0] <= "9":
        result = "_" + result
    if not result:
        raise ValueError(f"metric name {name!r} leaves nothing valid for Prometheus")
    if result != name and not result.strip("_"):
        raise ValueError(f"metric name {name!r} leaves only underscores ({result!r})")
    return result


def _unit_suffixes(unit: str) -> tuple[str, str]:
    """The main and "per" unit words, e.g. ``"By/s"`` -> ``("bytes", "per_second")``.

    Annotations in braces (``{event}``) give nothing; unknown units pass through unchanged.
    """
    main_unit, slash, per_unit = unit.partition("/")
    main_unit = main_unit.strip()
    main = ""
    if main_unit and not _has_braces(main_unit):
        main = _UNITS.get(main_unit, main_unit)
    per = ""
    per_unit = per_unit.strip() if slash else ""
    if per_unit and not _has_braces(per_unit):
        per = "per_" + _PER_UNITS.get(per_unit, per_unit)
    return main, per


def _has_braces(unit: str) -> bool:
    return "{" in unit or "}" in unit


def _clean_unit(word: str) -> str:
    return _METRIC_SEPARATORS.sub("_", word).removeprefix("_")


def label_name(key: str) -> str:
    """The Prometheus label name of an attribute key (``trading.venue`` -> ``trading_venue``).

    A leading digit gets ``key_`` and a single leading underscore ``key``; a ``__`` prefix
    (reserved) is kept.

    Raises:
        ValueError: the key is empty or leaves only underscores.
    """
    if not key:
        raise ValueError("attribute key is empty")
    result = _INVALID_LABEL_CHAR.sub("_", key)
    if "0" <= result[0] <= "9":
        result = "key_" + result
    elif result.startswith("_") and not result.startswith("__"):
        result = "key" + result
    if not result.strip("_"):
        raise ValueError(f"attribute key {key!r} leaves only underscores ({result!r})")
    return result


def format_float(value: float) -> str:
    """``strconv.FormatFloat(value, 'f', -1, 64)``: the shortest exact digits, never an exponent.

    This is how Prometheus writes ``le`` and ``quantile`` values: 5e-05 -> ``0.00005``,
    1.0 -> ``1``, infinity -> ``+Inf``.
    """
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    # repr() gives the shortest digits that read back as the same float, as Go does; only
    # its exponent form (below 1e-4 and from 1e16) needs rewriting.
    text = repr(value)
    if "e" in text:
        text = format(Decimal(text), "f")
        if "." in text:
            text = text.rstrip("0").removesuffix(".")
        return text
    return text.removesuffix(".0")


def _format_json_number(value: float) -> str:
    """A float as Go's encoding/json (and pdata's ``float64AsString``) write it."""
    magnitude = abs(value)
    if magnitude == 0 or 1e-6 <= magnitude < 1e21:
        return format_float(value)
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)  # finite here
    power = exponent + len(digits) - 1
    mantissa = str(digits[0])
    if len(digits) > 1:
        mantissa += "." + "".join(map(str, digits[1:]))
    # Go writes e+21 and e-7 (two digits at least for positive powers, none padded for negative).
    suffix = f"e+{power:02d}" if power >= 0 else f"e-{-power}"
    return ("-" if sign else "") + mantissa + suffix


def attribute_value(value: AnyValue) -> str:
    """An attribute value as a label value: the string itself, or pdata's rendering of the rest."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return str(value.string_value)
    if which == "double_value":
        number = float(value.double_value)
        if math.isfinite(number):
            return _format_json_number(number)
        return "json: unsupported value: " + format_float(number)
    if which in ("array_value", "kvlist_value"):
        try:
            return _to_json(_raw(value))
        except ValueError:  # Go's json.Marshal refuses NaN and infinities; AsString gives ""
            return ""
    raw = _raw(value)
    return "" if raw is None else _scalar_text(raw)


def _scalar_text(raw: object) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, bytes):
        return base64.b64encode(raw).decode("ascii")
    return str(raw)


def _raw(value: AnyValue) -> object:
    """An AnyValue as plain Python data (pdata's ``AsRaw``)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_raw(item) for item in value.array_value.values]
    if which == "kvlist_value":
        # A repeated key keeps its last value, as building Go's map does.
        return {kv.key: _raw(kv.value) for kv in value.kvlist_value.values}
    raw: object = getattr(value, which)
    return raw


def _to_json(raw: object) -> str:
    """Go's ``json.Marshal`` of ``AsRaw()``: compact, keys sorted, HTML characters escaped."""
    if raw is None:
        return "null"
    if isinstance(raw, dict):
        items = sorted(raw.items(), key=lambda item: str(item[0]))
        return "{" + ",".join(f"{_json_string(str(k))}:{_to_json(v)}" for k, v in items) + "}"
    if isinstance(raw, list):
        return "[" + ",".join(_to_json(item) for item in raw) + "]"
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueError("unsupported value")
        return _format_json_number(raw)
    if isinstance(raw, str | bytes):
        return _json_string(_scalar_text(raw))
    return _scalar_text(raw)  # bool, int


_GO_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).translate(_GO_HTML_ESCAPES)
