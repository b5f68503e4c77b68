"""CEL lexing and parsing with cel-go's error messages.

cel-go parses with an ANTLR grammar, so a malformed expression is reported the ANTLR way
(``Syntax error: mismatched input '<EOF>' expecting {...}``, ``missing ')' at '<EOF>'``,
``token recognition error at: '$'``). This module reproduces that wording for the first error with a small
recursive-descent parser over cel-go's token vocabulary (vocabulary order decides how expected-token sets are
listed), and builds the :mod:`.cel_ast` tree with cel-go's node positions. Its error recovery follows ANTLR's
single-token deletion and insertion; anything that would need ANTLR's full re-synchronisation stops at the
first error, which is what users read first anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import cel_ast as ast

# cel-go's lexer vocabulary, in token-type order (expected sets are printed in this order).
VOCAB = [
    "==", "!=", "in", "<", "<=", ">=", ">", "&&", "||", "[", "]", "{", "}", "(", ")", ".", ",", "-", "!", "?",
    ":", "+", "*", "/", "%", "true", "false", "null", "WHITESPACE", "COMMENT", "NUM_FLOAT", "NUM_INT",
    "NUM_UINT", "STRING", "BYTES", "IDENTIFIER",
]
_ORDER = {k: i for i, k in enumerate(VOCAB)}
_SYMBOLIC = {"NUM_FLOAT", "NUM_INT", "NUM_UINT", "STRING", "BYTES", "IDENTIFIER"}
EOF = "EOF"

EXPR_START = frozenset({"[", "{", "(", ".", "-", "!", "true", "false", "null", "NUM_FLOAT", "NUM_INT", "NUM_UINT",
                        "STRING", "BYTES", "IDENTIFIER"})
_MEMBER_START = EXPR_START - {"!"}
_AFTER_OPERAND = frozenset({"==", "!=", "in", "<", "<=", ">=", ">", "&&", "||", "[", ".", "-", "?", "+", "*",
                            "/", "%"})
_RELOPS = {"==": "_==_", "!=": "_!=_", "in": "@in", "<": "_<_", "<=": "_<=_", ">=": "_>=_", ">": "_>_"}
RESERVED = frozenset({"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let",
                      "loop", "package", "namespace", "return", "var", "void", "while"})

_FIXED = sorted((k for k in VOCAB[:28] if not k.isalpha()), key=len, reverse=True)
_KEYWORDS = {"in", "true", "false", "null"}
_ESC = r"""\\(?:[abfnrtv"'\\?`]|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[xX][0-9a-fA-F]{2}|[0-3][0-7]{2})"""
_STRING_RES = [
    re.compile(r"[rR]?'''[\s\S]*?'''" if raw else rf"'''(?:{_ESC}|[^\\])*?'''") for raw in (True, False)
] + [
    re.compile(r'[rR]?"""[\s\S]*?"""' if raw else rf'"""(?:{_ESC}|[^\\])*?"""') for raw in (True, False)
] + [
    re.compile(rf"'(?:{_ESC}|[^\\'\n\r])*'"), re.compile(rf'"(?:{_ESC}|[^\\"\n\r])*"'),
    re.compile(r"[rR]'[^'\n\r]*'"), re.compile(r'[rR]"[^"\n\r]*"'),
]
_NUM_RES = [
    ("NUM_FLOAT", re.compile(r"[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+|\.[0-9]+(?:[eE][+-]?[0-9]+)?")),
    ("NUM_UINT", re.compile(r"0x[0-9a-fA-F]+[uU]|[0-9]+[uU]")),
    ("NUM_INT", re.compile(r"0x[0-9a-fA-F]+|[0-9]+")),
]
_IDENT_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_WS_RE = re.compile(r"[\t \r\n\f]+")
_HEX = set("0123456789abcdefABCDEF")


@dataclass
class Token:
    kind: str
    text: str
    pos: int


@dataclass
class Issue:
    pos: int
    message: str


class SyntaxIssues(Exception):
    """Parse errors; ``str()`` is the cel-go ``Issues.String()`` rendering."""

    def __init__(self, source: str, issues: list[Issue]):
        super().__init__(format_issues(source, issues))
        self.source = source
        self.issues = issues


# --- error display (cel-go common.Error.ToDisplayString) ---

def _line_col(source: str, pos: int) -> tuple[int, int]:
    line = source.count("\n", 0, pos) + 1
    start = source.rfind("\n", 0, pos) + 1
    return line, pos - start


def format_issue(source: str, issue: Issue) -> str:
    line, col = _line_col(source, issue.pos)
    text = f"ERROR: <input>:{line}:{col + 1}: {issue.message}"
    lines = source.split("\n")
    if 0 < line <= len(lines):
        snippet = lines[line - 1].replace("\t", " ")
        indicator = "".join("\uff0e" if len(ch.encode()) > 1 else "." for ch in snippet[:col])
        at = snippet[col:col + 1]
        indicator += "\uff3e" if at and len(at.encode()) > 1 else "^"
        text += "\n | " + snippet + "\n | " + indicator
    return text


def format_issues(source: str, issues: list[Issue]) -> str:
    ordered = sorted(issues, key=lambda i: _line_col(source, i.pos))
    return "\n".join(format_issue(source, i) for i in ordered)


# --- lexer ---

def _string_end(s: str, i: int) -> int | None:
    best = None
    for rx in _STRING_RES:
        m = rx.match(s, i)
        if m and (best is None or m.end() > best):
            best = m.end()
    return best


def _scan_quoted_fail(s: str, i: int) -> int:
    """Where cel-go's lexer gives up on an unterminated or badly escaped string starting at ``i``."""
    j = i
    if s[j] in "rR":
        j += 1
    raw = j > i
    quote = s[j]
    worst = j + 1
    for triple in (False, True):
        if triple and s[j:j + 3] != quote * 3:
            continue
        k = j + (3 if triple else 1)
        while k < len(s):
            ch = s[k]
            if triple and s[k:k + 3] == quote * 3:
                break
            if not triple and ch == quote:
                break
            if not triple and ch in "\r\n":
                break
            if ch == "\\" and not raw:
                m = re.compile(_ESC).match(s, k)
                if not m:
                    # the lexer consumed the backslash and fails on the next character
                    k = k + 1
                    if k < len(s) and s[k] in "uUxX":
                        k += 1
                        while k < len(s) and s[k] in _HEX:
                            k += 1
                    elif k < len(s) and s[k] in "0123":
                        k += 1
                        while k < len(s) and s[k] in "01234567":
                            k += 1
                    break
                k = m.end()
                continue
            k += 1
        worst = max(worst, k)
    return worst


def tokenize(s: str) -> tuple[list[Token], list[Issue]]:
    """cel-go's lexer: longest match, hidden whitespace/comments, ANTLR recovery on unknown input."""
    tokens: list[Token] = []
    issues: list[Issue] = []
    i = 0
    while i < len(s):
        best: tuple[int, str] | None = None  # (end, kind)

        def offer(end: int | None, kind: str, start: int = i) -> None:
            nonlocal best
            if end is not None and end > start and (best is None or end > best[0]):
                best = (end, kind)

        m = _WS_RE.match(s, i)
        offer(m.end() if m else None, "WHITESPACE")
        if s.startswith("//", i):
            nl = s.find("\n", i)
            offer(len(s) if nl < 0 else nl, "COMMENT")
        for op in _FIXED:
            if s.startswith(op, i):
                offer(i + len(op), op)
                break
        for kind, rx in _NUM_RES:
            m = rx.match(s, i)
            offer(m.end() if m else None, kind)
        if s[i] in "'\"" or (s[i] in "rR" and s[i + 1:i + 2] in ("'", '"')):
            offer(_string_end(s, i), "STRING")
        if s[i] in "bB":
            end = _string_end(s, i + 1) if s[i + 1:i + 2] in ("'", '"', "r", "R") else None
            offer(end, "BYTES")
        m = _IDENT_RE.match(s, i)
        if m:
            word = m.group(0)
            offer(m.end(), word if word in _KEYWORDS else "IDENTIFIER")
        if best is not None:
            end, kind = best
            if kind not in ("WHITESPACE", "COMMENT"):
                tokens.append(Token(kind, s[i:end], i))
            i = end
            continue
        # No token matches: ANTLR reports the text up to (and including) the character it failed on.
        ch = s[i]
        if ch in "=&|":
            fail = i + 1
        elif ch in "'\"" or ch in "rR":
            fail = _scan_quoted_fail(s, i)
        else:
            fail = i
        issues.append(Issue(i, "Syntax error: token recognition error at: '" + _escape_display(s[i:fail + 1]) + "'"))
        i = min(fail + 1, len(s))
    tokens.append(Token(EOF, "", len(s)))
    return tokens, issues


def _escape_display(text: str) -> str:
    return text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def _display(tok: Token) -> str:
    return "'<EOF>'" if tok.kind == EOF else "'" + _escape_display(tok.text) + "'"


def _expecting(kinds: frozenset[str] | set[str]) -> str:
    names = sorted(kinds, key=lambda k: _ORDER.get(k, 99))
    shown = ["<EOF>" if k == EOF else (k if k in _SYMBOLIC else f"'{k}'") for k in names]
    return shown[0] if len(shown) == 1 else "{" + ", ".join(shown) + "}"


# --- literals ---

_SIMPLE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "'": "'",
               "\\": "\\", "?": "?", "`": "`"}


def _unescape(body: str, as_bytes: bool) -> str | bytes:
    out: list[int] | list[str] = [] if as_bytes else []  # type: ignore[assignment]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            if as_bytes:
                out.extend(ch.encode())  # type: ignore[arg-type]
            else:
                out.append(ch)  # type: ignore[arg-type]
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESC:
            val, i = _SIMPLE_ESC[nxt], i + 2
            if as_bytes:
                out.extend(val.encode())  # type: ignore[arg-type]
            else:
                out.append(val)  # type: ignore[arg-type]
            continue
        if nxt in "xX":
            code, i = int(body[i + 2:i + 4], 16), i + 4
        elif nxt == "u":
            code, i = int(body[i + 2:i + 6], 16), i + 6
        elif nxt == "U":
            code, i = int(body[i + 2:i + 10], 16), i + 10
        else:
            code, i = int(body[i + 1:i + 4], 8), i + 4
        if as_bytes and nxt not in "uU":
            out.append(code)  # type: ignore[arg-type]
        elif as_bytes:
            out.extend(chr(code).encode())  # type: ignore[arg-type]
        else:
            out.append(chr(code))  # type: ignore[arg-type]
    return bytes(out) if as_bytes else "".join(out)  # type: ignore[arg-type]


def _string_literal(text: str, as_bytes: bool) -> str | bytes:
    raw = text[:1] in "rR"
    if raw:
        text = text[1:]
    q = 3 if text[:3] in ("'''", '"""') else 1
    body = text[q:-q]
    if raw:
        return body.encode() if as_bytes else body
    return _unescape(body, as_bytes)


# --- parser ---

class _Abort(Exception):
    pass


class Parser:
    """Recursive descent over cel-go's grammar (CEL.g4) with ANTLR's first-error behaviour."""

    def __init__(self, source: str):
        self.source = source
        self.tokens, self.issues = tokenize(source)
        self.i = 0
        # What may follow an expression in each enclosing construct (innermost last).
        self.follow: list[frozenset[str]] = [frozenset({EOF})]

    # token helpers
    def la(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k - 1, len(self.tokens) - 1)]

    def consume(self) -> Token:
        tok = self.la()
        if tok.kind != EOF:
            self.i += 1
        return tok

    def error(self, tok: Token, message: str) -> None:
        self.issues.append(Issue(tok.pos, message))

    def syntax(self, tok: Token, message: str) -> None:
        self.error(tok, "Syntax error: " + message)

    def expect(self, kind: str) -> Token | None:
        """ANTLR ``match``: single-token deletion, then insertion, else a fatal mismatch."""
        tok = self.la()
        if tok.kind == kind:
            return self.consume()
        expected = frozenset({kind})
        if tok.kind != EOF and self.la(2).kind == kind:
            self.syntax(tok, f"extraneous input {_display(tok)} expecting {_expecting(expected)}")
            self.consume()
            return self.consume()
        if kind != EOF and tok.kind in self._follow_after(kind):
            self.syntax(tok, f"missing {_expecting(expected)} at {_display(tok)}")
            return None
        self.syntax(tok, f"mismatched input {_display(tok)} expecting {_expecting(expected)}")
        raise _Abort

    def _follow_after(self, kind: str) -> frozenset[str]:
        if kind == ":":
            return EXPR_START
        return _AFTER_OPERAND | self.follow[-1]

    def expr_start(self, extra: frozenset[str] = frozenset()) -> None:
        """The sync ANTLR runs where an expression must begin."""
        tok = self.la()
        allowed = EXPR_START | extra
        if tok.kind in allowed:
            return
        if tok.kind != EOF and self.la(2).kind in allowed:
            self.syntax(tok, f"extraneous input {_display(tok)} expecting {_expecting(allowed)}")
            self.consume()
            return
        self.syntax(tok, f"mismatched input {_display(tok)} expecting {_expecting(allowed)}")
        if tok.kind != EOF and self.la(2).kind == EOF:
            eof = self.la(2)
            self.syntax(eof, f"mismatched input '<EOF>' expecting {_expecting(allowed)}")
        raise _Abort

    def nested(self, follow: set[str] | frozenset[str]):
        parser = self

        class _Ctx:
            def __enter__(self) -> None:
                parser.follow.append(frozenset(follow))

            def __exit__(self, *exc: object) -> None:
                parser.follow.pop()

        return _Ctx()

    # grammar
    def parse(self) -> ast.Expr | None:
        try:
            e = self.expr()
            self.expect(EOF)
            return e
        except _Abort:
            return None

    def expr(self) -> ast.Expr:
        cond = self.cond_or()
        if self.la().kind != "?":
            return cond
        op = self.consume()
        with self.nested({":"}):
            then = self.cond_or()
        self.expect(":")
        other = self.expr()
        return ast.Call(op.pos, "_?_:_", [cond, then, other])

    def cond_or(self) -> ast.Expr:
        e = self.cond_and()
        while self.la().kind == "||":
            op = self.consume()
            e = ast.Call(op.pos, "_||_", [e, self.cond_and()])
        return e

    def cond_and(self) -> ast.Expr:
        e = self.relation()
        while self.la().kind == "&&":
            op = self.consume()
            e = ast.Call(op.pos, "_&&_", [e, self.relation()])
        return e

    def relation(self) -> ast.Expr:
        e = self.additive()
        while self.la().kind in _RELOPS:
            op = self.consume()
            e = ast.Call(op.pos, _RELOPS[op.kind], [e, self.additive()])
        return e

    def additive(self) -> ast.Expr:
        e = self.multiplicative()
        while self.la().kind in ("+", "-"):
            op = self.consume()
            e = ast.Call(op.pos, "_+_" if op.kind == "+" else "_-_", [e, self.multiplicative()])
        return e

    def multiplicative(self) -> ast.Expr:
        e = self.unary()
        while self.la().kind in ("*", "/", "%"):
            op = self.consume()
            e = ast.Call(op.pos, {"*": "_*_", "/": "_/_", "%": "_%_"}[op.kind], [e, self.unary()])
        return e

    def unary(self, extra: frozenset[str] = frozenset()) -> ast.Expr:
        self.expr_start(extra)
        tok = self.la()
        if tok.kind == "!":
            ops = []
            while self.la().kind == "!":
                ops.append(self.consume())
            self.expr_start()
            target = self.member()
            return ast.Call(ops[0].pos, "!_", [target]) if len(ops) % 2 else target
        if tok.kind == "-" and self.la(2).kind not in ("NUM_INT", "NUM_FLOAT"):
            ops = []
            while self.la().kind == "-" and self.la(2).kind not in ("NUM_INT", "NUM_FLOAT"):
                ops.append(self.consume())
                nxt = self.la()
                if nxt.kind not in _MEMBER_START:
                    text = "-" + ("" if nxt.kind == EOF else nxt.text)
                    self.syntax(nxt, f"no viable alternative at input '{_escape_display(text)}'")
                    if nxt.kind == EOF:
                        self.syntax(nxt, f"mismatched input '<EOF>' expecting {_expecting(EXPR_START)}")
                    raise _Abort
            target = self.member()
            return ast.Call(ops[0].pos, "-_", [target]) if len(ops) % 2 else target
        return self.member()

    def member(self) -> ast.Expr:
        e = self.primary()
        while True:
            tok = self.la()
            if tok.kind == ".":
                e = self.select_or_call(e)
            elif tok.kind == "[":
                open_ = self.consume()
                optional = False
                if self.la().kind == "?":
                    self.consume()
                    optional = True
                with self.nested({"]"}):
                    index = self.expr()
                self.expect("]")
                e = ast.Call(open_.pos, "_[?_]" if optional else "_[_]", [e, index])
            else:
                return e

    def select_or_call(self, operand: ast.Expr) -> ast.Expr:
        dot = self.consume()
        optional = self.la().kind == "?" and self.la(2).kind == "IDENTIFIER"
        if optional:
            self.consume()
        name = self.la()
        if name.kind != "IDENTIFIER":
            text = "." + ("?" if optional else "") + ("" if name.kind == EOF else name.text)
            self.syntax(name, f"no viable alternative at input '{_escape_display(text)}'")
            raise _Abort
        self.consume()
        if not optional and self.la().kind == "(":
            open_ = self.consume()
            args = self.call_args()
            return self.make_member_call(operand, name.text, args, open_.pos)
        return ast.Select(dot.pos, operand, name.text, optional)

    def call_args(self) -> list[ast.Expr]:
        args: list[ast.Expr] = []
        with self.nested({",", ")"}):
            if self.la().kind != ")":
                args.append(self.expr_in_list(frozenset({")"})))
                while self.la().kind == ",":
                    self.consume()
                    args.append(self.expr_in_list())
        self.expect(")")
        return args

    def expr_in_list(self, extra: frozenset[str] = frozenset()) -> ast.Expr:
        self.expr_start(extra)
        return self.expr()

    def primary(self) -> ast.Expr:
        tok = self.la()
        kind = tok.kind
        if kind == "IDENTIFIER" or (kind == "." and self.la(2).kind == "IDENTIFIER"):
            leading = ""
            if kind == ".":
                self.consume()
                leading = "."
            ident = self.consume()
            if ident.text in RESERVED:
                self.error(ident, f"reserved identifier: {ident.text}")
            name = leading + ident.text
            if self.la().kind == "(":
                open_ = self.consume()
                args = self.call_args()
                return self.make_global_call(name, args, open_.pos)
            if self.la().kind == "{":
                return self.struct(ident, name)
            return ast.Ident(tok.pos if not leading else ident.pos, name)
        if kind == ".":
            self.consume()
            nxt = self.la()
            text = "." + ("" if nxt.kind == EOF else nxt.text)
            self.syntax(nxt, f"no viable alternative at input '{_escape_display(text)}'")
            raise _Abort
        if kind == "(":
            self.consume()
            with self.nested({")"}):
                e = self.expr()
            self.expect(")")
            return e
        if kind == "[":
            return self.list_literal()
        if kind == "{":
            return self.map_literal()
        return self.literal()

    def list_literal(self) -> ast.Expr:
        open_ = self.consume()
        elems: list[ast.Expr] = []
        optional: list[bool] = []
        closing = frozenset({"]", ","})
        with self.nested(closing):
            if self.la().kind not in ("]", ","):
                self.opt_expr(elems, optional, closing)
                while self.la().kind == "," and self.la(2).kind != "]":
                    self.consume()
                    self.opt_expr(elems, optional)
            if self.la().kind == ",":
                self.consume()
        self.expect("]")
        return ast.ListLit(open_.pos, elems, optional)

    def opt_expr(self, out: list[ast.Expr], flags: list[bool], extra: frozenset[str] = frozenset()) -> None:
        if self.la().kind == "?":
            self.consume()
            flags.append(True)
            out.append(self.expr_in_list())
            return
        flags.append(False)
        out.append(self.expr_in_list(extra))

    def map_literal(self) -> ast.Expr:
        open_ = self.consume()
        entries: list[tuple[ast.Expr, ast.Expr, bool]] = []
        closing = frozenset({"}", ","})
        with self.nested(closing):
            if self.la().kind not in ("}", ","):
                entries.append(self.map_entry(closing))
                while self.la().kind == "," and self.la(2).kind != "}":
                    self.consume()
                    entries.append(self.map_entry())
            if self.la().kind == ",":
                self.consume()
        self.expect("}")
        return ast.MapLit(open_.pos, entries)

    def map_entry(self, extra: frozenset[str] = frozenset()) -> tuple[ast.Expr, ast.Expr, bool]:
        keys: list[ast.Expr] = []
        flags: list[bool] = []
        with self.nested({":"}):
            self.opt_expr(keys, flags, extra)
        self.expect(":")
        value = self.expr_in_list()
        return keys[0], value, flags[0]

    def struct(self, ident: Token, name: str) -> ast.Expr:
        open_ = self.consume()
        fields: list[tuple[str, ast.Expr]] = []
        allowed = frozenset({"}", ",", "IDENTIFIER"})
        tok = self.la()
        if tok.kind not in allowed:
            if tok.kind != EOF and self.la(2).kind in allowed:
                self.syntax(tok, f"extraneous input {_display(tok)} expecting {_expecting(allowed)}")
                self.consume()
            else:
                self.syntax(tok, f"mismatched input {_display(tok)} expecting {_expecting(allowed)}")
                raise _Abort
        with self.nested({"}", ","}):
            while self.la().kind == "IDENTIFIER":
                fname = self.consume()
                self.expect(":")
                fields.append((fname.text, self.expr_in_list()))
                if self.la().kind != ",":
                    break
                self.consume()
        self.expect("}")
        return ast.StructLit(open_.pos, name, fields)

    def literal(self) -> ast.Expr:
        tok = self.consume()
        kind = tok.kind
        sign = ""
        if kind == "-":
            sign = "-"
            tok2 = self.consume()
            kind, text = tok2.kind, tok2.text
        else:
            text = tok.text
        if kind == "NUM_INT":
            value = int(text, 16) if text.startswith("0x") else int(text)
            value = -value if sign else value
            if not -(1 << 63) <= value < (1 << 63):
                self.error(tok, "invalid int literal")
            return ast.Literal(tok.pos, "int", value)
        if kind == "NUM_UINT":
            body = text[:-1]
            value = int(body, 16) if body.startswith("0x") else int(body)
            if value >= 1 << 64:
                self.error(tok, "invalid uint literal")
            return ast.Literal(tok.pos, "uint", value)
        if kind == "NUM_FLOAT":
            return ast.Literal(tok.pos, "double", float(sign + text))
        if kind == "STRING":
            return ast.Literal(tok.pos, "string", _string_literal(text, False))
        if kind == "BYTES":
            return ast.Literal(tok.pos, "bytes", _string_literal(text[1:], True))
        if kind in ("true", "false"):
            return ast.Literal(tok.pos, "bool", kind == "true")
        if kind == "null":
            return ast.Literal(tok.pos, "null", None)
        # expr_start() already vetted the token; reaching here means an unexpected shape (e.g. "-" "x").
        self.syntax(tok, f"mismatched input {_display(tok)} expecting {_expecting(EXPR_START)}")
        raise _Abort

    # macros (cel-go parser/macro.go)
    def make_global_call(self, name: str, args: list[ast.Expr], pos: int) -> ast.Expr:
        if name == "has" and len(args) == 1:
            arg = args[0]
            if isinstance(arg, ast.Select) and not arg.optional:
                return ast.Has(pos, arg)
            self.issues.append(Issue(arg.pos, "invalid argument to has() macro"))
            return ast.Call(pos, name, args)
        return ast.Call(pos, name, args)

    def make_member_call(self, target: ast.Expr, name: str, args: list[ast.Expr], pos: int) -> ast.Expr:
        if name in ("all", "exists", "exists_one") and len(args) == 2:
            if not isinstance(args[0], ast.Ident):
                self.issues.append(Issue(args[0].pos, "argument must be a simple name"))
                return ast.Call(pos, name, args, target)
            return ast.Comprehension(pos, name, target, args[0].name, args[1])
        if (name == "map" and len(args) in (2, 3)) or (name == "filter" and len(args) == 2):
            if not isinstance(args[0], ast.Ident):
                self.issues.append(Issue(args[0].pos, "argument is not an identifier"))
                return ast.Call(pos, name, args, target)
            if len(args) == 3:
                return ast.Comprehension(pos, name, target, args[0].name, args[2], filter=args[1])
            return ast.Comprehension(pos, name, target, args[0].name, args[1])
        if name in ("optMap", "optFlatMap") and len(args) == 2:
            if not isinstance(args[0], ast.Ident):
                self.issues.append(Issue(args[0].pos, f"{name}() variable name must be a simple identifier"))
                return ast.Call(pos, name, args, target)
            return ast.Comprehension(pos, name, target, args[0].name, args[1])
        if name == "bind" and len(args) == 3 and isinstance(target, ast.Ident) and target.name == "cel":
            if not isinstance(args[0], ast.Ident):
                self.issues.append(Issue(args[0].pos, "cel.bind() variable names must be simple identifiers"))
                return ast.Call(pos, name, args, target)
            return ast.Bind(pos, args[0].name, args[1], args[2])
        return ast.Call(pos, name, args, target)


def parse(source: str) -> ast.Expr:
    """Parse ``source`` or raise :class:`SyntaxIssues` carrying cel-go's messages."""
    p = Parser(source)
    tree = p.parse()
    if p.issues or tree is None:
        raise SyntaxIssues(source, p.issues)
    return tree
