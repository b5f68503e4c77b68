"""The error Go's ``json.Unmarshal(data, &map[string]interface{}{})`` returns, byte for byte.

kube-apiserver validates ``.dockercfg`` / ``.dockerconfigjson`` Secrets with exactly that call and puts the error
text into the 422 response, so students see e.g. ``invalid character 'b' looking for beginning of value``.
Python's json module words its errors differently and accepts NaN, so this is a port of the state machine in Go's
encoding/json/scanner.go (syntax check) plus the top-level type check done by the decoder.
"""

from __future__ import annotations

import unicodedata

_SPACE = b" \t\r\n"

# parse states
_OBJ_KEY, _OBJ_VALUE, _ARR_VALUE = range(3)


class _SyntaxError(Exception):
    pass


def _quote_char(c: int) -> str:
    """encoding/json quoteChar: the offending byte as Go prints it inside single quotes."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    ch = chr(c)  # Go converts the byte to a rune, i.e. Latin-1
    simple = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 92: "\\\\"}
    if c in simple:
        return f"'{simple[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    cat = unicodedata.category(ch)
    if ch == " " or cat[0] in "LMNPS":
        return f"'{ch}'"
    return f"'\\u{c:04x}'"


class _Scanner:
    """A byte-at-a-time port of Go's JSON scanner; states are bound methods like Go's step funcs."""

    def __init__(self) -> None:
        self.step = self.begin_value
        self.parse: list[int] = []
        self.end_top = False

    def fail(self, c: int, context: str) -> None:
        raise _SyntaxError(f"invalid character {_quote_char(c)} {context}")

    # values
    def begin_value_or_empty(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord("]"):
            self.end_value(c)
            return
        self.begin_value(c)

    def begin_value(self, c: int) -> None:
        if c in _SPACE:
            return
        ch = chr(c)
        if ch == "{":
            self.step = self.begin_string_or_empty
            self.parse.append(_OBJ_KEY)
        elif ch == "[":
            self.step = self.begin_value_or_empty
            self.parse.append(_ARR_VALUE)
        elif ch == '"':
            self.step = self.in_string
        elif ch == "-":
            self.step = self.neg
        elif ch == "0":
            self.step = self.zero
        elif ch == "t":
            self.step = self._literal("true", 1)
        elif ch == "f":
            self.step = self._literal("false", 1)
        elif ch == "n":
            self.step = self._literal("null", 1)
        elif "1" <= ch <= "9":
            self.step = self.one
        else:
            self.fail(c, "looking for beginning of value")

    def begin_string_or_empty(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord("}"):
            self.parse[-1] = _OBJ_VALUE
            self.end_value(c)
            return
        self.begin_string(c)

    def begin_string(self, c: int) -> None:
        if c in _SPACE:
            return
        if c == ord('"'):
            self.step = self.in_string
            return
        self.fail(c, "looking for beginning of object key string")

    def end_value(self, c: int) -> None:
        if not self.parse:
            self.step = self.end_top_state
            self.end_top = True
            self.end_top_state(c)
            return
        if c in _SPACE:
            self.step = self.end_value
            return
        ps = self.parse[-1]
        if ps == _OBJ_KEY:
            if c == ord(":"):
                self.parse[-1] = _OBJ_VALUE
                self.step = self.begin_value
                return
            self.fail(c, "after object key")
        elif ps == _OBJ_VALUE:
            if c == ord(","):
                self.parse[-1] = _OBJ_KEY
                self.step = self.begin_string
                return
            if c == ord("}"):
                self._pop()
                return
            self.fail(c, "after object key:value pair")
        else:
            if c == ord(","):
                self.step = self.begin_value
                return
            if c == ord("]"):
                self._pop()
                return
            self.fail(c, "after array element")

    def _pop(self) -> None:
        self.parse.pop()
        if not self.parse:
            self.step = self.end_top_state
            self.end_top = True
        else:
            self.step = self.end_value

    def end_top_state(self, c: int) -> None:
        if c not in _SPACE:
            self.fail(c, "after top-level value")

    # strings
    def in_string(self, c: int) -> None:
        if c == ord('"'):
            self.step = self.end_value
        elif c == ord("\\"):
            self.step = self.in_string_esc
        elif c < 0x20:
            self.fail(c, "in string literal")

    def in_string_esc(self, c: int) -> None:
        if chr(c) in 'bfnrt\\/"':
            self.step = self.in_string
        elif c == ord("u"):
            self.step = self._hex(3)
        else:
            self.fail(c, "in string escape code")

    def _hex(self, remaining: int):
        def state(c: int) -> None:
            if chr(c) in "0123456789abcdefABCDEF":
                self.step = self._hex(remaining - 1) if remaining else self.in_string
            else:
                self.fail(c, "in \\u hexadecimal character escape")
        return state

    # numbers
    def neg(self, c: int) -> None:
        if c == ord("0"):
            self.step = self.zero
        elif ord("1") <= c <= ord("9"):
            self.step = self.one
        else:
            self.fail(c, "in numeric literal")

    def one(self, c: int) -> None:
        if ord("0") <= c <= ord("9"):
            return
        self.zero(c)

    def zero(self, c: int) -> None:
        if c == ord("."):
            self.step = self.dot
        elif c in (ord("e"), ord("E")):
            self.step = self.exp
        else:
            self.end_value(c)

    def dot(self, c: int) -> None:
        if ord("0") <= c <= ord("9"):
            self.step = self.dot0
        else:
            self.fail(c, "after decimal point in numeric literal")

    def dot0(self, c: int) -> None:
        if ord("0") <= c <= ord("9"):
            return
        if c in (ord("e"), ord("E")):
            self.step = self.exp
        else:
            self.end_value(c)

    def exp(self, c: int) -> None:
        if c in (ord("+"), ord("-")):
            self.step = self.exp_sign
            return
        self.exp_sign(c)

    def exp_sign(self, c: int) -> None:
        if ord("0") <= c <= ord("9"):
            self.step = self.exp0
        else:
            self.fail(c, "in exponent of numeric literal")

    def exp0(self, c: int) -> None:
        if ord("0") <= c <= ord("9"):
            return
        self.end_value(c)

    # true / false / null
    def _literal(self, word: str, pos: int):
        def state(c: int) -> None:
            if c == ord(word[pos]):
                self.step = self._literal(word, pos + 1) if pos + 1 < len(word) else self.end_value
            else:
                self.fail(c, f"in literal {word} (expecting {_quote_char(ord(word[pos]))})")
        return state


def _syntax_error(data: bytes) -> str | None:
    s = _Scanner()
    try:
        for c in data:
            s.step(c)
        if s.end_top:
            return None
        s.step(ord(" "))  # Go's scanner.eof feeds one space to flush numbers and literals
        if s.end_top:
            return None
    except _SyntaxError as e:
        return str(e)
    return "unexpected end of JSON input"


def unmarshal_map_error(data: bytes) -> str | None:
    """The error text of Go's ``json.Unmarshal(data, &map[string]interface{}{})``, or None when it succeeds."""
    err = _syntax_error(data)
    if err is not None:
        return err
    first = data.lstrip(_SPACE)[:1]
    kind = {b"[": "array", b'"': "string", b"t": "bool", b"f": "bool"}.get(first)
    if kind is None and first not in (b"{", b"n"):
        kind = "number"
    if kind is not None:
        return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    return None
