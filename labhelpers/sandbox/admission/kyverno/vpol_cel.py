"""The CEL environment of Kyverno 1.15's ``ValidatingPolicy`` compiler, built on the admission CEL of :mod:`..vap`.

Kyverno (``pkg/cel/policies/vpol/compiler``) declares ``object``/``oldObject`` (dyn), ``request``,
``namespaceObject``, ``variables`` and its context libraries (``resource``, ``http``, ``globalContext``, and
``image`` for image data), but neither ``params`` nor ``authorizer``. Its messages differ from
kube-apiserver's: a compile error is cel-go's text without the ``compilation failed:`` prefix, and a wrong
result type reads ``output is expected to be of type bool``.

Implemented beyond Kubernetes CEL: the pure ``image`` library (``image('nginx:1.25').registry()``,
``isImage``, ``repository``/``identifier``/``tag``/``digest``/``containsDigest``). The context libraries
need a cluster client or the network (``resource.Get``, ``http.Get``, ...); a policy that calls one is refused
with a compile error saying so rather than accepted and left to fail at admission.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import celpy
from celpy import celtypes as ct
from celpy.evaluation import CELEvalError

from ....trust.names import parse_ggcr
from ..vap import cel as vcel
from ..vap import cel_ast as ast
from ..vap import cel_syntax
from ..vap.cel_check import Checker, Declarations
from ..vap.cel_decls import Overload, functions
from ..vap.cel_eval import Runner, runtime_functions
from ..vap.cel_types import BOOL, NULL, STRING, Type, obj, parse_type
from ..vap.cel_values import NO_OVERLOAD, LazyFields, err

IMAGE_TYPE = "kyverno.image"
# The context variables of Kyverno's libraries, with the object types cel-go names them by.
CONTEXT_LIBRARIES = {
    "globalContext": ("globalContext.Context", "globalcontext"),
    "http": ("http.Context", "http"),
    "image": ("imagedata.Context", "imagedata"),
    "resource": ("resource.Context", "resource"),
}
UNSUPPORTED = "is not available in the lab sandbox: Kyverno's {lib} library needs a cluster client or the network"
# Kyverno global functions the sandbox does not implement, with their library.
UNSUPPORTED_FUNCTIONS = {"parseServiceAccount": "user"}


# The same failures as the VAP engine's: ``detail`` is what Kyverno puts after ``Invalid value: "<expr>": ``,
# ``message`` is cel-go's run-time text (``no such key: initContainers``).
CompileError = vcel.CompileError
EvalError = vcel.EvalError


# --- the image library (pkg/cel/libs/image) ---

@dataclass(frozen=True)
class ImageRef:
    """A ``kyverno.image`` value: go-containerregistry's ``name.ParseReference`` of an image string."""

    image: str
    registry: str
    repository: str
    identifier: str
    tag: str = ""
    digest: str = ""


def parse_image(text: str) -> ImageRef:
    """``ConvertToImageRef(name.ParseReference(text))``; ValueError with ggcr's message when it is no image."""
    ref = parse_ggcr(text)
    return ImageRef(ref.name, ref.registry, ref.repository, ref.identifier, ref.tag, ref.digest)


def _image(arg: Any) -> Any:
    if not isinstance(arg, ct.StringType):
        return err(NO_OVERLOAD)
    try:
        return parse_image(str(arg))
    except ValueError as e:
        return err(str(e))


def _is_image(arg: Any) -> Any:
    if not isinstance(arg, ct.StringType):
        return err(NO_OVERLOAD)
    try:
        parse_image(str(arg))
    except ValueError:
        return ct.BoolType(False)
    return ct.BoolType(True)


def _image_getter(attr: str) -> Callable[[Any], Any]:
    def get(receiver: Any) -> Any:
        if not isinstance(receiver, ImageRef):
            return err(NO_OVERLOAD)
        return ct.StringType(getattr(receiver, attr))

    return get


def _contains_digest(receiver: Any) -> Any:
    return ct.BoolType(bool(receiver.digest)) if isinstance(receiver, ImageRef) else err(NO_OVERLOAD)


IMAGE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "image": _image, "isImage": _is_image, "containsDigest": _contains_digest,
    **{name: _image_getter(name) for name in ("registry", "repository", "identifier", "tag", "digest")},
}
_IMAGE_DECLS = {
    "image": f"string->{IMAGE_TYPE}", "isImage": "string->bool", "containsDigest": f"{IMAGE_TYPE}.()->bool",
    **{name: f"{IMAGE_TYPE}.()->string" for name in ("registry", "repository", "identifier", "tag", "digest")},
}


def _overload(sig: str) -> Overload:
    lhs, result = sig.rsplit("->", 1)
    if lhs.endswith(".()"):
        return Overload(True, (parse_type(lhs[:-3]),), parse_type(result))
    return Overload(False, (parse_type(lhs),), parse_type(result))


@cache
def kyverno_functions() -> dict[str, tuple[Overload, ...]]:
    """The admission function table plus the image library (its names are new to it, none is overridden)."""
    table = dict(functions())
    for name, sig in _IMAGE_DECLS.items():
        table[name] = (*table.get(name, ()), _overload(sig))
    return table


@cache
def _runtime() -> dict[str, Any]:
    return {**runtime_functions(), **IMAGE_FUNCTIONS}


# --- declarations and the checker ---

def declarations(variables: tuple[tuple[str, Type], ...], json_mode: bool = False) -> Declarations:
    """compileForKubernetes's variables (no ``params``, no ``authorizer``; ``variables`` always declared), or
    compileForJSON's: only ``object`` and ``variables`` (evaluation mode ``JSON``)."""
    decls = vcel.declarations(vcel.EnvOptions(params=False, authorizer=False, variables=variables))
    if json_mode:
        for name in ("oldObject", "request", "namespaceObject"):
            decls.variables.pop(name, None)
        return decls
    for name, (type_name, _) in CONTEXT_LIBRARIES.items():
        decls.variables[name] = obj(type_name)
    return decls


class KyvernoChecker(Checker):
    """The admission checker with Kyverno's function table; calls into context libraries are refused."""

    def __init__(self, decls: Declarations):
        super().__init__(decls)
        self.functions = kyverno_functions()

    def visit_Call(self, e: ast.Call) -> Type:
        target = e.target
        if isinstance(target, ast.Ident) and target.name in CONTEXT_LIBRARIES and not any(
                target.name in scope for scope in self.scopes):
            for a in e.args:
                self.visit(a)
            lib = CONTEXT_LIBRARIES[target.name][1]
            return self.error(e.pos, f"{target.name}.{e.function}() {UNSUPPORTED.format(lib=lib)}")
        if target is None and e.function in UNSUPPORTED_FUNCTIONS:
            for a in e.args:
                self.visit(a)
            lib = UNSUPPORTED_FUNCTIONS[e.function]
            return self.error(e.pos, f"{e.function}() is not available in the lab sandbox (Kyverno's {lib} library)")
        return super().visit_Call(e)


def _constant(kind: str, value: Any) -> Any:
    return {"int": ct.IntType, "uint": ct.UintType, "double": ct.DoubleType, "string": ct.StringType,
            "bytes": ct.BytesType}[kind](value)


@dataclass
class Program:
    """A compiled expression; :meth:`evaluate` returns a celpy value or raises :class:`EvalError`."""

    expression: str
    output_type: Type
    _inner: vcel.Program

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        return self._inner.evaluate(activation)


def _result_message(output: Type, result: tuple[Type, ...]) -> str | None:
    if any(output == t for t in result):
        return None
    if len(result) == 1:
        return f"output is expected to be of type {result[0]}"
    return f"output is expected to be either of type {result[0]} or {result[1]}"


@lru_cache(maxsize=1024)
def compile_expression(expression: str, variables: tuple[tuple[str, Type], ...] = (),
                       result: tuple[Type, ...] | None = (BOOL,), json_mode: bool = False) -> Program:
    """``env.Compile`` plus the output-type check of Kyverno's compiler (``result=None``: any type)."""
    try:
        tree = cel_syntax.parse(expression)
    except cel_syntax.SyntaxIssues as e:
        raise CompileError(str(e)) from None
    checker = KyvernoChecker(declarations(variables, json_mode))
    output = checker.check(tree)
    if checker.issues:
        raise CompileError(cel_syntax.format_issues(expression, checker.issues))
    if result is not None:
        message = _result_message(output, result)
        if message:
            raise CompileError(message)
    renderer = ast.Renderer()
    try:
        source = renderer.render(tree)
    except ValueError as e:
        raise CompileError(f"unexpected compilation error: {e}") from None
    constants = {name: _constant(kind, value) for name, (kind, value) in renderer.constants.items()}
    env = celpy.Environment(runner_class=Runner)
    runner = env.program(env.compile(source), functions=_runtime())
    return Program(expression, output, vcel.Program(expression, output, source, constants, runner))


BOOL_RESULT = (BOOL,)
STRING_RESULT = (STRING,)
AUDIT_RESULT = (STRING, NULL)


def lazy_variables(programs: Mapping[str, Program], activation: Callable[[], Mapping[str, Any]]) -> LazyFields:
    """Kyverno's ``lazy.MapValue``: a failing variable is the error itself (no composition wrapper)."""

    def compute(program: Program) -> Callable[[], Any]:
        def run() -> Any:
            try:
                return program.evaluate(activation())
            except EvalError as e:
                return CELEvalError(e.message)

        return run

    return LazyFields({name: compute(p) for name, p in programs.items()})


def to_python(value: Any) -> Any:
    """A celpy result as plain Python (for ``ConvertToNative[bool|string]``)."""
    if isinstance(value, ct.BoolType):
        return bool(value)
    if isinstance(value, ct.StringType):
        return str(value)
    return value
