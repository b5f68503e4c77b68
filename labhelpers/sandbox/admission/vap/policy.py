"""ValidatingAdmissionPolicy and its binding as API objects: defaulting, validation and compilation.

Defaults follow ``pkg/apis/admissionregistration/v1/defaults.go`` (failurePolicy ``Fail``, matchPolicy
``Equivalent``, empty selectors, rule scope ``*``). Validation follows ``validation.go``: field paths, wording
and order, including the CEL compile errors (``spec.validations[0].expression: Invalid value: "...":
compilation failed: ERROR: <input>:1:...``) and the binding's ``matchResouces`` typo. :func:`compile_policy`
produces what admission evaluates, with the same declarations the validation used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...apiserver import validation_common as vc
from ...apiserver.errors import FieldError, go_quote
from ...apiserver.resources import ResourceType
from . import cel
from .cel_types import BOOL, NULL, STRING, Type

GROUP = "admissionregistration.k8s.io"
POLICY = ResourceType(GROUP, "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", namespaced=False,
                      categories=("api-extensions",), subresources=("status",))
BINDING = ResourceType(GROUP, "v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings",
                       namespaced=False, categories=("api-extensions",))

FAILURE_POLICIES = ["Fail", "Ignore"]
MATCH_POLICIES = ["Equivalent", "Exact"]
OPERATIONS = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"]
SCOPES = ["*", "Cluster", "Namespaced"]
REASONS = ["Forbidden", "Invalid", "RequestEntityTooLarge"]
ACTIONS = ["Audit", "Deny", "Warn"]
MAX_MATCH_CONDITIONS = 64
MAX_AUDIT_ANNOTATIONS = 20
MAX_VALUE_EXPRESSION = 5 * 1024
_CEL_IDENT = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_CEL_RESERVED = {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function",
                 "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}


def _d(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v: Any) -> list:
    return v if isinstance(v, list) else []


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


# --- defaults ---

def _default_match_resources(mr: dict) -> None:
    mr.setdefault("namespaceSelector", {})
    mr.setdefault("objectSelector", {})
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in _l(mr.get(key)):
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
    mr.setdefault("matchPolicy", "Equivalent")


def default_policy(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if isinstance(spec.get("matchConstraints"), dict):
        _default_match_resources(spec["matchConstraints"])
    spec.setdefault("failurePolicy", "Fail")


def default_binding(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict) and isinstance(spec.get("matchResources"), dict):
        _default_match_resources(spec["matchResources"])


def _go_named_slice(type_name: str, items: list) -> vc.GoValue:
    """``%#v`` of a slice of a named string type from the internal admissionregistration package."""
    inner = ", ".join(go_quote(_s(x)) for x in items)
    return vc.GoValue(f"[]admissionregistration.{type_name}{{{inner}}}")


# --- rules and selectors ---

def _validate_resources(resources: list, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not resources:
        errs.append(vc.required(path))
    with_wildcard_sub: set[str] = set()
    with_wildcard_res: set[str] = set()
    double = single = plain = False
    for i, res_sub in enumerate(resources):
        res_sub = _s(res_sub)
        p = f"{path}[{i}]"
        if res_sub == "":
            errs.append(vc.required(p))
            continue
        double = double or res_sub == "*/*"
        single = single or res_sub == "*"
        res, slash, sub = res_sub.partition("/")
        if not slash:
            plain = res_sub != "*"
            continue
        if res in with_wildcard_sub:
            errs.append(vc.invalid(p, res_sub, f"if '{res}/*' is present, must not specify {res_sub}"))
        if sub in with_wildcard_res:
            errs.append(vc.invalid(p, res_sub, f"if '*/{sub}' is present, must not specify {res_sub}"))
        if sub == "*":
            with_wildcard_sub.add(res)
        if res == "*":
            with_wildcard_res.add(sub)
    shown = vc.GoValue(vc.go_string_slice([_s(r) for r in resources]))
    if len(resources) > 1 and double:
        errs.append(vc.invalid(path, shown, "if '*/*' is present, must not specify other resources"))
    if single and plain:
        errs.append(vc.invalid(path, shown, "if '*' is present, must not specify other resources without subresources"))
    return errs


def _validate_rule(rule: dict, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    ops = _l(rule.get("operations"))
    if not ops:
        errs.append(vc.required(f"{path}.operations"))
    if len(ops) > 1 and "*" in ops:
        errs.append(vc.invalid(f"{path}.operations", _go_named_slice("OperationType", ops),
                               "if '*' is present, must not specify other operations"))
    for i, op in enumerate(ops):
        if op not in OPERATIONS:
            errs.append(vc.not_supported(f"{path}.operations[{i}]", op, OPERATIONS))
    groups = _l(rule.get("apiGroups"))
    if not groups:
        errs.append(vc.required(f"{path}.apiGroups"))
    if len(groups) > 1 and "*" in groups:
        errs.append(vc.invalid(f"{path}.apiGroups", vc.GoValue(vc.go_string_slice(groups)),
                               "if '*' is present, must not specify other API groups"))
    versions = _l(rule.get("apiVersions"))
    if not versions:
        errs.append(vc.required(f"{path}.apiVersions"))
    if len(versions) > 1 and "*" in versions:
        errs.append(vc.invalid(f"{path}.apiVersions", vc.GoValue(vc.go_string_slice(versions)),
                               "if '*' is present, must not specify other API versions"))
    for i, v in enumerate(versions):
        if v == "":
            errs.append(vc.required(f"{path}.apiVersions[{i}]"))
    errs += _validate_resources(_l(rule.get("resources")), f"{path}.resources")
    scope = rule.get("scope")
    if scope is not None and scope not in SCOPES:
        errs.append(vc.not_supported(f"{path}.scope", scope, SCOPES))
    return errs


def _validate_named_rule(rule: dict, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, name in enumerate(_l(rule.get("resourceNames"))):
        p = f"{path}.resourceNames[{i}]"
        errs += [vc.invalid(p, name, m) for m in vc.is_valid_path_segment_name(_s(name))]
        if name in seen:
            errs.append(vc.duplicate(p, name))
        seen.add(name)
    return errs + _validate_rule(rule, path)


def _validate_match_resources(mr: Any, path: str) -> list[FieldError]:
    if mr is None:
        return []
    mr = _d(mr)
    errs: list[FieldError] = []
    if mr.get("matchPolicy") is None:
        errs.append(vc.required(f"{path}.matchPolicy"))
    elif mr["matchPolicy"] not in MATCH_POLICIES:
        errs.append(vc.not_supported(f"{path}.matchPolicy", mr["matchPolicy"], MATCH_POLICIES))
    for sel in ("namespaceSelector", "objectSelector"):
        if mr.get(sel) is None:
            errs.append(vc.required(f"{path}.{sel}"))
        else:
            errs += vc.validate_label_selector(_d(mr[sel]), f"{path}.{sel}")
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(_l(mr.get(key))):
            errs += _validate_named_rule(_d(rule), f"{path}.{key}[{i}]")
    return errs


# --- CEL fields ---

def _compile_error(path: str, expression: str, e: cel.CompileError) -> FieldError:
    return vc.invalid(path, expression, e.detail)


def _try_compile(path: str, expression: str, opts: cel.EnvOptions,
                 result: tuple[Type, ...] | None) -> tuple[cel.Program | None, list[FieldError]]:
    try:
        return cel.compile_expression(expression, opts, result), []
    except cel.CompileError as e:
        return None, [_compile_error(path, expression, e)]


def _has_newlines(s: str) -> bool:
    return bool(re.search(r"[\n\r]+", s))


def _is_cel_identifier(name: str) -> bool:
    return bool(_CEL_IDENT.fullmatch(name)) and name not in _CEL_RESERVED


def _validate_param_kind(pk: dict, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    api_version = _s(pk.get("apiVersion"))
    if not api_version:
        errs.append(vc.required(f"{path}.apiVersion"))
    elif api_version.count("/") > 1:
        errs.append(vc.invalid(f"{path}.apiVersion", api_version, f"unexpected GroupVersion string: {api_version}"))
    else:
        group, _, version = api_version.rpartition("/")
        if group:
            msgs = vc.is_dns1123_subdomain(group)
            if msgs:
                errs.append(vc.invalid(f"{path}.apiVersion", group, ",".join(msgs)))
        if not version:
            errs.append(vc.invalid(f"{path}.apiVersion", api_version, "version must be specified"))
        else:
            msgs = vc.is_dns1035_label(version)
            if msgs:
                errs.append(vc.invalid(f"{path}.apiVersion", version, ",".join(msgs)))
    kind = _s(pk.get("kind"))
    if not kind:
        errs.append(vc.required(f"{path}.kind"))
    else:
        msgs = vc.is_dns1035_label(kind.lower())
        if msgs:
            errs.append(vc.invalid(f"{path}.kind", kind, "may have mixed case, but should otherwise match: "
                                   + ",".join(msgs)))
    return errs


def _validate_match_conditions(conds: list, has_params: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(conds) > MAX_MATCH_CONDITIONS:
        errs.append(vc.too_many(path, len(conds), MAX_MATCH_CONDITIONS))
    names: set[str] = set()
    opts = cel.EnvOptions(params=has_params, authorizer=True)
    for i, mc in enumerate(conds):
        mc = _d(mc)
        p = f"{path}[{i}]"
        expression = _s(mc.get("expression")).strip()
        if not expression:
            errs.append(vc.required(f"{p}.expression"))
        else:
            errs += _try_compile(f"{p}.expression", expression, opts, (BOOL,))[1]
        name = _s(mc.get("name"))
        if not name:
            errs.append(vc.required(f"{p}.name"))
        else:
            errs += [vc.invalid(f"{p}.name", name, m) for m in vc.is_qualified_name(name)]
        if name:
            if name in names:
                errs.append(vc.duplicate(f"{p}.name", name))
            names.add(name)
    return errs


def validate_policy(obj: dict) -> list[FieldError]:
    """Spec errors of a ValidatingAdmissionPolicy (metadata is validated by the core, like ObjectMeta)."""
    spec = _d(obj.get("spec"))
    errs: list[FieldError] = []
    fp = spec.get("failurePolicy")
    if fp is None:
        errs.append(vc.required("spec.failurePolicy"))
    elif fp not in FAILURE_POLICIES:
        errs.append(vc.not_supported("spec.failurePolicy", fp, FAILURE_POLICIES))
    has_params = spec.get("paramKind") is not None
    if has_params:
        errs += _validate_param_kind(_d(spec["paramKind"]), "spec.paramKind")
    mc = spec.get("matchConstraints")
    if mc is None:
        errs.append(vc.required("spec.matchConstraints"))
    else:
        errs += _validate_match_resources(mc, "spec.matchConstraints")
        if not _l(_d(mc).get("resourceRules")):
            errs.append(vc.required("spec.matchConstraints.resourceRules"))
    errs += _validate_match_conditions(_l(spec.get("matchConditions")), has_params, "spec.matchConditions")
    fields: list[tuple[str, Type]] = []
    variables = _l(spec.get("variables"))
    for i, var in enumerate(variables):
        var = _d(var)
        p = f"spec.variables[{i}]"
        name = _s(var.get("name"))
        if not name.strip():
            errs.append(vc.required(f"{p}.name", "name is not specified"))
        elif not _is_cel_identifier(name):
            errs.append(vc.invalid(f"{p}.name", name, "name is not a valid CEL identifier"))
        expression = _s(var.get("expression"))
        opts = cel.EnvOptions(params=has_params, authorizer=True, variables=tuple(fields))
        var_type = cel.DYN
        if not expression.strip():
            errs.append(vc.required(f"{p}.expression", "expression is not specified"))
        else:
            program, e = _try_compile(f"{p}.expression", expression, opts, None)
            errs += e
            if program is not None:
                var_type = program.output_type
        fields.append((name, cel.variable_field_type(var_type)))
    composition = tuple(fields) if variables else None
    validations = _l(spec.get("validations"))
    audits = spec.get("auditAnnotations")
    if not validations and not audits:
        detail = "validations or auditAnnotations must contain at least one item"
        errs.append(vc.required("spec.validations", detail))
        errs.append(vc.required("spec.auditAnnotations", detail))
        return errs
    for i, v in enumerate(validations):
        errs += _validate_validation(_d(v), has_params, composition, f"spec.validations[{i}]")
    if audits is not None:
        audits = _l(audits)
        if len(audits) > MAX_AUDIT_ANNOTATIONS:
            items = ", ".join(f"admissionregistration.AuditAnnotation{{Key:{go_quote(_s(_d(a).get('key')))}, "
                              f"ValueExpression:{go_quote(_s(_d(a).get('valueExpression')))}}}" for a in audits)
            errs.append(vc.invalid("spec.auditAnnotations",
                                   vc.GoValue(f"[]admissionregistration.AuditAnnotation{{{items}}}"),
                                   f"must not have more than {MAX_AUDIT_ANNOTATIONS} auditAnnotations"))
        keys: set[str] = set()
        policy_name = _s(_d(obj.get("metadata")).get("name"))
        for i, a in enumerate(audits):
            a = _d(a)
            errs += _validate_audit_annotation(a, policy_name, has_params, composition, f"spec.auditAnnotations[{i}]")
            key = _s(a.get("key"))
            if key in keys:
                errs.append(vc.duplicate(f"spec.auditAnnotations[{i}].key", key))
            keys.add(key)
    return errs


def _validate_validation(v: dict, has_params: bool, composition: tuple | None, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    expression = _s(v.get("expression"))
    message = _s(v.get("message"))
    message_expr = _s(v.get("messageExpression"))
    if not expression.strip():
        errs.append(vc.required(f"{path}.expression", "expression is not specified"))
    else:
        opts = cel.EnvOptions(params=has_params, authorizer=True, variables=composition)
        errs += _try_compile(f"{path}.expression", expression, opts, (BOOL,))[1]
    if message_expr and not message_expr.strip():
        errs.append(vc.invalid(f"{path}.messageExpression", message_expr, "must be non-empty if specified"))
    elif message_expr.strip():
        opts = cel.EnvOptions(params=has_params, authorizer=False, variables=composition)
        errs += _try_compile(f"{path}.messageExpression", message_expr, opts, (STRING,))[1]
    if message and not message.strip():
        errs.append(vc.invalid(f"{path}.message", message, "message must be non-empty if specified"))
    elif _has_newlines(message.strip()):
        errs.append(vc.invalid(f"{path}.message", message, "message must not contain line breaks"))
    reason = v.get("reason")
    if reason is not None and reason not in REASONS:
        errs.append(vc.not_supported(f"{path}.reason", reason, REASONS))
    return errs


def _validate_audit_annotation(a: dict, policy_name: str, has_params: bool, composition: tuple | None,
                               path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    key = _s(a.get("key"))
    if policy_name:
        errs += [vc.invalid(f"{path}.key", f"{policy_name}/{key}", m) for m in vc.is_qualified_name(f"{policy_name}/{key}")]
    else:
        errs.append(vc.invalid(f"{path}.key", key, "requires metadata.name be non-empty"))
    value_expr = _s(a.get("valueExpression"))
    trimmed = value_expr.strip()
    if not trimmed:
        errs.append(vc.required(f"{path}.valueExpression", "valueExpression is not specified"))
    elif len(trimmed) > MAX_VALUE_EXPRESSION:
        errs.append(vc.required(f"{path}.valueExpression", f"must not exceed {MAX_VALUE_EXPRESSION} bytes in length"))
    else:
        opts = cel.EnvOptions(params=has_params, authorizer=True, variables=composition)
        try:
            cel.compile_expression(trimmed, opts, (STRING, NULL))
        except cel.CompileError as e:
            errs.append(vc.invalid(f"{path}.valueExpression", value_expr, e.detail))
    return errs


def _validate_param_ref(pr: Any, path: str) -> list[FieldError]:
    if pr is None:
        return []
    pr = _d(pr)
    errs: list[FieldError] = []
    name = _s(pr.get("name"))
    selector = pr.get("selector")
    if name:
        errs += [vc.invalid(f"{path}.name", name, m) for m in vc.is_valid_path_segment_name(name)]
        if selector is not None:
            errs.append(vc.forbidden(f"{path}.name", "name and selector are mutually exclusive"))
    if selector is not None:
        errs += vc.validate_label_selector(_d(selector), f"{path}.selector")
        if name:
            errs.append(vc.forbidden(f"{path}.selector", "name and selector are mutually exclusive"))
    if not name and selector is None:
        errs.append(vc.required(path, "one of name or selector must be specified"))
    action = pr.get("parameterNotFoundAction")
    if not action:
        errs.append(vc.required(f"{path}.parameterNotFoundAction"))
    elif action not in ("Deny", "Allow"):
        errs.append(vc.not_supported(f"{path}.parameterNotFoundAction", action, ["Deny", "Allow"]))
    return errs


def validate_binding(obj: dict) -> list[FieldError]:
    """Spec errors of a ValidatingAdmissionPolicyBinding."""
    spec = _d(obj.get("spec"))
    errs: list[FieldError] = []
    policy_name = _s(spec.get("policyName"))
    if not policy_name:
        errs.append(vc.required("spec.policyName"))
    else:
        errs += [vc.invalid("spec.policyName", policy_name, m) for m in vc.name_is_dns_subdomain(policy_name, False)]
    errs += _validate_param_ref(spec.get("paramRef"), "spec.paramRef")
    # "matchResouces" is kube-apiserver's own spelling of this path.
    errs += _validate_match_resources(spec.get("matchResources"), "spec.matchResouces")
    actions = _l(spec.get("validationActions"))
    seen: list[str] = []
    for i, action in enumerate(actions):
        if action not in ACTIONS:
            errs.append(vc.not_supported(f"spec.validationActions[{i}]", action, ACTIONS))
        if action in seen:
            errs.append(vc.duplicate(f"spec.validationActions[{i}]", action))
        seen.append(action)
    if "Deny" in seen and "Warn" in seen:
        errs.append(vc.invalid("spec.validationActions", _go_named_slice("ValidationAction", actions),
                               "must not contain both Deny and Warn (repeating the same validation failure "
                               "information in the API response and headers serves no purpose)"))
    if not seen:
        errs.append(vc.required("spec.validationActions", "at least one validation action is required"))
    return errs


# --- compilation for admission ---

@dataclass
class Validation:
    expression: str
    program: cel.Program | cel.CompileError
    message: str = ""
    message_program: cel.Program | cel.CompileError | None = None
    reason: str | None = None


@dataclass
class MatchCondition:
    name: str
    expression: str
    program: cel.Program | cel.CompileError


@dataclass
class AuditAnnotation:
    key: str
    expression: str
    program: cel.Program | cel.CompileError


@dataclass
class CompiledPolicy:
    name: str
    failure_policy: str
    param_kind: dict | None
    variables: dict[str, cel.Program | cel.CompileError] = field(default_factory=dict)
    validations: list[Validation] = field(default_factory=list)
    match_conditions: list[MatchCondition] = field(default_factory=list)
    audit_annotations: list[AuditAnnotation] = field(default_factory=list)


def _compile_or_error(expression: str, opts: cel.EnvOptions,
                      result: tuple[Type, ...] | None) -> cel.Program | cel.CompileError:
    try:
        return cel.compile_expression(expression, opts, result)
    except cel.CompileError as e:
        return e


def compile_policy(obj: dict) -> CompiledPolicy:
    """Every expression of a stored policy compiled with the declarations validation used."""
    spec = _d(obj.get("spec"))
    has_params = spec.get("paramKind") is not None
    policy = CompiledPolicy(_s(_d(obj.get("metadata")).get("name")), _s(spec.get("failurePolicy")) or "Fail",
                            _d(spec["paramKind"]) if has_params else None)
    fields: list[tuple[str, Type]] = []
    for var in _l(spec.get("variables")):
        var = _d(var)
        opts = cel.EnvOptions(params=has_params, authorizer=True, variables=tuple(fields))
        program = _compile_or_error(_s(var.get("expression")), opts, None)
        policy.variables[_s(var.get("name"))] = program
        out = program.output_type if isinstance(program, cel.Program) else cel.DYN
        fields.append((_s(var.get("name")), cel.variable_field_type(out)))
    composition = tuple(fields) if policy.variables else None
    for v in _l(spec.get("validations")):
        v = _d(v)
        expression = _s(v.get("expression"))
        opts = cel.EnvOptions(params=has_params, authorizer=True, variables=composition)
        validation = Validation(expression, _compile_or_error(expression, opts, (BOOL,)), _s(v.get("message")),
                                reason=v.get("reason"))
        if _s(v.get("messageExpression")).strip():
            msg_opts = cel.EnvOptions(params=has_params, authorizer=False, variables=composition)
            validation.message_program = _compile_or_error(_s(v["messageExpression"]), msg_opts, (STRING,))
        policy.validations.append(validation)
    for mc in _l(spec.get("matchConditions")):
        mc = _d(mc)
        expression = _s(mc.get("expression")).strip()
        opts = cel.EnvOptions(params=has_params, authorizer=True)
        policy.match_conditions.append(MatchCondition(_s(mc.get("name")), expression,
                                                      _compile_or_error(expression, opts, (BOOL,))))
    for a in _l(spec.get("auditAnnotations")):
        a = _d(a)
        expression = _s(a.get("valueExpression")).strip()
        opts = cel.EnvOptions(params=has_params, authorizer=True, variables=composition)
        policy.audit_annotations.append(AuditAnnotation(_s(a.get("key")), expression,
                                                        _compile_or_error(expression, opts, (STRING, NULL))))
    return policy
