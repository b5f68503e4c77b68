"""Kyverno 1.15's ValidatingPolicy compiler and evaluator (``pkg/cel/policies/vpol/compiler``, ``.../engine``).

Compilation stops at the first bad expression, in the order match conditions, variables, validations, audit
annotations, and reports it as one ``field.Error``: ``spec.validations[0].expression: Invalid value:
"<expr>": ERROR: <input>:1:5: ...``. Evaluation gives one rule result per policy, with an empty rule name:

* every validation true: ``pass`` (``success``); a match condition false: ``skip`` (``skip``);
* the first false validation: ``fail`` with its ``messageExpression`` result, else its ``message`` (possibly
  empty), and the audit annotations as properties;
* an evaluation error, or a match condition error under ``failurePolicy: Fail``: ``error`` named
  ``evaluation``, ``failed to load context: <cel error>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...apiserver import validation_common as vc
from ...apiserver.errors import FieldError
from . import vpol
from . import vpol_cel as cel
from .results import RuleResult, RuleStatus


class PolicyCompileError(ValueError):
    """The policy does not compile; ``errors`` is the field.ErrorList (one entry, as Kyverno stops there)."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class Validation:
    expression: str
    program: cel.Program
    message: str = ""
    message_program: cel.Program | None = None


@dataclass
class CompiledPolicy:
    """One compiled spec: the policy itself or one of its autogen variants (same name and actions)."""

    name: str
    constraints: dict[str, Any] | None
    failure_policy: str
    json_mode: bool = False
    match_conditions: list[cel.Program] = field(default_factory=list)
    variables: dict[str, cel.Program] = field(default_factory=dict)
    validations: list[Validation] = field(default_factory=list)
    audit_annotations: dict[str, cel.Program] = field(default_factory=dict)


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _compile(path: str, expression: str, variables: tuple, result: tuple | None, json_mode: bool) -> cel.Program:
    try:
        return cel.compile_expression(expression, variables, result, json_mode)
    except cel.CompileError as e:
        raise PolicyCompileError([vc.invalid(path, expression, e.detail)]) from None


def compile_spec(policy_name: str, spec: Mapping[str, Any], failure_policy: str = "Fail") -> CompiledPolicy:
    """``compileForKubernetes`` / ``compileForJSON``; raises :class:`PolicyCompileError`."""
    json_mode = (spec.get("evaluation") or {}).get("mode") == "JSON" if isinstance(spec.get("evaluation"), dict) \
        else False
    mc = spec.get("matchConstraints")
    out = CompiledPolicy(policy_name, mc if isinstance(mc, dict) else None, failure_policy, json_mode)
    for i, c in enumerate(spec.get("matchConditions") or []):
        out.match_conditions.append(_compile(f"spec.matchConditions[{i}].expression", _s(c.get("expression")), (),
                                             cel.BOOL_RESULT, json_mode))
    fields: list[tuple[str, Any]] = []
    for i, v in enumerate(spec.get("variables") or []):
        program = _compile(f"spec.variables[{i}].expression", _s(v.get("expression")), tuple(fields), None,
                           json_mode)
        out.variables[_s(v.get("name"))] = program
        fields.append((_s(v.get("name")), program.output_type))
    composition = tuple(fields)
    for i, v in enumerate(spec.get("validations") or []):
        path = f"spec.validations[{i}]"
        validation = Validation(_s(v.get("expression")),
                                _compile(f"{path}.expression", _s(v.get("expression")), composition,
                                         cel.BOOL_RESULT, json_mode), _s(v.get("message")))
        if _s(v.get("messageExpression")):
            validation.message_program = _compile(f"{path}.messageExpression", v["messageExpression"], composition,
                                                  cel.STRING_RESULT, json_mode)
        out.validations.append(validation)
    if not json_mode:
        for i, a in enumerate(spec.get("auditAnnotations") or []):
            out.audit_annotations[_s(a.get("key"))] = _compile(
                f"spec.auditAnnotations[{i}].valueExpression", _s(a.get("valueExpression")), composition,
                cel.AUDIT_RESULT, json_mode)
    return out


def compile_policy(obj: Mapping[str, Any]) -> list[CompiledPolicy]:
    """The policy and its autogen variants, as the policy reconciler caches them."""
    name = vpol.name(obj)
    failure = vpol.failure_policy(obj)
    compiled = [compile_spec(name, vpol.spec(obj), failure)]
    for config in vpol.autogen_configs(obj).values():
        compiled.append(compile_spec(name, config["spec"], failure))
    return compiled


def validate(obj: Mapping[str, Any]) -> list[FieldError]:
    """``vpol.Validate``: the compile errors Kyverno's policy webhook refuses a policy with."""
    try:
        compile_spec(vpol.name(obj), vpol.spec(obj), vpol.failure_policy(obj))
    except PolicyCompileError as e:
        return e.errors
    return []


# --- evaluation (compiler/policy.go, engine/engine.go) ---

@dataclass(frozen=True)
class Inputs:
    """The CEL values of one request: ``object``, ``oldObject``, ``request`` and ``namespaceObject``."""

    object: Any
    old_object: Any = None
    request: Any = None
    namespace: Any = None


@dataclass(frozen=True)
class Outcome:
    """The engine's rule response for one policy: ``rule`` is empty (or ``evaluation`` for errors)."""

    rule: str
    status: RuleStatus
    message: str
    properties: Mapping[str, str] = field(default_factory=dict)

    def rule_result(self, name: str | None = None) -> RuleResult:
        return RuleResult(self.rule if name is None else name, self.status, self.message)


def _error(err: str) -> Outcome:
    return Outcome("evaluation", RuleStatus.ERROR, f"failed to load context: {err}")


def _match(policy: CompiledPolicy, data: dict[str, Any]) -> tuple[bool, str | None]:
    """(matched, error) with Kyverno's rules: any false skips; errors count only under ``Fail``."""
    errors: list[str] = []
    for program in policy.match_conditions:
        try:
            value = cel.to_python(program.evaluate(data))
        except cel.EvalError as e:
            errors.append(e.message)
            continue
        if value is False:
            return False, None
    if not errors:
        return True, None
    if policy.failure_policy == "Ignore":
        return False, None
    return False, "; ".join(errors)


def _message(v: Validation, data: dict[str, Any]) -> str:
    if v.message_program is None:
        return v.message
    try:
        value = v.message_program.evaluate(data)
    except cel.EvalError as e:
        return f"failed to evaluate message expression: {e.message}"
    return str(cel.to_python(value))


def _audit_annotations(policy: CompiledPolicy, data: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, program in policy.audit_annotations.items():
        try:
            value = cel.to_python(program.evaluate(data))
        except cel.EvalError as e:
            raise ValueError(f"failed to evaluate auditAnnotation '{key}': {e.message}") from None
        if isinstance(value, str) and value:
            out[key] = value
    return out


def evaluate(policy: CompiledPolicy, inputs: Inputs) -> Outcome:
    """``Policy.Evaluate`` and the engine's rule response for a policy whose constraints matched."""
    data: dict[str, Any] = {"object": inputs.object}
    if not policy.json_mode:
        data.update(oldObject=inputs.old_object, request=inputs.request, namespaceObject=inputs.namespace)
    matched, error = _match(policy, data)
    if error is not None:
        return _error(error)
    if not matched:
        return Outcome("", RuleStatus.SKIP, "skip")
    data["variables"] = cel.lazy_variables(policy.variables, lambda: data)
    for v in policy.validations:
        try:
            value = cel.to_python(v.program.evaluate(data))
        except cel.EvalError as e:
            return _error(e.message)
        if value is False:
            try:
                annotations = _audit_annotations(policy, data)
            except ValueError as e:
                return _error(str(e))
            return Outcome("", RuleStatus.FAIL, _message(v, data), annotations)
    return Outcome("", RuleStatus.PASS, "success")
