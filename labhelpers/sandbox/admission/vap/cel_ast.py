"""The parsed form of a CEL expression, shaped like cel-go's AST after macro expansion.

Every node keeps ``pos``, the 0-based code-point offset cel-go reports for it (the operator token of a call,
the ``.`` of a selection, the ``(`` of a function call), so checker errors point where cel-go's do.

:func:`render` turns a tree back into CEL text that celpy's own grammar accepts: the syntax celpy lacks
(optional selection and indexing, ``cel.bind``) becomes calls the evaluator in :mod:`.cel_eval` understands,
and literals are re-spelled with plain escapes, so celpy never has to agree with cel-go's lexer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field


@dataclass
class Expr:
    pos: int


@dataclass
class Ident(Expr):
    name: str


@dataclass
class Literal(Expr):
    kind: str  # int | uint | double | string | bytes | bool | null
    value: object


@dataclass
class Select(Expr):
    operand: Expr
    field: str
    optional: bool = False


@dataclass
class Call(Expr):
    function: str
    args: list[Expr]
    target: Expr | None = None


@dataclass
class ListLit(Expr):
    elems: list[Expr]
    optional: list[bool] = field(default_factory=list)


@dataclass
class MapLit(Expr):
    entries: list[tuple[Expr, Expr, bool]]  # key, value, optional entry


@dataclass
class StructLit(Expr):
    type_name: str
    fields: list[tuple[str, Expr]]


@dataclass
class Has(Expr):
    select: Select


@dataclass
class Comprehension(Expr):
    """A quantifier or transform macro: ``target.all(var, body)``, ``map(var, [filter,] body)``."""

    macro: str  # all | exists | exists_one | map | filter | optMap | optFlatMap
    target: Expr
    var: str
    body: Expr
    filter: Expr | None = None


@dataclass
class Bind(Expr):
    """``cel.bind(var, init, body)`` (ext.Bindings)."""

    var: str
    init: Expr
    body: Expr


# --- rendering for celpy ---

# Names the evaluator intercepts (not CEL identifiers anyone can type: they start with an underscore pair).
OPT_SELECT = "__opt_select__"
OPT_INDEX = "__opt_index__"
OPT_LIST = "__opt_list__"
OPT_MAP = "__opt_map__"
BIND = "__bind__"
OPT_MACRO = "__opt_macro__"
QUALIFIED = "__qualified__"

_BINARY = {
    "_||_": "||", "_&&_": "&&", "_==_": "==", "_!=_": "!=", "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">=",
    "@in": "in", "_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%",
}


def _string(s: str) -> str:
    # JSON escapes are a subset of CEL's; celpy's string token accepts them.
    return json.dumps(s, ensure_ascii=False)


def _bytes(b: bytes) -> str:
    return 'b"' + "".join(f"\\x{c:02x}" for c in b) + '"'


def _double(v: float) -> str:
    if math.isinf(v) or math.isnan(v):
        return f'double("{"NaN" if math.isnan(v) else ("-" if v < 0 else "") + "Infinity"}")'
    text = repr(float(v))
    return text if ("." in text or "e" in text) else text + ".0"


def render(e: Expr) -> str:
    """CEL source for ``e`` in the dialect celpy's grammar parses (fully parenthesised)."""
    if isinstance(e, Ident):
        return e.name
    if isinstance(e, Literal):
        if e.kind == "int":
            return str(e.value) if int(e.value) >= 0 else f"({e.value})"  # type: ignore[call-overload]
        if e.kind == "uint":
            return f"{e.value}u"
        if e.kind == "double":
            return f"({_double(float(e.value))})"  # type: ignore[arg-type]
        if e.kind == "string":
            return _string(str(e.value))
        if e.kind == "bytes":
            return _bytes(bytes(e.value))  # type: ignore[call-overload]
        if e.kind == "bool":
            return "true" if e.value else "false"
        return "null"
    if isinstance(e, Select):
        if e.optional:
            return f"{OPT_SELECT}({render(e.operand)}, {_string(e.field)})"
        return f"{render(e.operand)}.{e.field}"
    if isinstance(e, Has):
        return f"has({render(e.select)})"
    if isinstance(e, Call):
        return _render_call(e)
    if isinstance(e, ListLit):
        if any(e.optional):
            flags = ", ".join("true" if o else "false" for o in e.optional)
            return f"{OPT_LIST}([{', '.join(render(x) for x in e.elems)}], [{flags}])"
        return "[" + ", ".join(render(x) for x in e.elems) + "]"
    if isinstance(e, MapLit):
        if any(opt for _, _, opt in e.entries):
            keys = ", ".join(render(k) for k, _, _ in e.entries)
            vals = ", ".join(render(v) for _, v, _ in e.entries)
            flags = ", ".join("true" if o else "false" for _, _, o in e.entries)
            return f"{OPT_MAP}([{keys}], [{vals}], [{flags}])"
        return "{" + ", ".join(f"{render(k)}: {render(v)}" for k, v, _ in e.entries) + "}"
    if isinstance(e, Comprehension):
        if e.macro in ("optMap", "optFlatMap"):
            return f"{render_target(e.target)}.{OPT_MACRO}({e.var}, {render(e.body)}, {_string(e.macro)})"
        if e.macro == "map" and e.filter is not None:
            return f"{render_target(e.target)}.map({e.var}, {render(e.filter)}, {render(e.body)})"
        return f"{render_target(e.target)}.{e.macro}({e.var}, {render(e.body)})"
    if isinstance(e, Bind):
        return f"{BIND}({e.var}, {render(e.init)}, {render(e.body)})"
    if isinstance(e, StructLit):
        raise ValueError(f"message construction {e.type_name}{{...}} is not supported")
    raise TypeError(f"unknown node {e!r}")


def render_target(e: Expr) -> str:
    text = render(e)
    return text if isinstance(e, Ident | Select | Call) and not text.startswith("(") else f"({text})"


def _render_call(e: Call) -> str:
    fn, args = e.function, e.args
    if fn in _BINARY and len(args) == 2 and e.target is None:
        return f"({render(args[0])} {_BINARY[fn]} {render(args[1])})"
    if fn == "_?_:_":
        return f"({render(args[0])} ? {render(args[1])} : {render(args[2])})"
    if fn == "!_":
        return f"(!{render(args[0])})"
    if fn == "-_":
        return f"(-{render(args[0])})"
    if fn == "_[_]":
        return f"{render_target(args[0])}[{render(args[1])}]"
    if fn == "_[?_]":
        return f"{OPT_INDEX}({render(args[0])}, {render(args[1])})"
    rendered = ", ".join(render(a) for a in args)
    if e.target is not None:
        return f"{render_target(e.target)}.{fn}({rendered})"
    if "." in fn:
        # Namespaced functions (optional.of, sets.contains, strings.quote): one call celpy can resolve.
        return f"{QUALIFIED}({_string(fn)}{', ' if rendered else ''}{rendered})"
    return f"{fn}({rendered})"
