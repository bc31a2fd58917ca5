"""The nodes of a parsed alert template (Go's ``text/template/parse/node.go``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Action",
    "Arg",
    "Bool",
    "Break",
    "Chain",
    "Command",
    "Continue",
    "Dot",
    "Field",
    "Identifier",
    "If",
    "Nil",
    "Node",
    "Number",
    "Pipe",
    "Range",
    "String",
    "Variable",
    "With",
    "describe",
]


@dataclass(frozen=True, slots=True)
class Field:
    offset: int
    names: tuple[str, ...]  # .Labels.job -> ("Labels", "job")


@dataclass(frozen=True, slots=True)
class Variable:
    offset: int
    name: str  # with its $
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Dot:
    offset: int


@dataclass(frozen=True, slots=True)
class Nil:
    offset: int


@dataclass(frozen=True, slots=True)
class Bool:
    offset: int
    value: bool


@dataclass(frozen=True, slots=True)
class Number:
    """A number constant, typed as Go types an untyped one: float64 if written with ``.``,
    an exponent or ``p``; otherwise int (an error if it does not fit in an int64)."""

    offset: int
    text: str
    value: int | float
    overflows: bool = False


@dataclass(frozen=True, slots=True)
class String:
    offset: int
    text: str  # as written, quotes included
    value: str


@dataclass(frozen=True, slots=True)
class Identifier:
    offset: int
    name: str


@dataclass(frozen=True, slots=True)
class Chain:
    offset: int
    node: Arg  # a parenthesised pipeline
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Command:
    offset: int
    src: str
    args: tuple[Arg, ...]


@dataclass(frozen=True, slots=True)
class Pipe:
    offset: int
    src: str
    decl: tuple[str, ...]
    assign: bool  # `=` rather than `:=`
    cmds: tuple[Command, ...]


Arg = Field | Variable | Dot | Nil | Bool | Number | String | Identifier | Chain | Pipe


@dataclass(frozen=True, slots=True)
class Action:
    pipe: Pipe


@dataclass(frozen=True, slots=True)
class If:
    pipe: Pipe
    body: tuple[Node, ...]
    orelse: tuple[Node, ...] | None


@dataclass(frozen=True, slots=True)
class With(If):
    pass


@dataclass(frozen=True, slots=True)
class Range(If):
    pass


@dataclass(frozen=True, slots=True)
class Break:
    offset: int


@dataclass(frozen=True, slots=True)
class Continue:
    offset: int


#: a str is text; With and Range are kinds of If
Node = str | Action | If | Break | Continue


def describe(arg: Arg) -> str:  # noqa: PLR0911 - one return per node type
    """An argument as written (Go's ``Node.String()``), for error messages."""
    if isinstance(arg, Field):
        return "." + ".".join(arg.names)
    if isinstance(arg, Variable):
        return ".".join((arg.name, *arg.fields))
    if isinstance(arg, Chain):
        return ".".join((describe(arg.node), *arg.fields))
    if isinstance(arg, Pipe):
        return f"({arg.src})"
    if isinstance(arg, (Number, String)):
        return arg.text
    if isinstance(arg, Bool):
        return "true" if arg.value else "false"
    if isinstance(arg, Identifier):
        return arg.name
    return "." if isinstance(arg, Dot) else "nil"
