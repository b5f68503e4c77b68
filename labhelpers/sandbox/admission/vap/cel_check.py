"""cel-go's type checker, reduced to what admission expressions need.

It infers a type for every node (``dyn`` for anything reached through ``object``/``params``), resolves
overloads with type parameters the way cel-go does, and reports cel-go's messages: ``undeclared reference to
'x' (in container '')``, ``undefined field 'x'``, ``found no matching overload for '_+_' applied to
'(int, string)'``. The result type is what kube-apiserver compares with the required one
(``must evaluate to bool but got dyn``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import cel_ast as ast
from .cel_decls import Overload, functions, object_fields
from .cel_syntax import Issue
from .cel_types import (
    BOOL,
    BYTES,
    DOUBLE,
    DYN,
    ERROR,
    INT,
    NULL,
    STRING,
    UINT,
    Type,
    is_dyn_or_error,
    list_of,
    map_of,
    optional_of,
    param,
)

_LITERAL_TYPES = {"int": INT, "uint": UINT, "double": DOUBLE, "string": STRING, "bytes": BYTES, "bool": BOOL,
                  "null": NULL}
_NULLABLE = ("object", "dyn", "error", "optional")


@dataclass
class Declarations:
    """Variables (possibly dotted names such as ``authorizer.requestResource``) and extra object types."""

    variables: dict[str, Type]
    objects: dict[str, dict[str, Type]] = field(default_factory=dict)


class Checker:
    def __init__(self, decls: Declarations):
        self.decls = decls
        self.objects = {**object_fields(), **decls.objects}
        self.functions = functions()
        self.issues: list[Issue] = []
        self.mapping: dict[str, Type] = {}
        self.scopes: list[dict[str, Type]] = []
        self._fresh = 0

    # --- public ---

    def check(self, e: ast.Expr) -> Type:
        """The expression's output type with unresolved type parameters widened to ``dyn``."""
        return self.substitute(self.visit(e), to_dyn=True)

    # --- type variables ---

    def fresh(self) -> Type:
        self._fresh += 1
        return param(f"_var{self._fresh}")

    def substitute(self, t: Type, to_dyn: bool = False, mapping: dict[str, Type] | None = None) -> Type:
        m = self.mapping if mapping is None else mapping
        if t.kind == "param":
            if t.name in m:
                return self.substitute(m[t.name], to_dyn, m)
            return DYN if to_dyn else t
        if t.params:
            return Type(t.kind, tuple(self.substitute(p, to_dyn, m) for p in t.params), t.name)
        return t

    def _occurs(self, name: str, t: Type, m: dict[str, Type]) -> bool:
        t = self.substitute(t, mapping=m)
        if t.kind == "param":
            return t.name == name
        return any(self._occurs(name, p, m) for p in t.params)

    def assignable(self, target: Type, source: Type, m: dict[str, Type]) -> bool:
        """cel-go internalIsAssignable: may bind type parameters in ``m``."""
        target = self.substitute(target, mapping=m)
        source = self.substitute(source, mapping=m)
        if target.kind == "param":
            if source.kind == "param" and source.name == target.name:
                return True
            if self._occurs(target.name, source, m):
                return False
            m[target.name] = source
            return True
        if source.kind == "param":
            if self._occurs(source.name, target, m):
                return False
            m[source.name] = target
            return True
        if is_dyn_or_error(target) or is_dyn_or_error(source):
            return True
        if target.kind == "null":
            return source.kind in _NULLABLE or source.kind == "null"
        if source.kind == "null":
            return target.kind in _NULLABLE
        if target.kind != source.kind or target.name != source.name or len(target.params) != len(source.params):
            return False
        return all(self.assignable(a, b, m) for a, b in zip(target.params, source.params, strict=True))

    def join(self, previous: Type | None, current: Type) -> Type:
        if previous is None:
            return current
        m = dict(self.mapping)
        if self.assignable(previous, current, m):
            self.mapping = m
            return previous
        return DYN

    # --- errors ---

    def error(self, pos: int, message: str) -> Type:
        self.issues.append(Issue(pos, message))
        return ERROR

    # --- visitors ---

    def visit(self, e: ast.Expr) -> Type:
        method = getattr(self, "visit_" + type(e).__name__)
        return method(e)

    def visit_Literal(self, e: ast.Literal) -> Type:
        return _LITERAL_TYPES[e.kind]

    def lookup_ident(self, name: str) -> Type | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return self.decls.variables.get(name)

    def visit_Ident(self, e: ast.Ident) -> Type:
        t = self.lookup_ident(e.name.lstrip("."))
        if t is None:
            return self.error(e.pos, f"undeclared reference to '{e.name}' (in container '')")
        return t

    def visit_Select(self, e: ast.Select) -> Type:
        if not e.optional:
            qname = ast.qualified_name(e)
            if qname and "." in qname and not any(qname.split(".")[0] in s for s in self.scopes):
                t = self.decls.variables.get(qname)
                if t is not None:
                    return t
        operand = self.visit(e.operand)
        return self.select_field(e.pos, operand, e.field, e.optional)

    def select_field(self, pos: int, operand: Type, name: str, optional: bool) -> Type:
        operand = self.substitute(operand)
        wrap = optional
        if operand.kind == "optional":
            operand = self.substitute(operand.params[0])
            wrap = True
        if operand.kind == "error":
            return ERROR
        if operand.kind in ("dyn", "param"):
            result = DYN
        elif operand.kind == "map":
            result = operand.params[1]
        elif operand.kind == "object" and operand.name in self.objects:
            fields = self.objects[operand.name]
            if name not in fields:
                return self.error(pos, f"undefined field '{name}'")
            result = fields[name]
        else:
            return self.error(pos, f"type '{operand}' does not support field selection")
        return optional_of(result) if wrap else result

    def visit_Has(self, e: ast.Has) -> Type:
        operand = self.visit(e.select.operand)
        self.select_field(e.select.pos, operand, e.select.field, False)
        return BOOL

    def visit_ListLit(self, e: ast.ListLit) -> Type:
        elem: Type | None = None
        for item, opt in zip(e.elems, e.optional or [False] * len(e.elems), strict=True):
            t = self.visit(item)
            if opt:
                t = self._unwrap_optional(item.pos, t)
            elem = self.join(elem, t)
        return list_of(elem if elem is not None else self.fresh())

    def _unwrap_optional(self, pos: int, t: Type) -> Type:
        t = self.substitute(t)
        if t.kind == "optional":
            return t.params[0]
        if is_dyn_or_error(t):
            return t
        self.error(pos, f"expected type 'optional_type' but found '{t}'")
        return ERROR

    def visit_MapLit(self, e: ast.MapLit) -> Type:
        key: Type | None = None
        value: Type | None = None
        for k, v, opt in e.entries:
            key = self.join(key, self.visit(k))
            vt = self.visit(v)
            if opt:
                vt = self._unwrap_optional(v.pos, vt)
            value = self.join(value, vt)
        return map_of(key if key is not None else self.fresh(), value if value is not None else self.fresh())

    def visit_StructLit(self, e: ast.StructLit) -> Type:
        for _, v in e.fields:
            self.visit(v)
        return self.error(e.pos, f"undeclared reference to '{e.type_name}' (in container '')")

    def visit_Bind(self, e: ast.Bind) -> Type:
        init = self.visit(e.init)
        self.scopes.append({e.var: init})
        try:
            return self.visit(e.body)
        finally:
            self.scopes.pop()

    def visit_Comprehension(self, e: ast.Comprehension) -> Type:
        target = self.substitute(self.visit(e.target))
        if e.macro in ("optMap", "optFlatMap"):
            if target.kind == "optional":
                var_type = target.params[0]
            elif is_dyn_or_error(target):
                var_type = target
            else:
                self.error(e.target.pos, f"expected type 'optional_type' but found '{target}'")
                var_type = ERROR
        elif target.kind in ("list", "map"):
            var_type = target.params[0]  # a map ranges over its keys
        elif is_dyn_or_error(target) or target.kind == "param":
            var_type = DYN if target.kind == "param" else target
        else:
            self.error(e.target.pos, f"expression of type '{target}' cannot be range of a comprehension "
                                     "(must be list, map, or dynamic)")
            var_type = ERROR
        self.scopes.append({e.var: var_type})
        try:
            body = self.visit(e.body)
            cond = self.visit(e.filter) if e.filter is not None else None
        finally:
            self.scopes.pop()
        if e.macro == "all":
            self.resolve(e.pos, "_&&_", [BOOL, body], False)
            return BOOL
        if e.macro == "exists":
            self.resolve(e.pos, "_||_", [BOOL, body], False)
            return BOOL
        if e.macro == "exists_one":
            self.resolve(e.pos, "_?_:_", [body, INT, INT], False)
            return BOOL
        if e.macro == "filter":
            self.resolve(e.pos, "_?_:_", [body, list_of(var_type), list_of(var_type)], False)
            return list_of(var_type)
        if e.macro == "map":
            if cond is not None:
                self.resolve(e.pos, "_?_:_", [cond, list_of(body), list_of(body)], False)
            return list_of(body)
        if e.macro == "optMap":
            return optional_of(body)
        body = self.substitute(body)
        if body.kind != "optional" and not is_dyn_or_error(body):
            return self.error(e.body.pos, f"expected type 'optional_type' but found '{body}'")
        return body

    def visit_Call(self, e: ast.Call) -> Type:
        name = e.function
        if e.target is not None:
            prefix = ast.qualified_name(e.target)
            if prefix and self.lookup_ident(prefix.split(".")[0]) is None and f"{prefix}.{name}" in self.functions:
                # A namespaced global function (optional.of, sets.contains): rewrite the node as cel-go does.
                e.function, e.target = f"{prefix}.{name}", None
                args = [self.visit(a) for a in e.args]
                return self.resolve(e.pos, e.function, args, False)
            target = self.visit(e.target)
            args = [self.visit(a) for a in e.args]
            if name not in self.functions:
                return self.error(e.pos, f"undeclared reference to '{name}' (in container '')")
            return self.resolve(e.pos, name, [target, *args], True)
        args = [self.visit(a) for a in e.args]
        if name not in self.functions:
            return self.error(e.pos, f"undeclared reference to '{name}' (in container '')")
        return self.resolve(e.pos, name, args, False)

    def resolve(self, pos: int, name: str, args: list[Type], member: bool) -> Type:
        """cel-go resolveOverload: the first match decides the result; differing matches widen to dyn."""
        result: Type | None = None
        for ov in self.functions.get(name, ()):
            if ov.member != member or len(ov.args) != len(args):
                continue
            inst = self._instantiate(ov)
            m = dict(self.mapping)
            if all(self.assignable(p, a, m) for p, a in zip(inst.args, args, strict=True)):
                self.mapping = m
                candidate = self.substitute(inst.result)
                if result is None:
                    result = candidate
                elif result.kind != "dyn" and candidate != result:
                    result = DYN
        if result is None:
            shown = [str(self.substitute(a, to_dyn=True)) for a in args]
            sig = f"{shown[0]}.({', '.join(shown[1:])})" if member else f"({', '.join(shown)})"
            return self.error(pos, f"found no matching overload for '{name}' applied to '{sig}'")
        return result

    def _instantiate(self, ov: Overload) -> Overload:
        names: dict[str, Type] = {}

        def inst(t: Type) -> Type:
            if t.kind == "param":
                if t.name not in names:
                    names[t.name] = self.fresh()
                return names[t.name]
            if t.params:
                return Type(t.kind, tuple(inst(p) for p in t.params), t.name)
            return t

        return Overload(ov.member, tuple(inst(a) for a in ov.args), inst(ov.result))
