"""Alert label and annotation templates, rendered as Prometheus 2.42 renders them.

Prometheus expands each template with Go's text/template (Go 1.19), after declaring
``{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}
{{$value := .Value}}``, with the option ``missingkey=zero``: a label that the alert does not have,
``{{ $labels.nope }}``, renders as an empty string (without the option Go would print
``<no value>``).  A template that fails renders as ``<error expanding template: ...>`` and the
evaluation goes on.

This module is a pure-Python interpreter of that language: :func:`check` parses (when rules are
loaded), :func:`expand` renders (on every evaluation, from a cache of parsed templates).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from .._internal import report_internal_error
from ._template_builtins import FuncError, is_true
from ._template_fmt import sprint
from ._template_funcs import ANY, FUNCS, STR
from ._template_nodes import (
    Action,
    Arg,
    Bool,
    Break,
    Chain,
    Command,
    Dot,
    Field,
    Identifier,
    If,
    Nil,
    Node,
    Number,
    Pipe,
    Range,
    String,
    Variable,
    With,
    describe,
)
from ._template_parse import ParseError, parse
from ._template_values import AlertData, type_name, valid_utf8

__all__ = ["TemplateError", "check", "expand"]


class TemplateError(ValueError):
    """A template that does not parse; the message gives the position and what was wrong."""

    def __init__(self, message: str, *, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.line, self.column = line, column


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _located(text: str, offset: int, message: str) -> str:
    line, column = _position(text, offset)
    return f"line {line}, column {column}: {message}"


_TOO_DEEP = "the template nests too deeply (parentheses or blocks)"


@functools.lru_cache(maxsize=4096)
def _compile(text: str) -> tuple[Node, ...] | TemplateError:
    """The parsed template, or the reason it does not parse (rules render on every
    evaluation, so each text is parsed once)."""
    try:
        return parse(text)
    except ParseError as exc:
        line, column = _position(text, exc.offset)
        return TemplateError(_located(text, exc.offset, exc.message), line=line, column=column)
    except RecursionError:
        return TemplateError(_TOO_DEEP, line=1, column=1)


def check(text: str) -> None:
    """Parse ``text`` as Prometheus does when it loads a rule file; raise TemplateError if it
    does not parse or calls a function that tradetel does not support (such as ``query``)."""
    compiled = _compile(text)
    if isinstance(compiled, TemplateError):
        raise TemplateError(str(compiled), line=compiled.line, column=compiled.column)


def expand(
    text: str,
    *,
    labels: Mapping[str, str],
    value: float,
    external_labels: Mapping[str, str] | None = None,
    external_url: str = "",
) -> str:
    """Render an alert template; never raises.

    Args:
        labels: the alert's labels (``$labels``), as the rule's result gave them.
        value: the result's value (``$value``).
        external_labels: ``$externalLabels``.
        external_url: ``$externalURL``, and what the ``externalURL`` function returns.

    Returns:
        The text, or ``<error expanding template: ...>`` saying where and what failed.
    """
    if "{{" not in text:
        return text
    try:
        compiled = _compile(text)
        if isinstance(compiled, TemplateError):
            return f"<error expanding template: {compiled}>"
        data = AlertData(labels, external_labels or {}, external_url, float(value))
        return _Execution(data).run(compiled)
    except _ExecError as exc:
        return f"<error expanding template: {_located(text, exc.offset, exc.message)}>"
    except RecursionError:
        return f"<error expanding template: {_TOO_DEEP}>"
    except Exception as exc:  # a bug here must not stop the evaluation
        report_internal_error("alert template", exc)
        return f"<error expanding template: internal error: {exc!r}>"


class _ExecError(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset, self.message = offset, message


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_MISSING = object()  # no value piped into a command


class _Execution:
    """One rendering: Go's ``state`` (the variable stack) walking the parsed nodes."""

    __slots__ = ("data", "out", "vars")

    def __init__(self, data: AlertData) -> None:
        self.data = data
        self.out: list[str] = []
        self.vars: list[tuple[str, object]] = [
            ("$", data),
            ("$labels", data.Labels),
            ("$externalLabels", data.ExternalLabels),
            ("$externalURL", data.ExternalURL),
            ("$value", data.Value),
        ]

    def run(self, nodes: tuple[Node, ...]) -> str:
        self.walk(self.data, nodes)
        return valid_utf8("".join(self.out))

    def fail(self, at: Command | Pipe, message: str) -> _ExecError:
        return _ExecError(at.offset, f"executing <{at.src}>: {message}")

    # --- statements -----------------------------------------------------------------------------

    def walk(self, dot: object, nodes: Sequence[Node]) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.out.append(node)
            elif isinstance(node, Action):
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:  # a declaration prints nothing
                    self.out.append("<no value>" if value is None else sprint((value,)))
            elif isinstance(node, Range):
                self.walk_range(dot, node)
            elif isinstance(node, If):
                self.walk_if(dot, node)
            else:
                raise _Break if isinstance(node, Break) else _Continue

    def walk_if(self, dot: object, node: If) -> None:
        mark = len(self.vars)
        try:
            value = self.pipeline(dot, node.pipe)
            if is_true(value):
                self.walk(value if isinstance(node, With) else dot, node.body)
            elif node.orelse is not None:
                self.walk(dot, node.orelse)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: object, node: Range) -> None:
        mark = len(self.vars)
        try:
            value = self.pipeline(dot, node.pipe)
            if isinstance(value, Mapping) and value:
                body_mark = len(self.vars)
                for key in sorted(value):
                    element = value[key]
                    if node.pipe.decl:  # the last variable gets the element, a first the key
                        self.vars[-1] = (self.vars[-1][0], element)
                    if len(node.pipe.decl) > 1:
                        self.vars[-2] = (self.vars[-2][0], key)
                    try:
                        self.walk(element, node.body)
                    except _Continue:
                        pass
                    finally:
                        del self.vars[body_mark:]
                return
            if value is not None and not isinstance(value, Mapping):
                raise self.fail(node.pipe, f"range can't iterate over {_show(value)}")
            if node.orelse is not None:
                self.walk(dot, node.orelse)
        except _Break:
            pass
        finally:
            del self.vars[mark:]

    # --- pipelines and commands -----------------------------------------------------------------

    def pipeline(self, dot: object, pipe: Pipe) -> object:
        value: object = _MISSING
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.assign:
                self.set_var(pipe, name, value)
            else:
                self.vars.append((name, value))
        return value

    def command(self, dot: object, cmd: Command, final: object) -> object:
        first = cmd.args[0]
        if isinstance(first, Identifier):
            return self.call(dot, cmd, first.name, cmd.args[1:], final)
        has_args = len(cmd.args) > 1 or final is not _MISSING
        if isinstance(first, (Field, Variable, Chain)):
            return self.fields(dot, cmd, first, has_args)
        if has_args:
            raise self.fail(cmd, f"can't give argument to non-function {describe(first)}")
        if isinstance(first, Nil):
            raise self.fail(cmd, "nil is not a command")
        return self.literal(dot, cmd, first)

    def literal(self, dot: object, cmd: Command, arg: Arg) -> object:
        if isinstance(arg, Pipe):
            return self.pipeline(dot, arg)
        if isinstance(arg, Number):
            if arg.overflows:
                raise self.fail(cmd, f"{arg.text} overflows int")
            return arg.value
        if isinstance(arg, (Bool, String)):
            return arg.value
        if isinstance(arg, Dot):
            return dot
        return None  # nil, given to an interface{} parameter

    def fields(
        self, dot: object, cmd: Command, arg: Field | Variable | Chain, has_args: bool
    ) -> object:
        """``.A.b``, ``$x.a`` or ``(pipeline).a``: a field of the data, or a map key."""
        if isinstance(arg, Field):
            receiver, names = dot, arg.names
        elif isinstance(arg, Variable):
            receiver, names = self.var(cmd, arg.name), arg.fields
            if not names:
                if has_args:
                    raise self.fail(cmd, f"can't give argument to non-function {arg.name}")
                return receiver
        else:
            receiver, names = self.arg(dot, cmd, ANY, arg.node), arg.fields
        for n, name in enumerate(names):
            receiver = self.field(cmd, receiver, name, has_args and n == len(names) - 1)
        return receiver

    def field(self, cmd: Command, receiver: object, name: str, has_args: bool) -> object:
        if receiver is None:
            return None
        if isinstance(receiver, AlertData) and name in AlertData.FIELDS:
            if has_args:
                raise self.fail(cmd, f"{name} has arguments but cannot be invoked as function")
            return getattr(receiver, name)
        if isinstance(receiver, Mapping):
            if has_args:
                raise self.fail(cmd, f"{name} is not a method but has arguments")
            return receiver.get(name, "")  # missingkey=zero: a missing label is ""
        raise self.fail(cmd, f"can't evaluate field {name} in type {type_name(receiver)}")

    def call(
        self, dot: object, cmd: Command, name: str, args: Sequence[Arg], final: object
    ) -> object:
        func = FUNCS[name]
        count = len(args) + (final is not _MISSING)
        fixed = len(func.params)
        if func.variadic is not None and count < fixed:
            raise self.fail(
                cmd, f"wrong number of args for {name}: want at least {fixed} got {len(args)}"
            )
        if func.variadic is None and count != fixed:
            raise self.fail(cmd, f"wrong number of args for {name}: want {fixed} got {count}")

        def kind(n: int) -> str:
            return func.params[n] if n < fixed else func.variadic or ANY

        if name in ("and", "or"):  # short-circuit: the first false (true) argument, or the last
            value: object = None
            for arg in args:
                value = self.arg(dot, cmd, ANY, arg)
                if is_true(value) == (name == "or"):
                    return value
            return self.validate(cmd, final, ANY) if final is not _MISSING else value
        argv = [self.arg(dot, cmd, kind(n), arg) for n, arg in enumerate(args)]
        if final is not _MISSING:
            argv.append(self.validate(cmd, final, kind(count - 1)))
        try:
            return func.impl(argv, self.data)
        except FuncError as exc:
            raise self.fail(cmd, f"error calling {name}: {exc}") from None

    def arg(self, dot: object, cmd: Command, kind: str, arg: Arg) -> object:
        """An argument for a parameter of ``kind``; a constant must suit a string parameter."""
        if isinstance(arg, Identifier):
            return self.validate(cmd, self.call(dot, cmd, arg.name, (), _MISSING), kind)
        if isinstance(arg, (Field, Variable, Chain)):
            return self.validate(cmd, self.fields(dot, cmd, arg, False), kind)
        if isinstance(arg, (Pipe, Dot)):
            return self.validate(cmd, self.literal(dot, cmd, arg), kind)
        if isinstance(arg, Nil) and kind == STR:
            raise self.fail(cmd, "cannot assign nil to string")
        if kind == STR and not isinstance(arg, String):
            raise self.fail(cmd, f"expected string; found {describe(arg)}")
        return self.literal(dot, cmd, arg)

    def validate(self, cmd: Command, value: object, kind: str) -> object:
        if value is None and kind == STR:
            raise self.fail(cmd, "invalid value; expected string")
        if kind == STR and type(value) is not str:
            raise self.fail(cmd, f"wrong type for value; expected string; got {type_name(value)}")
        return value

    # --- variables ------------------------------------------------------------------------------

    def var(self, cmd: Command, name: str) -> object:
        for var_name, value in reversed(self.vars):
            if var_name == name:
                return value
        raise self.fail(cmd, f"undefined variable: {name}")

    def set_var(self, pipe: Pipe, name: str, value: object) -> None:
        for n in range(len(self.vars) - 1, -1, -1):
            if self.vars[n][0] == name:
                self.vars[n] = (name, value)
                return
        raise self.fail(pipe, f"undefined variable: {name}")


def _show(value: object) -> str:
    return "<nil>" if value is None else sprint((value,))
