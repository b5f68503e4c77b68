"""The CEL environment of kube-apiserver's admission plug-ins, compiled the way cel-go compiles.

``compile_expression`` parses (cel-go's syntax errors), type-checks against the admission declarations
(``object``/``oldObject``/``params`` are ``dyn``; ``request``, ``namespaceObject``, ``authorizer`` and
``variables`` are typed) and checks the result type, raising :class:`CompileError` with the detail text
kube-apiserver puts in its 422 (``compilation failed: ERROR: <input>:1:5: ...``). The returned
:class:`Program` evaluates on celpy.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes as ct
from celpy.evaluation import CELEvalError

from . import cel_syntax
from .cel_ast import Renderer
from .cel_check import Checker, Declarations
from .cel_eval import Runner, runtime_functions
from .cel_syntax import format_issues
from .cel_types import (
    BOOL,
    DYN,
    Type,
    list_of,
    map_of,
    obj,
    type_of,
)
from .cel_values import LazyFields

log = logging.getLogger(__name__)

VARIABLES_TYPE = "kubernetes.variables"

# cel-go declares the type names as identifiers (``type(x) == string``).
_TYPE_IDENTS: dict[str, tuple[Type, Any]] = {
    "int": (type_of(Type("int")), ct.IntType), "uint": (type_of(Type("uint")), ct.UintType),
    "double": (type_of(Type("double")), ct.DoubleType), "bool": (type_of(Type("bool")), ct.BoolType),
    "string": (type_of(Type("string")), ct.StringType), "bytes": (type_of(Type("bytes")), ct.BytesType),
    "list": (type_of(list_of(DYN)), ct.ListType), "map": (type_of(map_of(DYN, DYN)), ct.MapType),
    "null_type": (type_of(Type("null")), type(None)),
}


class CompileError(Exception):
    """A compilation failure; ``detail`` is the text after ``Invalid value: "<expr>": ``."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class EvalError(Exception):
    """A run-time failure with cel-go's message (``no such key: spec``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class EnvOptions:
    """Which optional variables are declared (plugin/cel OptionalVariableDeclarations + composition)."""

    params: bool = False
    authorizer: bool = True
    # None: no composition (the ``variables`` identifier is undeclared); else the declared fields in order.
    variables: tuple[tuple[str, Type], ...] | None = None


def declarations(opts: EnvOptions) -> Declarations:
    variables: dict[str, Type] = {name: t for name, (t, _) in _TYPE_IDENTS.items()}
    variables.update({
        "object": DYN, "oldObject": DYN,
        "request": obj("kubernetes.AdmissionRequest"), "namespaceObject": obj("kubernetes.Namespace"),
    })
    if opts.params:
        variables["params"] = DYN
    if opts.authorizer:
        variables["authorizer"] = obj("kubernetes.authorization.Authorizer")
        variables["authorizer.requestResource"] = obj("kubernetes.authorization.ResourceCheck")
    objects: dict[str, dict[str, Type]] = {}
    if opts.variables is not None:
        variables["variables"] = obj(VARIABLES_TYPE)
        objects[VARIABLES_TYPE] = dict(opts.variables)
    return Declarations(variables, objects)


def variable_field_type(t: Type) -> Type:
    """convertCelTypeToDeclType: what a composited variable's type becomes as a field of ``variables``."""
    if t.kind in ("list", "map"):
        return Type(t.kind, tuple(variable_field_type(p) for p in t.params))
    if t.kind in ("int", "uint", "double", "bool", "string", "bytes", "null", "duration", "timestamp", "dyn"):
        return t
    return DYN


@dataclass
class Program:
    expression: str
    output_type: Type
    source: str  # the celpy rendering
    constants: dict[str, Any]
    _runner: Any = field(default=None, repr=False)

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        """The result as a celpy value; :class:`EvalError` carries cel-go's error text."""
        if self._runner is None:
            env = celpy.Environment(runner_class=Runner)
            self._runner = env.program(env.compile(self.source), functions=runtime_functions())
        context = dict(self.constants)
        context.update({name: cls for name, (_, cls) in _TYPE_IDENTS.items()})
        context.update(activation)
        try:
            return self._runner.evaluate(context)
        except CELEvalError as e:
            raise EvalError(str(e.args[0]) if e.args else "evaluation error") from e
        except RecursionError as e:
            raise EvalError("max recursion depth exceeded") from e
        except Exception as e:  # a gap in the library must fail this expression, not the request
            log.exception("CEL evaluation of %r failed", self.expression)
            raise EvalError(f"internal error: {e}") from e


def _constant(kind: str, value: Any) -> Any:
    return {"int": ct.IntType, "uint": ct.UintType, "double": ct.DoubleType, "string": ct.StringType,
            "bytes": ct.BytesType}[kind](value)


def _type_check_message(output: Type, result_types: tuple[Type, ...]) -> str | None:
    if any(output == rt for rt in result_types):
        return None
    if len(result_types) == 1:
        return f"must evaluate to {result_types[0]} but got {output}"
    return f"must evaluate to one of [{' '.join(str(t) for t in result_types)}] but got {output}"


@lru_cache(maxsize=512)
def compile_expression(expression: str, opts: EnvOptions = EnvOptions(),
                       result_types: tuple[Type, ...] | None = (BOOL,)) -> Program:
    """Compile like plugin/cel CompileCELExpression; ``result_types=None`` accepts any type (variables)."""
    try:
        tree = cel_syntax.parse(expression)
    except cel_syntax.SyntaxIssues as e:
        raise CompileError("compilation failed: " + str(e)) from None
    checker = Checker(declarations(opts))
    output = checker.check(tree)
    if checker.issues:
        raise CompileError("compilation failed: " + format_issues(expression, checker.issues))
    if result_types is not None:
        message = _type_check_message(output, result_types)
        if message:
            raise CompileError(message)
    renderer = Renderer()
    try:
        source = renderer.render(tree)
    except ValueError as e:
        raise CompileError(f"unexpected compilation error: {e}") from None
    constants = {name: _constant(kind, value) for name, (kind, value) in renderer.constants.items()}
    return Program(expression, output, source, constants)


# --- values for the activation ---

def to_cel(value: Any) -> Any:
    """A JSON value (object, oldObject, params) as celpy values; None stays CEL null."""
    return None if value is None else celpy.json_to_cel(value)


def _timestamp(text: Any) -> Any:
    if not text:
        return ct.TimestampType(datetime.datetime(1, 1, 1, tzinfo=datetime.UTC))
    return ct.TimestampType(str(text))


def namespace_value(namespace: Mapping[str, Any] | None) -> Any:
    """``namespaceObject``: the trimmed Namespace plugin/cel CreateNamespaceObject exposes, fully populated."""
    if namespace is None:
        return None
    meta = namespace.get("metadata") or {}
    spec = namespace.get("spec") or {}
    status = namespace.get("status") or {}
    value = {
        "metadata": {
            "name": meta.get("name", ""), "generateName": meta.get("generateName", ""),
            "namespace": meta.get("namespace", ""), "labels": meta.get("labels") or {},
            "annotations": meta.get("annotations") or {}, "UID": meta.get("uid", ""),
            "deletionGracePeriodSeconds": meta.get("deletionGracePeriodSeconds", 0),
            "generation": meta.get("generation", 0), "resourceVersion": meta.get("resourceVersion", ""),
            "finalizers": meta.get("finalizers") or [],
        },
        "spec": {"finalizers": spec.get("finalizers") or []},
        "status": {"phase": status.get("phase", ""), "conditions": [
            {k: c.get(k, "") for k in ("status", "type", "message", "reason")} for c in status.get("conditions") or []
        ]},
    }
    out = to_cel(value)
    out["metadata"][ct.StringType("creationTimestamp")] = _timestamp(meta.get("creationTimestamp"))
    out["metadata"][ct.StringType("deletionTimestamp")] = _timestamp(meta.get("deletionTimestamp"))
    for cond, src in zip(out["status"]["conditions"], status.get("conditions") or [], strict=True):
        cond[ct.StringType("lastTransitionTime")] = _timestamp(src.get("lastTransitionTime"))
    return out


def lazy_variables(programs: Mapping[str, Program | CompileError],
                   activation: Callable[[], Mapping[str, Any]]) -> LazyFields:
    """``variables`` for one evaluation: each one computed on first use with cel-go's composition errors."""

    def compute(name: str, program: Program | CompileError) -> Callable[[], Any]:
        def run() -> Any:
            if isinstance(program, CompileError):
                return CELEvalError(f'composited variable "{name}" fails to compile: {program.detail}')
            try:
                return program.evaluate(activation())
            except EvalError as e:
                return CELEvalError(f'composited variable "{name}" fails to evaluate: {e.message}')

        return run

    return LazyFields({name: compute(name, p) for name, p in programs.items()})


def type_name(value: Any) -> str:
    """The CEL type name of a run-time value (``int``, ``list``), as cel-go's ``Type()`` prints it."""
    for cls, name in ((ct.BoolType, "bool"), (ct.IntType, "int"), (ct.UintType, "uint"), (ct.DoubleType, "double"),
                      (ct.StringType, "string"), (ct.BytesType, "bytes"), (ct.ListType, "list"),
                      (ct.MapType, "map"), (ct.TimestampType, "google.protobuf.Timestamp"),
                      (ct.DurationType, "google.protobuf.Duration")):
        if isinstance(value, cls):
            return name
    return "null_type" if value is None else type(value).__name__
