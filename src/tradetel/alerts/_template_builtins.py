"""Go's text/template builtins, as Go 1.19 runs them: truth, comparisons, index, len, escaping.

Comparisons follow Go's types: an int constant (``5``) and a float64 (``$value``) do not compare
(``incompatible types for comparison``); ``5.0`` is a float64 constant and does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote_plus

from ._template_fmt import sprint
from ._template_values import AlertData, Html, to_bytes, type_name

__all__ = [
    "FuncError",
    "eq",
    "html",
    "index",
    "is_true",
    "le",
    "length",
    "lt",
    "query_escape",
    "slice_",
    "urlquery",
]


class FuncError(Exception):
    """A function returned an error (Go's second result); the template stops there."""


def is_true(value: object) -> bool:
    """Go's truth of a value for if/with/and/or/not: empty and zero values (and nil) are false."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float)):
        return value != 0  # NaN is true
    if isinstance(value, (str, Mapping)):
        return len(value) > 0
    return True  # the data struct and *time.Time


# --- comparisons (Go's eq, lt and friends) ------------------------------------------------------


def _kind(value: object) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return None


def eq(args: Sequence[object], _: AlertData) -> bool:
    first, others = args[0], args[1:]
    if isinstance(first, (Mapping, AlertData)):  # not comparable in Go
        raise FuncError("invalid type for comparison")
    if not others:
        raise FuncError("missing argument for comparison")
    kind = _kind(first)
    for other in others:
        if _kind(other) != kind:
            if first is not None and other is not None:
                raise FuncError("incompatible types for comparison")
        elif kind is None:
            if first is other:
                return True
        elif first == other:
            return True
    return False


def lt(args: Sequence[object], _: AlertData) -> bool:
    kinds = [_kind(arg) for arg in args]
    if None in kinds:
        raise FuncError("invalid type for comparison")
    if kinds[0] != kinds[1]:
        raise FuncError("incompatible types for comparison")
    if kinds[0] == "bool":
        raise FuncError("invalid type for comparison")
    return bool(args[0] < args[1])  # type: ignore[operator]  # both int, both float or both str


def le(args: Sequence[object], data: AlertData) -> bool:
    return lt(args, data) or eq(args, data)


# --- other builtins -----------------------------------------------------------------------------


def _index_arg(index: object, length: int) -> int:
    if index is None:
        raise FuncError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise FuncError(f"cannot index slice/array with type {type_name(index)}")
    if not 0 <= index <= length:
        raise FuncError(f"index out of range: {index}")
    return index


def index(args: Sequence[object], _: AlertData) -> object:
    item = args[0]
    if item is None:
        raise FuncError("index of untyped nil")
    for key in args[1:]:
        if isinstance(item, Mapping):
            if type(key) is not str:
                raise FuncError(f"value has type {type_name(key)}; should be string")
            item = item.get(key, "")  # a missing key gives the zero value
        elif isinstance(item, str):
            data = to_bytes(item)
            position = _index_arg(key, len(data))
            if position == len(data):
                raise FuncError(f"index out of range: {position}")
            item = data[position]
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
    return item


def slice_(args: Sequence[object], _: AlertData) -> object:
    item, indexes = args[0], args[1:]
    if item is None:
        raise FuncError("slice of untyped nil")
    if not isinstance(item, str):
        raise FuncError(f"can't slice item of type {type_name(item)}")
    if len(indexes) > 2:
        raise FuncError("cannot 3-index slice a string")
    data = to_bytes(item)
    bounds = [0, len(data)]
    for n, index in enumerate(indexes):
        bounds[n] = _index_arg(index, len(data))
    if bounds[0] > bounds[1]:
        raise FuncError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    text = data[bounds[0] : bounds[1]].decode(errors="surrogateescape")
    return Html(text) if isinstance(item, Html) else text


def length(args: Sequence[object], _: AlertData) -> int:
    item = args[0]
    if isinstance(item, str):
        return len(to_bytes(item))
    if isinstance(item, Mapping):
        return len(item)
    raise FuncError(f"len of type {type_name(item)}")


def _eval_args(args: Sequence[object]) -> str:
    """Go's ``evalArgs`` for html and urlquery: a nil prints as ``<no value>``."""
    if len(args) == 1 and type(args[0]) is str:
        return args[0]
    return sprint(["<no value>" if arg is None else arg for arg in args])


def html(args: Sequence[object], _: AlertData) -> str:
    text = _eval_args(args)
    for char, entity in (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, entity)
    return text.replace('"', "&#34;").replace("\x00", "\ufffd")


def query_escape(text: str) -> str:
    return quote_plus(text, safe="", errors="surrogateescape")


def urlquery(args: Sequence[object], _: AlertData) -> str:
    return query_escape(_eval_args(args))
