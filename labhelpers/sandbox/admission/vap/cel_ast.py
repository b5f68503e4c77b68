"""The parsed form of a CEL expression, shaped like cel-go's AST after macro expansion.

Every node keeps ``pos``, the 0-based code-point offset cel-go reports for it (the operator token of a call,
the ``.`` of a selection, the ``(`` of a function call), so checker errors point where cel-go's do.

:class:`Renderer` turns a checked tree back into CEL text that celpy's own grammar accepts: syntax celpy lacks
(optional selection and indexing, ``cel.bind``, namespaced functions) becomes calls the evaluator in
:mod:`.cel_eval` provides, and literals become named constants, so celpy never has to agree with cel-go's
lexer about escapes or number spellings.
"""

from __future__ import annotations

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

# Names the evaluator provides (not CEL identifiers anyone can type: checked expressions cannot reach them).
OPT_SELECT = "__opt_select__"
OPT_INDEX = "__opt_index__"
OPT_LIST = "__opt_list__"
OPT_MAP = "__opt_map__"
OPT_MACRO = "__opt_macro__"
BIND = "__bind__"

_BINARY = {
    "_||_": "||", "_&&_": "&&", "_==_": "==", "_!=_": "!=", "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">=",
    "@in": "in", "_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%",
}


def mangle(qualified: str) -> str:
    """The celpy function name for a namespaced CEL function (``optional.of`` -> ``__optional_dot_of``)."""
    return "__" + qualified.replace(".", "_dot_")


class Renderer:
    """Renders a tree as celpy-parsable text; literals become ``__kN__`` constants supplied at run time."""

    def __init__(self) -> None:
        self.constants: dict[str, tuple[str, object]] = {}

    def const(self, kind: str, value: object) -> str:
        name = f"__k{len(self.constants)}__"
        self.constants[name] = (kind, value)
        return name

    def render(self, e: Expr) -> str:
        if isinstance(e, Ident):
            return e.name.lstrip(".")
        if isinstance(e, Literal):
            if e.kind == "bool":
                return "true" if e.value else "false"
            if e.kind == "null":
                return "null"
            return self.const(e.kind, e.value)
        if isinstance(e, Select):
            if e.optional:
                return f"{OPT_SELECT}({self.render(e.operand)}, {self.const('string', e.field)})"
            return f"{self.target(e.operand)}.{e.field}"
        if isinstance(e, Has):
            return f"has({self.target(e.select.operand)}.{e.select.field})"
        if isinstance(e, Call):
            return self.call(e)
        if isinstance(e, ListLit):
            items = ", ".join(self.render(x) for x in e.elems)
            if any(e.optional):
                flags = ", ".join("true" if o else "false" for o in e.optional)
                return f"{OPT_LIST}([{items}], [{flags}])"
            return f"[{items}]"
        if isinstance(e, MapLit):
            if any(opt for _, _, opt in e.entries):
                keys = ", ".join(self.render(k) for k, _, _ in e.entries)
                vals = ", ".join(self.render(v) for _, v, _ in e.entries)
                flags = ", ".join("true" if o else "false" for _, _, o in e.entries)
                return f"{OPT_MAP}([{keys}], [{vals}], [{flags}])"
            return "{" + ", ".join(f"{self.render(k)}: {self.render(v)}" for k, v, _ in e.entries) + "}"
        if isinstance(e, Comprehension):
            target = self.target(e.target)
            if e.macro in ("optMap", "optFlatMap"):
                return f"{target}.{OPT_MACRO}({e.var}, {self.render(e.body)}, {'true' if e.macro == 'optMap' else 'false'})"
            if e.filter is not None:
                return f"{target}.map({e.var}, {self.render(e.filter)}, {self.render(e.body)})"
            return f"{target}.{e.macro}({e.var}, {self.render(e.body)})"
        if isinstance(e, Bind):
            return f"{BIND}({e.var}, {self.render(e.init)}, {self.render(e.body)})"
        raise ValueError(f"cannot evaluate {type(e).__name__}")

    def target(self, e: Expr) -> str:
        text = self.render(e)
        simple = isinstance(e, Ident | Select | Has | Comprehension) or (
            isinstance(e, Call) and e.function not in _BINARY and e.function not in ("_?_:_", "!_", "-_"))
        return text if simple else f"({text})"

    def call(self, e: Call) -> str:
        fn, args = e.function, e.args
        if e.target is None and fn in _BINARY:
            return f"({self.render(args[0])} {_BINARY[fn]} {self.render(args[1])})"
        if fn == "_?_:_":
            return f"({self.render(args[0])} ? {self.render(args[1])} : {self.render(args[2])})"
        if fn == "!_":
            return f"(!{self.target(args[0])})"
        if fn == "-_":
            return f"(-{self.target(args[0])})"
        if fn == "_[_]":
            return f"{self.target(args[0])}[{self.render(args[1])}]"
        if fn == "_[?_]":
            return f"{OPT_INDEX}({self.render(args[0])}, {self.render(args[1])})"
        rendered = ", ".join(self.render(a) for a in args)
        if e.target is not None:
            return f"{self.target(e.target)}.{fn}({rendered})"
        if "." in fn:
            return f"{mangle(fn)}({rendered})"
        return f"{fn}({rendered})"


def qualified_name(e: Expr) -> str | None:
    """``a.b.c`` for an identifier path, else None."""
    if isinstance(e, Ident):
        return e.name
    if isinstance(e, Select) and not e.optional:
        prefix = qualified_name(e.operand)
        return f"{prefix}.{e.field}" if prefix else None
    return None
