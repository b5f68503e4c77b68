"""Evaluation on celpy: its parser and tree interpreter, with cel-go's macro and field semantics.

celpy interprets the text :class:`.cel_ast.Renderer` produces. The subclass below changes the parts where
celpy and cel-go disagree: field selection (``no such key: x`` errors, sticky optionals), ``has()``,
the quantifier macros (CEL's error absorption: ``all`` is false if any element is false, even when others
fail), and ``cel.bind``. Operators and functions come from :mod:`.cel_lib` through celpy's function table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import celpy
import lark
from celpy import celtypes as ct
from celpy.evaluation import CELEvalError

from . import cel_lib, cel_ops
from .cel_ast import BIND, OPT_INDEX, OPT_LIST, OPT_MACRO, OPT_MAP, OPT_SELECT, mangle
from .cel_values import NO_OVERLOAD, NONE, Optional, err, first_error

_MACROS = {"all", "exists", "exists_one", "map", "filter", OPT_MACRO}


def _ident_name(tree: lark.Tree) -> str:
    found = list(tree.find_data("ident"))
    return str(found[0].children[0]) if found else ""


def _descend(tree: lark.Tree, data: str) -> lark.Tree | None:
    """Follow single-child nodes down to the first ``data`` node (the select inside ``has(...)``)."""
    node: Any = tree
    while isinstance(node, lark.Tree):
        if node.data == data:
            return node
        if len(node.children) != 1:
            return None
        node = node.children[0]
    return None


class Evaluator(celpy.evaluation.Evaluator):
    def sub_evaluator(self, ast: lark.Tree) -> Evaluator:
        return Evaluator(ast, activation=self.activation)

    def _run(self, tree: lark.Tree, bindings: dict[str, Any]) -> Any:
        try:
            return self.sub_evaluator(tree).evaluate(bindings)
        except CELEvalError as e:
            return e

    def _call(self, name: str, args: list[Any]) -> Any:
        fn = self.activation.functions.get(name)
        if fn is None:
            return err(f"no such overload: {name}")
        return fn(*args)

    # --- identifiers and global calls ---

    def primary(self, tree: lark.Tree) -> Any:
        child = tree.children[0]
        if isinstance(child, lark.Tree) and child.data == "ident_arg":
            name = str(child.children[0])
            arg_trees = list(child.children[1].children) if len(child.children) > 1 else []
            if name == "has":
                return self._has(arg_trees[0])
            if name == BIND:
                init = self.visit(arg_trees[1])
                return self._run(arg_trees[2], {_ident_name(arg_trees[0]): init})
            return self._call(name, [self.visit(t) for t in arg_trees])
        if isinstance(child, lark.Tree) and child.data == "ident":
            name = str(child.children[0])
            try:
                return self.ident_value(name)
            except KeyError:
                return err(f"no such attribute(s): {name}")
        return super().primary(tree)

    def _has(self, arg: lark.Tree) -> Any:
        select = _descend(arg, "member_dot")
        if select is None:  # the parser only builds has() around a selection
            return err(NO_OVERLOAD)
        operand_tree, name = select.children
        return cel_ops.has_field(self.visit(operand_tree), str(name))

    # --- selection, methods and macros ---

    def member_dot(self, tree: lark.Tree) -> Any:
        operand_tree, name = tree.children
        return cel_ops.select(self.visit(operand_tree), str(name))

    def member_dot_arg(self, tree: lark.Tree) -> Any:
        member_tree, name_token = tree.children[:2]
        name = str(name_token)
        arg_trees = list(tree.children[2].children) if len(tree.children) > 2 else []
        if name in _MACROS:
            return self._macro(name, member_tree, arg_trees)
        receiver = self.visit(member_tree)
        if isinstance(receiver, CELEvalError):
            return receiver
        return self._call(name, [receiver, *(self.visit(t) for t in arg_trees)])

    def _macro(self, name: str, member_tree: lark.Tree, arg_trees: list[lark.Tree]) -> Any:
        target = self.visit(member_tree)
        if isinstance(target, CELEvalError):
            return target
        var = _ident_name(arg_trees[0])
        if name == OPT_MACRO:
            return self._opt_macro(target, var, arg_trees[1], self.visit(arg_trees[2]))
        if isinstance(target, ct.ListType):
            items = list(target)
        elif isinstance(target, ct.MapType):
            items = list(target.keys())
        else:
            return cel_ops.iteration_error(target)

        def each(tree: lark.Tree) -> Callable[[Any], Any]:
            return lambda v: self._run(tree, {var: v})

        if name == "all":
            return _quantify(map(each(arg_trees[1]), items), stop_on=False)
        if name == "exists":
            return _quantify(map(each(arg_trees[1]), items), stop_on=True)
        if name == "exists_one":
            count = 0
            for r in map(each(arg_trees[1]), items):
                if isinstance(r, CELEvalError):
                    return r
                if not isinstance(r, ct.BoolType):
                    return err(NO_OVERLOAD)
                count += bool(r)
            return ct.BoolType(count == 1)
        if name == "filter":
            kept = []
            for v in items:
                keep = self._run(arg_trees[1], {var: v})
                if isinstance(keep, CELEvalError):
                    return keep
                if not isinstance(keep, ct.BoolType):
                    return err(NO_OVERLOAD)
                if keep:
                    kept.append(v)
            return ct.ListType(kept)
        # map, optionally with a filter
        out = []
        for v in items:
            if len(arg_trees) == 3:
                keep = self._run(arg_trees[1], {var: v})
                if isinstance(keep, CELEvalError):
                    return keep
                if not isinstance(keep, ct.BoolType):
                    return err(NO_OVERLOAD)
                if not keep:
                    continue
            r = self._run(arg_trees[-1], {var: v})
            if isinstance(r, CELEvalError):
                return r
            out.append(r)
        return ct.ListType(out)

    def _opt_macro(self, target: Any, var: str, body: lark.Tree, is_map: Any) -> Any:
        if not isinstance(target, Optional):
            return err(NO_OVERLOAD)
        if not target.present:
            return NONE
        r = self._run(body, {var: target.value})
        if isinstance(r, CELEvalError) or not is_map:
            return r if isinstance(r, Optional | CELEvalError) else err(NO_OVERLOAD)
        return Optional(r, True)

    def mapinits(self, tree: lark.Tree) -> Any:
        values = self.visit_children(tree)
        e = first_error(*values)
        if e is not None:
            return e
        out = ct.MapType()
        for k, v in zip(values[0::2], values[1::2], strict=True):
            if cel_ops.map_find(out, k)[0]:
                return err(f"Failed with repeated key: {k}")
            out[k] = v
        return out


def _quantify(results: Any, stop_on: bool) -> Any:
    """CEL ``all`` (stop_on=False) / ``exists`` (stop_on=True): a decisive element wins over errors."""
    first_err: CELEvalError | None = None
    for r in results:
        if isinstance(r, ct.BoolType):
            if bool(r) == stop_on:
                return ct.BoolType(stop_on)
        elif first_err is None:
            first_err = r if isinstance(r, CELEvalError) else err(NO_OVERLOAD)
    return first_err if first_err is not None else ct.BoolType(not stop_on)


class Runner(celpy.Runner):
    """celpy's interpreted runner with our evaluator."""

    def evaluate(self, context: Any) -> Any:
        return Evaluator(ast=self.ast, activation=self.new_activation()).evaluate(context)


def _opt_list(values: Any, flags: Any) -> Any:
    e = first_error(values, flags)
    if e is not None:
        return e
    out = []
    for v, opt in zip(values, flags, strict=True):
        if opt:
            if not isinstance(v, Optional):
                return err(NO_OVERLOAD)
            if v.present:
                out.append(v.value)
        else:
            out.append(v)
    return ct.ListType(out)


def _opt_map(keys: Any, values: Any, flags: Any) -> Any:
    e = first_error(keys, values, flags)
    if e is not None:
        return e
    out = ct.MapType()
    for k, v, opt in zip(keys, values, flags, strict=True):
        if opt:
            if not isinstance(v, Optional):
                return err(NO_OVERLOAD)
            if not v.present:
                continue
            v = v.value
        out[k] = v
    return out


def runtime_functions() -> dict[str, Any]:
    fns = {}
    for name, fn in cel_lib.functions().items():
        fns[mangle(name) if "." in name else name] = fn
    fns[OPT_SELECT] = lambda operand, name: cel_ops.select(operand, str(name), optional=True)
    fns[OPT_INDEX] = lambda container, idx: cel_ops.index(container, idx, optional=True)
    fns[OPT_LIST] = _opt_list
    fns[OPT_MAP] = _opt_map
    return fns
