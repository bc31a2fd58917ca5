"""The lexer of alert templates: Go 1.19's ``text/template/parse/lex.go``, state for state.

Text outside actions, ``{{- `` and `` -}}`` trim markers, comments, and the words inside actions;
a lexing error is the last token, as in Go, so the parser reports it where it meets it.  Also the
decoding of literals as Go's ``strconv`` decodes them: strings, characters and integers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from ._template_values import go_quote

__all__ = ["KEYWORDS", "SPACE", "Token", "go_int", "tokenize", "unquote", "unquote_char"]

SPACE = " \t\r\n"
KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "nil", "range"}
KEYWORDS |= {"template", "with"}
_State: TypeAlias = "Callable[[], _State] | None"


@dataclass(frozen=True)
class Token:
    #: "text", "{{", "}}", "space", "ident", "field", "var", "dot", "bool", "nil", "number",
    #: "charconst", "complex", "string", "rawstring", "char", "|", "(", ")", "=", ":=",
    #: a keyword ("if", "end", ...), "eof" or "error" (the value is the message)
    kind: str
    value: str
    offset: int


def _rune(char: str) -> str:
    """Go's ``%#U``: ``U+002D '-'``."""
    return f"U+{ord(char):04X} " + go_quote(char, "'")


def tokenize(text: str) -> list[Token]:
    return _Lexer(text).run()


def _alnum(char: str) -> bool:
    return char == "_" or char.isalpha() or char.isdecimal()


class _Lexer:
    """Go's lexer as a loop over states; each state method returns the next one."""

    def __init__(self, text: str) -> None:
        self.text, self.start, self.pos, self.parens = text, 0, 0, 0
        self.tokens: list[Token] = []

    def run(self) -> list[Token]:
        state = self.lex_text
        while (following := state()) is not None:
            state = following
        return self.tokens

    def emit(self, kind: str) -> None:
        self.tokens.append(Token(kind, self.text[self.start : self.pos], self.start))
        self.start = self.pos

    def error(self, message: str) -> None:
        self.tokens.append(Token("error", message, self.start))

    def at(self, prefix: str, offset: int = 0) -> bool:
        return self.text.startswith(prefix, self.pos + offset)

    def char(self, offset: int = 0) -> str:
        return self.text[self.pos + offset : self.pos + offset + 1]

    def at_right_delim(self) -> tuple[bool, bool]:
        """(at ``}}``, with a `` -`` trim marker before it)."""
        if self.char() != "" and self.char() in SPACE and self.at("-}}", 1):
            return True, True
        return self.at("}}"), False

    def skip_space(self) -> None:
        while self.char() != "" and self.char() in SPACE:
            self.pos += 1
        self.start = self.pos

    def lex_text(self) -> _State:
        found = self.text.find("{{", self.pos)
        if found < 0:
            self.pos = len(self.text)
            if self.pos > self.start:
                self.emit("text")
            self.emit("eof")
            return None
        self.pos = found
        text = self.text[self.start : found]
        if self.at("-", 2) and self.char(3) != "" and self.char(3) in SPACE:
            text = text.rstrip(SPACE)
        if text:
            self.tokens.append(Token("text", text, self.start))
        self.start = self.pos
        return self.lex_left_delim

    def lex_left_delim(self) -> _State:
        self.pos += 2
        trim = 2 if self.at("-") and self.char(1) != "" and self.char(1) in SPACE else 0
        if self.at("/*", trim):
            self.pos += trim + 2
            end = self.text.find("*/", self.pos)
            if end < 0:
                self.error("unclosed comment")
                return None
            self.pos = end + 2
            delim, trim_right = self.at_right_delim()
            if not delim:
                self.error("comment ends before closing delimiter")
                return None
            self.pos += 4 if trim_right else 2
            if trim_right:
                self.skip_space()
            self.start = self.pos
            return self.lex_text
        self.emit("{{")
        self.pos += trim
        self.start, self.parens = self.pos, 0
        return self.lex_inside

    def lex_right_delim(self) -> _State:
        _, trim = self.at_right_delim()
        if trim:
            self.pos += 2
            self.start = self.pos
        self.pos += 2
        self.emit("}}")
        if trim:
            self.skip_space()
        return self.lex_text

    def lex_inside(self) -> _State:  # noqa: PLR0911, PLR0912 - Go's lexInsideAction
        delim, _ = self.at_right_delim()
        if delim:
            if self.parens == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
            return None
        char = self.char()
        self.pos += 1
        if char == "":
            self.error("unclosed action")
            return None
        if char in SPACE:
            return self.lex_space
        if char == "=":
            self.emit("=")
        elif char == ":":
            if not self.at("="):
                self.error("expected :=")
                return None
            self.pos += 1
            self.emit(":=")
        elif char == "|":
            self.emit("|")
        elif char in "\"`'":
            return self.lex_quote(char)
        elif char == "$":
            return self.lex_word("var")
        elif char == "." and not (self.char().isascii() and self.char().isdigit()):
            return self.lex_word("field")
        elif char in "+-." or (char.isascii() and char.isdigit()):
            self.pos -= 1
            return self.lex_number
        elif _alnum(char):
            return self.lex_word("ident")
        elif char == "(":
            self.parens += 1
            self.emit("(")
        elif char == ")":
            self.parens -= 1
            if self.parens < 0:
                self.error("unexpected right paren U+0029 ')'")
                return None
            self.emit(")")
        elif char.isascii() and char.isprintable():
            self.emit("char")
        else:
            self.error(f"unrecognized character in action: {_rune(char)}")
            return None
        return self.lex_inside

    def lex_space(self) -> _State:
        count = 1
        while self.char() != "" and self.char() in SPACE:
            self.pos += 1
            count += 1
        if self.at("-}}"):  # the last space belongs to a trim-marked closing delimiter
            self.pos -= 1
            if count == 1:
                return self.lex_right_delim
        self.emit("space")
        return self.lex_inside

    def at_terminator(self) -> bool:
        char = self.char()
        return char == "" or char in SPACE or char in ".,|:()" or self.at("}}")

    def lex_word(self, kind: str) -> _State:
        if kind != "ident" and self.at_terminator():
            self.emit("var" if kind == "var" else "dot")
            return self.lex_inside
        while self.char() != "" and _alnum(self.char()):
            self.pos += 1
        if not self.at_terminator():
            self.error(f"bad character {_rune(self.char())}")
            return None
        word = self.text[self.start : self.pos]
        if kind == "ident" and word in KEYWORDS:
            kind = word
        elif kind == "ident" and word in ("true", "false"):
            kind = "bool"
        self.emit(kind)
        return self.lex_inside

    def lex_quote(self, quote: str) -> _State:
        kind, name = {
            '"': ("string", "quoted string"),
            "`": ("rawstring", "raw quoted string"),
            "'": ("char", "character constant"),
        }[quote]
        while True:
            char = self.char()
            self.pos += 1
            if char == "\\" and quote != "`":
                char = self.char()
                self.pos += 1
                if char not in ("", "\n"):
                    continue
            if char == "" or (char == "\n" and quote != "`"):
                self.error(f"unterminated {name}")
                return None
            if char == quote:
                break
        self.emit("charconst" if kind == "char" else kind)
        return self.lex_inside

    def lex_number(self) -> _State:
        if not self.scan_number():
            self.error(f"bad number syntax: {go_quote(self.text[self.start : self.pos])}")
            return None
        if self.char() != "" and self.char() in "+-":
            if not self.scan_number() or self.text[self.pos - 1] != "i":
                self.error(f"bad number syntax: {go_quote(self.text[self.start : self.pos])}")
                return None
            self.emit("complex")
        else:
            self.emit("number")
        return self.lex_inside

    def scan_number(self) -> bool:
        def accept(chars: str) -> bool:
            if self.char() != "" and self.char() in chars:
                self.pos += 1
                return True
            return False

        def accept_run(chars: str) -> None:
            while accept(chars):
                pass

        accept("+-")
        digits = "0123456789_"
        if accept("0"):
            if accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif accept("oO"):
                digits = "01234567_"
            elif accept("bB"):
                digits = "01_"
        accept_run(digits)
        if accept("."):
            accept_run(digits)
        if (len(digits) == 11 and accept("eE")) or (len(digits) == 23 and accept("pP")):
            accept("+-")
            accept_run("0123456789_")
        accept("i")
        if self.char() != "" and _alnum(self.char()):
            self.pos += 1
            return False
        return True


# --- literals ---------------------------------------------------------------------------------

_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
_ESCAPE_DIGITS = {"x": 2, "u": 4, "U": 8}


def _escape(body: str, i: int, quote: str) -> tuple[int, bool, int] | None:
    """The escape at ``body[i]`` (a backslash): (code, whether it is one byte, next index)."""
    escape = body[i + 1 : i + 2]
    if escape in _SIMPLE_ESCAPES or escape == quote:
        return _SIMPLE_ESCAPES.get(escape, ord(quote)), False, i + 2
    if escape in _ESCAPE_DIGITS:
        digits = body[i + 2 : i + 2 + _ESCAPE_DIGITS[escape]]
        if len(digits) != _ESCAPE_DIGITS[escape] or not re.fullmatch("[0-9a-fA-F]+", digits):
            return None
        code = int(digits, 16)
        if escape != "x" and (code > 0x10FFFF or 0xD800 <= code < 0xE000):
            return None
        return code, escape == "x", i + 2 + len(digits)
    octal = body[i + 1 : i + 4]
    if re.fullmatch("[0-7]{3}", octal) and int(octal, 8) < 256:
        return int(octal, 8), True, i + 4
    return None


def unquote(text: str) -> str | None:
    """Go's ``strconv.Unquote`` of a "..." string; None if it is invalid."""
    out, i, body = bytearray(), 0, text[1:-1]
    while i < len(body):
        if body[i] != "\\":
            out += body[i].encode(errors="surrogatepass")
            i += 1
            continue
        escape = _escape(body, i, '"')
        if escape is None:
            return None
        code, is_byte, i = escape
        out += bytes((code,)) if is_byte else chr(code).encode()
    return out.decode(errors="surrogateescape")  # a Go string may hold any bytes


def unquote_char(text: str) -> int | None:
    """The rune of a '...' character constant; None if it is not exactly one."""
    body = text[1:-1]
    if body.startswith("\\"):
        escape = _escape(body, 0, "'")
        return escape[0] if escape is not None and escape[2] == len(body) else None
    return ord(body) if len(body) == 1 else None


_INT = re.compile(
    r"[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*"
    r"|[1-9](?:_?[0-9])*)"
)


def go_int(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 0, 64)`` syntax (not its range)."""
    if not _INT.fullmatch(text):
        return None
    body = text.lstrip("+-").replace("_", "")
    prefix = body[:2].lower()
    if prefix in ("0x", "0o", "0b"):
        value = int(body[2:], {"0x": 16, "0o": 8, "0b": 2}[prefix])
    else:
        value = int(body, 8 if body.startswith("0") else 10)
    return -value if text.startswith("-") else value
