"""The grammar of instrumentation declarations: ``module:pattern=kind(arguments)``.

    mybot.strategy:Momentum.on_tick=strategy, mybot.exec:place_order=order(venue=binance)

Parsing imports nothing and fails with a ``ConfigError`` that names the source, the entry
(1-based) and its text, and what is wrong with it.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

from .._errors import ConfigError

__all__ = ["KINDS", "Declaration", "parse_declarations", "parse_entries"]

Kind = Literal["strategy", "order", "instrument"]
KINDS: tuple[Kind, ...] = ("instrument", "order", "strategy")

#: What a positional value means for each kind.
_POSITIONAL: dict[str, str] = {"strategy": "name", "order": "venue", "instrument": "name"}
#: The options of each kind; strategy and order take any other key as a static attribute.
_OPTIONS: dict[str, tuple[str, ...]] = {
    "strategy": ("name",),
    "order": ("venue", "operation"),
    "instrument": ("name", "record_args", "sample_rate"),
}
_TAKES_ATTRIBUTES = frozenset({"strategy", "order"})

_SPEC = re.compile(r"(\w+)\s*(?:\((.*)\))?", re.DOTALL)
_GLOB = re.compile(r"[\w*?\[\]!-]+")
_KEY = re.compile(r"[A-Za-z_][\w.]*")
# `|` separates record_args; the rest are the documented bare-word characters.
_BARE = re.compile(r"[\w.\-/|]+")


@dataclass(frozen=True)
class Declaration:
    """One entry: wrap what ``pattern`` matches in ``module`` with the ``kind`` decorator."""

    module: str
    pattern: tuple[str, ...]
    kind: Kind
    name: str | None = None
    venue: str | None = None
    operation: str | None = None
    sample_rate: float | None = None
    record_args: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    source: str = ""
    number: int = 0
    text: str = ""

    @property
    def where(self) -> str:
        """The source, entry number and text, for messages."""
        return f"{self.source} entry {self.number} {self.text!r}"


def parse_declarations(text: str, source: str) -> list[Declaration]:
    """Parse a list in the ``TRADETEL_INSTRUMENT`` syntax (commas or newlines between entries)."""
    return parse_entries([piece.strip() for piece in _split(text, ",\n")], source)


def parse_entries(entries: list[str], source: str) -> list[Declaration]:
    """Parse entries one by one, numbering the non-empty ones from 1."""
    declarations: list[Declaration] = []
    for entry in entries:
        if entry.strip():
            declarations.append(_parse_entry(entry.strip(), source, len(declarations) + 1))
    return declarations


def _top_level(text: str) -> tuple[list[int], str | None]:
    """Positions of the characters outside quotes and parentheses, and what is unbalanced."""
    top: list[int] = []
    depth, quote, problem = 0, "", None
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                problem = "unbalanced parentheses: ')' without '('"
            depth = max(depth - 1, 0)
        elif depth == 0:
            top.append(i)
    if quote:
        problem = f"unbalanced quotes: {quote} is not closed"
    elif depth:
        problem = "unbalanced parentheses: '(' is not closed"
    return top, problem


def _split(text: str, separators: str) -> list[str]:
    """Split at the separators outside quotes and parentheses."""
    pieces: list[str] = []
    start = 0
    for i in _top_level(text)[0]:
        if text[i] in separators:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return pieces


def _first_equals(text: str) -> int | None:
    return next((i for i in _top_level(text)[0] if text[i] == "="), None)


def _identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _parse_entry(text: str, source: str, number: int) -> Declaration:
    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{source} entry {number} {text!r}: {problem}")

    top, unbalanced = _top_level(text)
    if unbalanced:
        raise fail(unbalanced)
    if any(text[i] in ",\n" for i in top):
        raise fail("one entry per list item (a comma or newline separates two entries)")
    equals = _first_equals(text)
    if equals is None:
        raise fail("missing '=' between the target and the kind (module:pattern=kind)")
    module, colon, pattern = text[:equals].partition(":")
    module, pattern = module.strip(), pattern.strip()
    if not colon:
        raise fail("missing ':' between the module and the pattern (module:pattern=kind)")
    if not module:
        raise fail("empty module")
    bad = next((part for part in module.split(".") if not _identifier(part)), None)
    if bad is not None:
        raise fail(f"bad module name {module!r}: {bad!r} is not a Python identifier")
    if not pattern:
        raise fail("empty pattern after ':'")
    segments = tuple(pattern.split("."))
    for segment in segments:
        if not (_identifier(segment) or (_GLOB.fullmatch(segment) and not segment.isidentifier())):
            raise fail(f"bad pattern segment {segment!r}: use a name or a glob (* ? [...])")
    spec = _SPEC.fullmatch(text[equals + 1 :].strip())
    if spec is None:
        raise fail("expected kind or kind(arguments) after '='")
    kind = spec.group(1)
    if kind not in KINDS:
        raise fail(f"unknown kind {kind!r} (known kinds: {', '.join(KINDS)})")
    arguments = _arguments(spec.group(2) or "", kind, fail)
    options = _OPTIONS[kind]
    extra = {key: value for key, value in arguments.items() if key not in options}
    if extra and kind not in _TAKES_ATTRIBUTES:
        raise fail(
            f"unknown argument {next(iter(extra))!r} for {kind} (allowed: {', '.join(options)})"
        )
    return Declaration(
        module=module,
        pattern=segments,
        kind=cast(Kind, kind),
        name=arguments.get("name"),
        venue=arguments.get("venue"),
        operation=arguments.get("operation"),
        sample_rate=_sample_rate(arguments["sample_rate"], fail)
        if "sample_rate" in arguments
        else None,
        record_args=_record_args(arguments["record_args"], fail)
        if "record_args" in arguments
        else (),
        attributes=tuple(extra.items()),
        source=source,
        number=number,
        text=text,
    )


def _arguments(inner: str, kind: str, fail: Callable[[str], ConfigError]) -> dict[str, str]:
    """The arguments in the parentheses, the positional one under its key."""
    items = [item.strip() for item in _split(inner, ",")]
    if items == [""]:  # kind()
        return {}
    arguments: dict[str, str] = {}
    for position, item in enumerate(items):
        if not item:
            raise fail("empty argument (two commas in a row, or a trailing comma)")
        equals = _first_equals(item)
        if equals is None:
            if position:
                raise fail(f"the positional value {item!r} must come first")
            key, raw = _POSITIONAL[kind], item
        else:
            key, raw = item[:equals].strip(), item[equals + 1 :].strip()
            if not _KEY.fullmatch(key):
                raise fail(f"bad argument name {key!r}")
        if key in arguments:
            raise fail(f"duplicate argument {key!r}")
        arguments[key] = _value(key, raw, fail)
    return arguments


def _value(key: str, raw: str, fail: Callable[[str], ConfigError]) -> str:
    if len(raw) >= 2 and raw[0] in "'\"" and raw[-1] == raw[0] and raw[0] not in raw[1:-1]:
        value = raw[1:-1]
    elif _BARE.fullmatch(raw):
        value = raw
    else:
        raise fail(
            f"bad value {raw!r} for {key!r}: quote it, or use letters, digits and _ . - / only"
        )
    if not value:
        raise fail(f"empty value for {key!r}")
    return value


def _sample_rate(value: str, fail: Callable[[str], ConfigError]) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = float("nan")
    if not 0.0 < rate <= 1.0:  # also rejects nan
        raise fail(f"sample_rate must be a number in (0, 1], got {value!r}")
    return rate


def _record_args(value: str, fail: Callable[[str], ConfigError]) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split("|"))
    bad = next((name for name in names if not _identifier(name)), None)
    if bad is not None:
        raise fail(f"record_args: {bad!r} is not an argument name (separate names with |)")
    return names
