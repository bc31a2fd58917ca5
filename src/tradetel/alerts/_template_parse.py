"""The parser of alert templates: Go 1.19's ``text/template/parse/parse.go``.

A template that Prometheus 2.42 refuses when it loads a rule file (an unknown function, an
undefined variable, ``{{else}}`` without ``{{if}}``...) is refused here for the same reason.
Variables are checked as Go checks them, lexically; ``$labels``, ``$value``,
``$externalLabels`` and ``$externalURL`` are declared first, as Prometheus declares them.
"""

from __future__ import annotations

from ._template_builtins import FuncError
from ._template_funcs import FUNCS, UNSUPPORTED, parse_float
from ._template_lex import KEYWORDS, Token, go_int, tokenize, unquote, unquote_char
from ._template_nodes import (
    Action,
    Arg,
    Bool,
    Break,
    Chain,
    Command,
    Continue,
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
from ._template_values import go_quote

__all__ = ["PREDECLARED", "ParseError", "parse"]

#: What Prometheus declares before each alert template (``$`` is the data itself).
PREDECLARED = ("$", "$labels", "$externalLabels", "$externalURL", "$value")


class ParseError(Exception):
    """A template that does not parse; ``offset`` is where in its text."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset, self.message = offset, message


def _describe_token(token: Token) -> str:
    """Go's ``item.String()``: how "unexpected ..." names a token."""
    if token.kind == "eof":
        return "EOF"
    if token.kind in KEYWORDS or token.kind == "dot":
        return f"<{token.value}>"
    if len(token.value) > 10:
        return go_quote(token.value[:10]) + "..."
    return go_quote(token.value)


def _number(token: Token) -> Number:
    """Go's ``newNumber`` and the typing of ``idealConstant``."""
    text, offset = token.value, token.offset
    if token.kind == "charconst":
        rune = unquote_char(text)
        if rune is None:
            raise ParseError(offset, f"malformed character constant: {text}")
        return Number(offset, text, rune)
    if token.kind == "complex" or text.endswith("i"):
        raise ParseError(offset, f"complex number {text} is not supported by tradetel")
    integer = go_int(text)
    hex_int = text[:2] in ("0x", "0X") and not any(c in text for c in "pP")
    looks_float = any(c in text for c in ".eEpP") and not hex_int
    if integer is not None and not looks_float:
        if -(2**63) <= integer < 2**63:
            return Number(offset, text, integer)
        if integer < 2**64 and text[0] not in "+-":  # a uint64 but no int: an error when run
            return Number(offset, text, 0, overflows=True)
    try:
        value = float(integer) if integer is not None else parse_float(text)
    except FuncError:
        raise ParseError(offset, f"illegal number syntax: {go_quote(text)}") from None
    if not looks_float:
        raise ParseError(offset, f"integer overflow: {go_quote(text)}")
    return Number(offset, text, value)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.vars = list(PREDECLARED)
        self.range_depth = 0

    # --- tokens ---------------------------------------------------------------------------------

    def next(self) -> Token:
        token = self.tokens[self.i]
        if token.kind == "error":
            raise ParseError(token.offset, token.value)
        self.i += 1
        return token

    def peek(self) -> Token:
        token = self.next()
        self.i -= 1
        return token

    def next_non_space(self) -> Token:
        token = self.next()
        while token.kind == "space":
            token = self.next()
        return token

    def peek_non_space(self) -> Token:
        token = self.next_non_space()
        self.i -= 1
        return token

    def unexpected(self, token: Token, context: str) -> ParseError:
        return ParseError(token.offset, f"unexpected {_describe_token(token)} in {context}")

    def expect_close(self, context: str) -> Token:
        token = self.next_non_space()
        if token.kind != "}}":
            raise self.unexpected(token, context)
        return token

    # --- lists and actions ----------------------------------------------------------------------

    def parse(self) -> tuple[Node, ...]:
        nodes: list[Node] = []
        while self.peek().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, Token):
                raise ParseError(node.offset, f"unexpected {{{{{node.kind}}}}}")
            nodes.append(node)
        return tuple(nodes)

    def item_list(self) -> tuple[tuple[Node, ...], Token]:
        """The nodes up to ``{{end}}`` or ``{{else}}``, and that token."""
        nodes: list[Node] = []
        while self.peek_non_space().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, Token):
                return tuple(nodes), node
            nodes.append(node)
        raise ParseError(len(self.text), "unexpected EOF")

    def text_or_action(self) -> Node | Token:
        token = self.next_non_space()
        if token.kind == "text":
            return token.value
        if token.kind != "{{":
            raise self.unexpected(token, "input")
        return self.action()

    def action(self) -> Node | Token:
        token = self.next_non_space()
        kind = token.kind
        if kind in ("define", "template", "block"):
            raise ParseError(
                token.offset,
                f"{{{{{kind}}}}} is not supported by tradetel: an alert template is one template",
            )
        if kind in ("break", "continue"):
            self.expect_close(f"{{{{{kind}}}}}")
            if not self.range_depth:
                raise ParseError(token.offset, f"{{{{{kind}}}}} outside {{{{range}}}}")
            return Break(token.offset) if kind == "break" else Continue(token.offset)
        if kind == "end":
            self.expect_close("end")
            return token
        if kind == "else":
            if self.peek_non_space().kind != "if":  # {{else if ...}} keeps its "if" pending
                self.expect_close("else")
            return token
        if kind in ("if", "with", "range"):
            return self.control(kind)
        self.i -= 1
        return Action(self.pipeline("command", "}}"))

    def control(self, kind: str) -> If:
        """``{{if}}``, ``{{with}}`` or ``{{range}}`` up to its ``{{end}}``; only ``if`` takes
        ``{{else if}}`` in Go 1.19."""
        depth = len(self.vars)
        try:
            pipe = self.pipeline(kind, "}}")
            self.range_depth += kind == "range"
            body, closing = self.item_list()
            self.range_depth -= kind == "range"
            orelse: tuple[Node, ...] | None = None
            if closing.kind == "else":
                if kind == "if" and self.peek().kind == "if":
                    self.next()
                    orelse = (self.control("if"),)
                else:
                    orelse, closing = self.item_list()
                    if closing.kind != "end":
                        raise ParseError(closing.offset, "expected end; found {{else}}")
        finally:
            del self.vars[depth:]
        node_type = {"if": If, "with": With, "range": Range}[kind]
        return node_type(pipe, body, orelse)

    # --- pipelines ------------------------------------------------------------------------------

    def pipeline(self, context: str, end: str) -> Pipe:
        start = self.peek_non_space().offset
        decl: list[str] = []
        assign = False
        while (variable := self.peek_non_space()).kind == "var":
            at_variable = self.i
            self.next()
            following = self.peek_non_space()
            if following.kind in ("=", ":="):
                self.next_non_space()
                assign = following.kind == "="
                decl.append(variable.value)
                self.vars.append(variable.value)
                break
            if following.kind == "char" and following.value == ",":
                self.next_non_space()
                decl.append(variable.value)
                self.vars.append(variable.value)
                if context == "range" and len(decl) < 2:
                    if self.peek_non_space().kind in ("var", "}}", ")"):
                        continue
                    raise ParseError(following.offset, "range can only initialize variables")
                raise ParseError(following.offset, f"too many declarations in {context}")
            self.i = at_variable  # an argument, not a declaration
            break
        cmds: list[Command] = []
        while True:
            token = self.next_non_space()
            if token.kind == end:
                break
            if token.kind not in _OPERAND_STARTS:
                raise self.unexpected(token, context)
            self.i -= 1
            cmds.append(self.command())
        if not cmds:
            raise ParseError(token.offset, f"missing value for {context}")
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], (Bool, Dot, Nil, Number, String)):
                raise ParseError(cmd.offset, f"non executable command in pipeline stage {stage}")
        src = self.text[start : token.offset].strip()
        return Pipe(start, src, tuple(decl), assign, tuple(cmds))

    def command(self) -> Command:
        start = self.peek_non_space().offset
        args: list[Arg] = []
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            token = self.next()
            if token.kind == "space":
                continue
            if token.kind in ("}}", ")"):
                self.i -= 1
            elif token.kind != "|":
                raise self.unexpected(token, "operand")
            break
        if not args:
            raise ParseError(start, "empty command")
        return Command(start, self.text[start : token.offset].strip(), tuple(args))

    def operand(self) -> Arg | None:
        node = self.term()
        if node is None or self.peek().kind != "field":
            return node
        fields: list[str] = []
        while self.peek().kind == "field":
            fields.append(self.next().value[1:])
        if isinstance(node, Field):
            return Field(node.offset, node.names + tuple(fields))
        if isinstance(node, Variable):
            return Variable(node.offset, node.name, node.fields + tuple(fields))
        if isinstance(node, (Bool, String, Number, Nil, Dot)):
            raise ParseError(node.offset, f"unexpected . after term {go_quote(describe(node))}")
        return Chain(node.offset, node, tuple(fields))

    def term(self) -> Arg | None:  # noqa: PLR0911, PLR0912 - one branch per operand kind
        token = self.next_non_space()
        kind, value, offset = token.kind, token.value, token.offset
        if kind == "ident":
            if value not in FUNCS:
                reason = f": {UNSUPPORTED[value]}" if value in UNSUPPORTED else ""
                raise ParseError(offset, f"function {go_quote(value)} not defined{reason}")
            return Identifier(offset, value)
        if kind == "var":
            if value not in self.vars:
                raise ParseError(offset, f"undefined variable {go_quote(value)}")
            return Variable(offset, value)
        if kind == "field":
            return Field(offset, (value[1:],))
        if kind == "dot":
            return Dot(offset)
        if kind == "nil":
            return Nil(offset)
        if kind == "bool":
            return Bool(offset, value == "true")
        if kind in ("number", "charconst", "complex"):
            return _number(token)
        if kind == "(":
            return self.pipeline("parenthesized pipeline", ")")
        if kind == "string":
            unquoted = unquote(value)
            if unquoted is None:
                raise ParseError(offset, f"invalid syntax: {value}")
            return String(offset, value, unquoted)
        if kind == "rawstring":
            return String(offset, value, value[1:-1].replace("\r", ""))
        self.i -= 1
        return None


_OPERAND_STARTS = {"bool", "charconst", "complex", "dot", "field", "ident", "number", "nil"}
_OPERAND_STARTS |= {"rawstring", "string", "var", "("}


def parse(text: str) -> tuple[Node, ...]:
    """Parse a template; raises ParseError (with an offset into ``text``)."""
    return _Parser(text).parse()
