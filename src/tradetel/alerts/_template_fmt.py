"""Go's fmt for alert templates: ``printf``, ``print``, ``println`` and printing ``{{ x }}``.

It follows Go 1.19's ``fmt/print.go`` and ``fmt/format.go``: flags, width, precision, ``*`` and
``[n]``, every verb for the types a template holds, and the ``%!verb(type=value)``,
``%!verb(MISSING)`` and ``%!(EXTRA ...)`` forms Go prints instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ._template_values import (
    AlertData,
    GoTime,
    can_backquote,
    format_float,
    go_quote,
    to_bytes,
    type_name,
)

__all__ = ["sprint", "sprintf", "sprintln"]


def _int_digits(number: int, base: int, upper: bool) -> str:
    if base == 10:
        return str(number)
    spec = {2: "b", 8: "o", 16: "X" if upper else "x"}[base]
    return format(number, spec)


class _Printer:
    """One ``fmt`` call: Go's ``pp`` and its flags, writing into ``buf``."""

    __slots__ = ("buf", "minus", "plus", "prec", "sharp", "space", "wid", "zero")

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.clear()

    def clear(self) -> None:
        self.plus = self.minus = self.sharp = self.space = self.zero = False
        self.wid: int | None = None
        self.prec: int | None = None

    def padding(self, count: int) -> None:
        if count > 0:
            self.buf.append(("0" if self.zero else " ") * count)

    def pad(self, text: str) -> None:
        if self.wid is None or self.wid <= len(text):
            self.buf.append(text)
        elif self.minus:
            self.buf.append(text + " " * (self.wid - len(text)))
        else:
            self.padding(self.wid - len(text))
            self.buf.append(text)

    def pad_no_zero(self, text: str) -> None:
        zero, self.zero = self.zero, False
        self.pad(text)
        self.zero = zero

    def bad_verb(self, verb: str, arg: object) -> None:
        self.buf.append(f"%!{verb}(")
        if arg is None:
            self.buf.append("<nil>")
        else:
            self.buf.append(type_name(arg) + "=")
            self.print_arg(arg, "v")
        self.buf.append(")")

    def print_arg(self, arg: object, verb: str) -> None:  # noqa: PLR0912 - Go's type switch
        if arg is None:
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, arg)
        elif verb == "T":
            self.string(type_name(arg), "s")
        elif isinstance(arg, bool):
            if verb in "tv":
                self.pad("true" if arg else "false")
            else:
                self.bad_verb(verb, arg)
        elif isinstance(arg, int):
            self.integer(arg, verb)
        elif isinstance(arg, float):
            self.float(arg, verb)
        elif isinstance(arg, str):
            self.string(arg, verb)
        elif isinstance(arg, GoTime) and verb in "vsxXq":
            self.string(str(arg), verb)  # a Stringer
        elif isinstance(arg, AlertData):
            self.buf.append("{")
            for i, name in enumerate(AlertData.FIELDS):
                self.buf.append(" " if i else "")
                self.print_arg(getattr(arg, name), verb)
            self.buf.append("}")
        elif isinstance(arg, Mapping):
            self.buf.append("map[")
            for i, key in enumerate(sorted(arg)):
                self.buf.append(" " if i else "")
                self.print_arg(key, verb)
                self.buf.append(":")
                self.print_arg(arg[key], verb)
            self.buf.append("]")
        else:
            self.bad_verb(verb, arg)

    def integer(self, number: int, verb: str) -> None:
        bases = {"v": 10, "d": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}
        if verb in bases:
            self.fmt_integer(number, bases[verb], verb)
        elif verb in "cqU":
            code = number if 0 <= number <= 0x10FFFF else 0xFFFD
            char = chr(0xFFFD if 0xD800 <= code < 0xE000 else code)
            if verb == "c":
                self.pad(char)
            elif verb == "q":
                self.pad(go_quote(char, "'", ascii_only=self.plus))
            else:
                hex_digits = format(number % (1 << 64), "X").rjust(max(self.prec or 0, 4), "0")
                show = self.sharp and 0 <= number <= 0x10FFFF and char.isprintable()
                self.pad_no_zero(f"U+{hex_digits}" + (f" '{char}'" if show else ""))
        else:
            self.bad_verb(verb, number)

    def fmt_integer(self, number: int, base: int, verb: str) -> None:
        negative = number < 0
        digits = _int_digits(abs(number), base, verb == "X")
        prec = 0
        if self.prec is not None:
            prec = self.prec
            if prec == 0 and number == 0:  # "%.0d" of 0 prints only the padding
                zero, self.zero = self.zero, False
                self.padding(self.wid or 0)
                self.zero = zero
                return
        elif self.zero and self.wid is not None:
            prec = self.wid - (1 if negative or self.plus or self.space else 0)
        digits = digits.rjust(prec, "0")
        if self.sharp:
            if base == 2:
                digits = "0b" + digits
            elif base == 8 and not digits.startswith("0"):
                digits = "0" + digits
            elif base == 16:
                digits = ("0X" if verb == "X" else "0x") + digits
        if verb == "O":
            digits = "0o" + digits
        if negative:
            digits = "-" + digits
        elif self.plus:
            digits = "+" + digits
        elif self.space:
            digits = " " + digits
        self.pad_no_zero(digits)

    def float(self, value: float, verb: str) -> None:
        if verb not in "vbgGxXeEfF":
            self.bad_verb(verb, value)
            return
        verb = {"v": "g", "F": "f"}.get(verb, verb)
        default = 6 if verb in "eEf" else -1  # -1: the shortest form
        num = format_float(value, verb, default if self.prec is None else self.prec)
        sign, body = (num[0], num[1:]) if num[0] in "+-" else ("+", num)
        if self.space and sign == "+" and not self.plus:
            sign = " "
        if body[0] in "IN":  # Inf and NaN are never zero padded; NaN has no sign unless asked
            show_sign = body[0] == "I" or self.space or self.plus
            self.pad_no_zero(sign + body if show_sign else body)
            return
        if self.sharp and verb != "b":
            body = self._sharp(body, verb)
        if self.plus or sign != "+":
            if self.zero and self.wid is not None and self.wid > len(body) + 1:
                self.buf.append(sign)
                self.padding(self.wid - len(body) - 1)
                self.buf.append(body)
            else:
                self.pad(sign + body)
        else:
            self.pad(body)

    def _sharp(self, body: str, verb: str) -> str:
        """``#``: always a decimal point, and %g keeps its trailing zeros."""
        digits = (6 if self.prec is None else self.prec) if verb in "gGx" else 0
        tail = ""
        has_point = saw_nonzero = False
        for i, char in enumerate(body):
            if char == ".":
                has_point = True
            elif char in "pP" or (char in "eE" and verb not in "xX"):
                body, tail = body[:i], body[i:]
                break
            else:
                saw_nonzero = saw_nonzero or char != "0"
                digits -= 1 if saw_nonzero else 0
        if not has_point:
            digits -= 1 if body == "0" else 0
            body += "."
        return body + "0" * max(digits, 0) + tail

    def string(self, text: str, verb: str) -> None:
        if self.prec is not None:
            text = text[: self.prec]
        if verb in "vs":
            self.pad(text)
        elif verb == "q":
            if self.sharp and can_backquote(text):
                self.pad(f"`{text}`")
            else:
                self.pad(go_quote(text, ascii_only=self.plus))
        elif verb in "xX":
            self._hex_bytes(to_bytes(text), verb == "X")
        else:
            self.bad_verb(verb, text)

    def _hex_bytes(self, data: bytes, upper: bool) -> None:
        if self.prec is not None:
            data = data[: self.prec]
        if not data:
            self.padding(self.wid or 0)
            return
        prefix = ("0X" if upper else "0x") if self.sharp else ""
        pieces = [format(byte, "02X" if upper else "02x") for byte in data]
        if self.space:
            text = " ".join(prefix + piece for piece in pieces)
        else:
            text = prefix + "".join(pieces)
        self.pad(text)


def _number(text: str, i: int) -> tuple[int | None, int]:
    start = i
    while i < len(text) and text[i].isdigit() and text[i].isascii():
        i += 1
    if i == start:
        return None, i
    return min(int(text[start:i]), 1_000_000), i


def _star(printer: _Printer, args: Sequence[object], arg_num: int) -> tuple[int | None, int]:
    if arg_num >= len(args):
        return None, arg_num
    value = args[arg_num]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 1_000_000:
        return value, arg_num + 1
    return None, arg_num + 1


def _arg_index(fmt: str, i: int, arg_num: int, count: int) -> tuple[int, int, bool, bool]:
    """An explicit ``[n]`` argument index: (argument number, position, found, usable)."""
    if i >= len(fmt) or fmt[i] != "[":
        return arg_num, i, False, True
    end = fmt.find("]", i)
    if end < 0 or end - i < 2:
        return arg_num, i + 1, False, False
    index = fmt[i + 1 : end]
    if not (index.isascii() and index.isdigit()):
        return arg_num, end + 1, False, False
    if not 1 <= int(index) <= count:
        return arg_num, end + 1, True, False
    return int(index) - 1, end + 1, True, True


def sprintf(fmt: str, args: Sequence[object]) -> str:  # noqa: PLR0912, PLR0915 - Go's doPrintf
    """``fmt.Sprintf``: flags, width, precision, ``*``, ``[n]`` and Go's ``%!`` error forms."""
    printer = _Printer()
    buf = printer.buf
    arg_num, i, end, reordered = 0, 0, len(fmt), False
    while i < end:
        percent = fmt.find("%", i)
        if percent < 0:
            buf.append(fmt[i:])
            break
        buf.append(fmt[i:percent])
        i = percent + 1
        printer.clear()
        while i < end and fmt[i] in "#0+- ":
            flag = fmt[i]
            if flag == "#":
                printer.sharp = True
            elif flag == "0":
                printer.zero = not printer.minus
            elif flag == "+":
                printer.plus = True
            elif flag == "-":
                printer.minus, printer.zero = True, False
            else:
                printer.space = True
            i += 1
        good = True
        arg_num, i, after_index, ok = _arg_index(fmt, i, arg_num, len(args))
        reordered, good = reordered or after_index or not ok, good and ok
        if i < end and fmt[i] == "*":
            printer.wid, arg_num = _star(printer, args, arg_num)
            i += 1
            if printer.wid is None:
                buf.append("%!(BADWIDTH)")
            elif printer.wid < 0:
                printer.wid, printer.minus, printer.zero = -printer.wid, True, False
            after_index = False
        else:
            printer.wid, i = _number(fmt, i)
            good = good and not (after_index and printer.wid is not None)
        if i + 1 < end and fmt[i] == ".":
            i += 1
            good = good and not after_index
            arg_num, i, after_index, ok = _arg_index(fmt, i, arg_num, len(args))
            reordered, good = reordered or after_index or not ok, good and ok
            if i < end and fmt[i] == "*":
                printer.prec, arg_num = _star(printer, args, arg_num)
                i += 1
                if printer.prec is not None and printer.prec < 0:
                    printer.prec = None
                if printer.prec is None:
                    buf.append("%!(BADPREC)")
                after_index = False
            else:
                printer.prec, i = _number(fmt, i)
                printer.prec = printer.prec or 0
        if not after_index:
            arg_num, i, after_index, ok = _arg_index(fmt, i, arg_num, len(args))
            reordered, good = reordered or after_index or not ok, good and ok
        if i >= end:
            buf.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            buf.append("%")
        elif not good:
            buf.append(f"%!{verb}(BADINDEX)")
        elif arg_num >= len(args):
            buf.append(f"%!{verb}(MISSING)")
        else:
            if verb == "v":  # %+v and %#v are struct/Go-syntax forms, not signs
                if printer.sharp and isinstance(args[arg_num], str):
                    printer.sharp, verb = False, "q"
                printer.plus = printer.sharp = False
            printer.print_arg(args[arg_num], verb)
            arg_num += 1
    if not reordered and arg_num < len(args):
        printer.clear()
        buf.append("%!(EXTRA ")
        for n, arg in enumerate(args[arg_num:]):
            buf.append(", " if n else "")
            if arg is None:
                buf.append("<nil>")
            else:
                buf.append(type_name(arg) + "=")
                printer.print_arg(arg, "v")
        buf.append(")")
    return "".join(buf)


def sprint(args: Sequence[object]) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    printer = _Printer()
    previous_string = False
    for n, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if n and not is_string and not previous_string:
            printer.buf.append(" ")
        printer.print_arg(arg, "v")
        previous_string = is_string
    return "".join(printer.buf)


def sprintln(args: Sequence[object]) -> str:
    """``fmt.Sprintln``: operands always separated by a space, and a newline."""
    printer = _Printer()
    for n, arg in enumerate(args):
        printer.buf.append(" " if n else "")
        printer.print_arg(arg, "v")
    return "".join(printer.buf) + "\n"
