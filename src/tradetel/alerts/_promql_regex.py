"""Go RE2 regular expressions, as Prometheus uses them, run on Python's ``re``.

Prometheus compiles label matchers and ``label_replace()`` patterns with Go's ``regexp``
(RE2 syntax, leftmost-first like Perl) anchored as ``^(?:re)$``.  Python's ``re`` shares
most of that syntax but not all of its meaning: ``\\d``/``\\w``/``\\s``/``\\b`` are ASCII in
RE2 and Unicode in Python, ``$`` matches before a final newline in Python, ``(?i)`` in the
middle of a pattern is an error in Python, ``{,n}`` is a repeat in Python and a literal in
RE2, and Python knows lookarounds, backreferences and possessive repeats that RE2 rejects.

So a Go pattern is rewritten atom by atom into a Python pattern with the same matches and the
same numbered groups: flags are applied to each atom (``(?i:x)``), ``.``/``^``/``$`` are
spelled out for the flags in force, classes are rebuilt with every non-alphanumeric member
escaped.  What RE2 accepts but cannot be rewritten here (Unicode classes ``\\p{..}``,
negated POSIX or Perl classes inside a ``[...]``) raises :class:`RegexUnsupported`; what
RE2 itself rejects raises :class:`RegexInvalid`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["GoRegex", "RegexInvalid", "RegexUnsupported", "compile_go", "translate"]


class RegexInvalid(ValueError):
    """Go's regexp rejects the pattern too."""


class RegexUnsupported(ValueError):
    """Go accepts the pattern but tradetel cannot run it with Python's ``re``."""


_PERL = {"d": "0-9", "s": "\\x09\\x0a\\x0c\\x0d\\x20", "w": "0-9A-Za-z_"}
_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\x09\\x20",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "\\x21-\\x7e",
    "lower": "a-z",
    "print": "\\x20-\\x7e",
    "punct": "\\x21-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e",
    "space": "\\x09-\\x0d\\x20",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_SIMPLE_ESCAPES = {"a": "\x07", "f": "\x0c", "n": "\n", "r": "\r", "t": "\t", "v": "\x0b"}
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
_MAX_REPEAT = 1000
_CAPTURE_NAME = re.compile(r"[A-Za-z0-9_]+")


def _char(ch: str) -> str:
    """One code point as a Python pattern literal, safe inside and outside a class."""
    if ch.isascii() and ch.isalnum():
        return ch
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


class _Translator:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.names: list[str] = [""]

    def run(self) -> str:
        out = self._sequence(frozenset(), depth=0)
        if self.pos < len(self.src):
            raise RegexInvalid(f"unexpected ): {self.src!r}")
        return out

    def _sequence(self, flags: frozenset[str], depth: int) -> str:
        parts: list[str] = []
        repeatable = False  # whether the last part can take a repetition operator
        after_repeat = False
        src = self.src
        while self.pos < len(src):
            c = src[self.pos]
            if c == ")":
                if depth == 0:
                    raise RegexInvalid(f"unexpected ): {src!r}")
                return "".join(parts)
            if c in "*+?" or (c == "{" and _REPEAT.match(src, self.pos)):
                if after_repeat:
                    raise RegexInvalid(f"invalid nested repetition operator in {src!r}")
                if not repeatable:
                    raise RegexInvalid(f"missing argument to repetition operator in {src!r}")
                parts.append(self._repeat(flags))
                after_repeat = True
                continue
            after_repeat = False
            repeatable = True
            if c == "|":
                self.pos += 1
                parts.append("|")
                repeatable = False
            elif c == "(":
                text, flags_after = self._group(flags, depth)
                if flags_after is not None:  # a bare (?flags): no atom of its own
                    flags = flags_after
                    repeatable = bool(parts) and parts[-1] != "|"
                    continue
                parts.append(text)
            else:
                parts.append(self._atom(c, flags))
        if depth > 0:
            raise RegexInvalid(f"missing closing ): {src!r}")
        return "".join(parts)

    def _atom(self, c: str, flags: frozenset[str]) -> str:
        """One character, class, escape or anchor, spelled for the flags in force."""
        if c == "[":
            return self._with_case(self._class(), flags)
        if c == "\\":
            return self._escape(flags)
        self.pos += 1
        if c == ".":
            return "(?s:.)" if "s" in flags else "[^\\n]"
        if c == "^":
            return "(?m:^)" if "m" in flags else "(?:\\A)"
        if c == "$":
            return "(?m:$)" if "m" in flags else "(?:\\Z)"
        return self._literal(c, flags)

    def _repeat(self, flags: frozenset[str]) -> str:
        src = self.src
        c = src[self.pos]
        if c == "{":
            m = _REPEAT.match(src, self.pos)
            assert m is not None
            low = int(m.group(1))
            high = low if m.group(2) is None else (int(m.group(3)) if m.group(3) else -1)
            if low > _MAX_REPEAT or high > _MAX_REPEAT or (high >= 0 and high < low):
                raise RegexInvalid(f"invalid repeat count {m.group(0)} in {src!r}")
            op = m.group(0)
            self.pos = m.end()
        else:
            op = c
            self.pos += 1
        lazy = self.pos < len(src) and src[self.pos] == "?"
        if lazy:
            self.pos += 1
        if "U" in flags:  # (?U) swaps the meaning of x* and x*?
            lazy = not lazy
        return op + ("?" if lazy else "")

    def _group(self, flags: frozenset[str], depth: int) -> tuple[str, frozenset[str] | None]:
        src = self.src
        start = self.pos
        self.pos += 1
        if not src.startswith("?", self.pos):
            self.names.append("")
            inner = self._sequence(flags, depth + 1)
            self.pos += 1
            return f"({inner})", None
        if src.startswith("?P<", self.pos):
            end = src.find(">", self.pos)
            name = src[self.pos + 3 : end] if end >= 0 else ""
            if end < 0 or not _CAPTURE_NAME.fullmatch(name):
                raise RegexInvalid(f"invalid named capture in {src!r}")
            self.pos = end + 1
            self.names.append(name)
            inner = self._sequence(flags, depth + 1)
            self.pos += 1
            return f"({inner})", None
        # (?flags) or (?flags:...): i, m, s, U, optionally negated after one '-'
        self.pos += 1
        new = set(flags)
        negate = False
        saw_flag = False
        while self.pos < len(src):
            c = src[self.pos]
            self.pos += 1
            if c in "imsU":
                (new.discard if negate else new.add)(c)
                saw_flag = True
            elif c == "-" and not negate:
                negate = True
                saw_flag = False
            elif c in ":)":
                if negate and not saw_flag:
                    break
                if c == ")":
                    return "", frozenset(new)
                inner = self._sequence(frozenset(new), depth + 1)
                self.pos += 1
                return f"(?:{inner})", None
            else:
                break
        raise RegexInvalid(f"invalid or unsupported Perl syntax {src[start : self.pos]!r}")

    def _with_case(self, atom: str, flags: frozenset[str]) -> str:
        return f"(?i:{atom})" if "i" in flags else atom

    def _literal(self, ch: str, flags: frozenset[str]) -> str:
        if "i" in flags and ch.lower() != ch.upper():
            return f"(?i:{_char(ch)})"
        return _char(ch)

    def _escape(self, flags: frozenset[str]) -> str:
        src = self.src
        if self.pos + 1 >= len(src):
            raise RegexInvalid(f"trailing backslash at end of expression {src!r}")
        c = src[self.pos + 1]
        if c in "dswDSW":
            self.pos += 2
            body = _PERL[c.lower()]
            return f"[^{body}]" if c.isupper() else f"[{body}]"
        if c in "bB":
            self.pos += 2
            return f"(?a:\\{c})"
        if c == "A":
            self.pos += 2
            return "(?:\\A)"
        if c == "z":
            self.pos += 2
            return "(?:\\Z)"
        if c in "pP":
            raise RegexUnsupported(f"Unicode classes (\\{c}) in {src!r}")
        if c == "Q":
            end = src.find("\\E", self.pos + 2)
            text = src[self.pos + 2 :] if end < 0 else src[self.pos + 2 : end]
            self.pos = len(src) if end < 0 else end + 2
            return "".join(self._literal(ch, flags) for ch in text)
        return self._literal(self._escaped_char(), flags)

    def _escaped_char(self) -> str:
        """The code point of an escape that stands for one character (in or out of a class)."""
        src = self.src
        c = src[self.pos + 1]
        if c in "01234567":
            # \1-\7 on their own are backreferences, which RE2 rejects; \0 and \1x.. are octal
            digits = c
            i = self.pos + 2
            while len(digits) < 3 and i < len(src) and src[i] in "01234567":
                digits += src[i]
                i += 1
            if c != "0" and len(digits) == 1:
                raise RegexInvalid(f"invalid escape sequence \\{c} in {src!r}")
            self.pos = i
            return chr(int(digits, 8))
        if c == "x":
            m = re.compile(r"x(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{2}))").match(src, self.pos + 1)
            code = int(m.group(1) or m.group(2), 16) if m else -1
            if m is None or code > 0x10FFFF:
                raise RegexInvalid(f"invalid escape sequence in {src!r}")
            self.pos = m.end()
            return chr(code)
        if c in _SIMPLE_ESCAPES:
            self.pos += 2
            return _SIMPLE_ESCAPES[c]
        if c.isascii() and not c.isalnum():
            self.pos += 2
            return c
        raise RegexInvalid(f"invalid escape sequence \\{c} in {src!r}")

    def _class(self) -> str:
        src = self.src
        self.pos += 1
        negate = src.startswith("^", self.pos)
        if negate:
            self.pos += 1
        items: list[str] = []
        first = True
        while True:
            if self.pos >= len(src):
                raise RegexInvalid(f"missing closing ]: {src!r}")
            c = src[self.pos]
            if c == "]" and not first:
                self.pos += 1
                break
            first = False
            if src.startswith("[:", self.pos) and src.find(":]", self.pos + 2) >= 0:
                end = src.find(":]", self.pos + 2)
                name = src[self.pos + 2 : end]
                if name.startswith("^"):
                    raise RegexUnsupported(f"negated POSIX class [:{name}:] in {src!r}")
                if name not in _POSIX:
                    raise RegexInvalid(f"invalid character class range [:{name}:] in {src!r}")
                items.append(_POSIX[name])
                self.pos = end + 2
                continue
            if c == "\\" and self.pos + 1 < len(src) and src[self.pos + 1] in "dswDSWpP":
                kind = src[self.pos + 1]
                if kind not in "dsw":
                    raise RegexUnsupported(f"\\{kind} inside a character class in {src!r}")
                items.append(_PERL[kind])
                self.pos += 2
                continue
            low = self._class_char()
            if (
                src.startswith("-", self.pos)
                and self.pos + 1 < len(src)
                and src[self.pos + 1] != "]"
            ):
                self.pos += 1
                high = self._class_char()
                if high < low:
                    raise RegexInvalid(f"invalid character class range {low}-{high} in {src!r}")
                items.append(f"{_char(low)}-{_char(high)}")
            else:
                items.append(_char(low))
        return "[" + ("^" if negate else "") + "".join(items) + "]"

    def _class_char(self) -> str:
        src = self.src
        if self.pos >= len(src):
            raise RegexInvalid(f"missing closing ]: {src!r}")
        if src[self.pos] == "\\":
            if self.pos + 1 >= len(src):
                raise RegexInvalid(f"trailing backslash at end of expression {src!r}")
            return self._escaped_char()
        self.pos += 1
        return src[self.pos - 1]


def translate(go_pattern: str) -> tuple[str, tuple[str, ...]]:
    """A Python pattern with the same matches as the Go one, and the Go group names by number.

    Raises:
        RegexInvalid: Go's regexp rejects the pattern.
        RegexUnsupported: the pattern uses RE2 syntax this translation does not cover.
    """
    translator = _Translator(go_pattern)
    pattern = translator.run()
    try:
        re.compile(pattern)
    except re.error as exc:  # e.g. a nesting Python would reject; RE2 rejects those too
        raise RegexInvalid(f"{exc} in {go_pattern!r}") from None
    return pattern, tuple(translator.names)


@dataclass(frozen=True)
class GoRegex:
    """A Go pattern compiled to run anchored at both ends, as Prometheus runs them."""

    source: str
    pattern: re.Pattern[str]
    #: the Go name of each numbered group ("" when unnamed; group 0 is the whole match)
    names: tuple[str, ...]

    def expand(self, template: str, match: re.Match[str]) -> str:
        """Go's ``Regexp.ExpandString``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``.

        As in Go, ``$1x`` names the group ``1x`` (so it expands to nothing), a reference to
        a group that did not take part is empty, and a malformed ``$`` is kept as text.
        """
        out: list[str] = []
        rest = template
        while True:
            before, dollar, after = rest.partition("$")
            out.append(before)
            if not dollar:
                return "".join(out)
            rest = after
            if rest.startswith("$"):
                out.append("$")
                rest = rest[1:]
                continue
            name, num, tail = _extract(rest)
            if name is None:
                out.append("$")
                continue
            rest = tail
            if num >= 0:
                if num <= self.pattern.groups and match.start(num) >= 0:
                    out.append(match.group(num))
                continue
            for index, group_name in enumerate(self.names):
                if group_name == name and match.start(index) >= 0:
                    out.append(match.group(index))
                    break


def _extract(text: str) -> tuple[str | None, int, str]:
    """The group reference at the start of ``text`` (after ``$``), as Go's ``extract``."""
    brace = text.startswith("{")
    body = text[1:] if brace else text
    i = 0
    while i < len(body) and (body[i].isalpha() or body[i].isdecimal() or body[i] == "_"):
        i += 1
    if i == 0:
        return None, -1, text
    name = body[:i]
    if brace:
        if i >= len(body) or body[i] != "}":
            return None, -1, text
        i += 1
    # Go stops reading a number past nine digits, and a leading zero makes it a name
    num = -1
    if all("0" <= ch <= "9" for ch in name) and len(name) <= 9 and (name == "0" or name[0] != "0"):
        num = int(name)
    return name, num, body[i:]


@lru_cache(maxsize=1024)
def compile_go(go_pattern: str) -> GoRegex:
    """Translate and compile a Go pattern (cached: rules reuse the same few patterns)."""
    pattern, names = translate(go_pattern)
    return GoRegex(go_pattern, re.compile(pattern), names)
