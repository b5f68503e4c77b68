"""CEL-only policy kinds the Kyverno CLI can evaluate offline: Kubernetes ``ValidatingAdmissionPolicy``
(admissionregistration.k8s.io/v1) and Kyverno ``ValidatingPolicy`` (policies.kyverno.io).

Both match on ``matchConstraints.resourceRules`` (apiGroups/apiVersions/operations/resources, ``*`` allowed),
bind ``variables`` in order, then evaluate ``validations``: the first failing one decides. The result is one
rule response named after the policy, as the Kyverno CLI reports it. A ValidatingPolicy is compiled and
evaluated by the same engine the sandbox's admission uses (:mod:`.vpol_engine`, autogen variants included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...apiserver import resources as res
from . import cel
from .engine import PolicyResponse, Request
from .results import RuleResult, RuleStatus

VAP = ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy")
VPOL_GROUP = "policies.kyverno.io"
VPOL_KINDS = ("ValidatingPolicy", "NamespacedValidatingPolicy")


def is_vap(obj: Mapping[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).startswith(VAP[0] + "/") and obj.get("kind") == VAP[1]


def is_vpol(obj: Mapping[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).startswith(VPOL_GROUP + "/") and obj.get("kind") in VPOL_KINDS


def _plural(api_version: str, kind: str) -> str:
    rt = res.by_kind(api_version, kind)
    if rt is not None:
        return rt.plural
    lower = kind.lower()
    return lower + ("es" if lower.endswith("s") else "s")


def _in(values: list[str] | None, value: str) -> bool:
    return bool(values) and ("*" in values or value in values)


def _rule_matches(rule: Mapping[str, Any], req: Request) -> bool:
    gvk = req.gvk
    resource = _plural(f"{gvk.group}/{gvk.version}" if gvk.group else gvk.version, gvk.kind)
    full = f"{resource}/{req.subresource}" if req.subresource else resource
    resources = rule.get("resources") or []
    ok_resource = "*" in resources or full in resources or (req.subresource and f"{resource}/*" in resources) \
        or (not req.subresource and f"{resource}" in resources) or "*/*" in resources
    return (_in(rule.get("apiGroups"), gvk.group) and _in(rule.get("apiVersions"), gvk.version)
            and _in(rule.get("operations"), req.operation or "CREATE") and bool(ok_resource))


def constraints_match(constraints: Mapping[str, Any] | None, req: Request) -> bool:
    rules = (constraints or {}).get("resourceRules") or []
    excluded = (constraints or {}).get("excludeResourceRules") or []
    return any(_rule_matches(r, req) for r in rules) and not any(_rule_matches(r, req) for r in excluded)


def _activation(req: Request) -> dict[str, Any]:
    gvk = req.gvk
    return {"object": req.resource, "oldObject": req.old,
            "request": {"operation": req.operation or "CREATE", "name": req.name, "namespace": req.namespace,
                        "kind": {"group": gvk.group, "version": gvk.version, "kind": gvk.kind},
                        "dryRun": req.dry_run,
                        "userInfo": {"username": req.info.username, "groups": list(req.info.groups)}},
            "namespaceObject": {"metadata": {"name": req.namespace, "labels": dict(req.namespace_labels)}}}


def _evaluate_vpol(policy: Mapping[str, Any], req: Request) -> PolicyResponse:
    from ..vap import cel as vap_cel
    from . import vpol, vpol_engine

    resp = PolicyResponse(dict(policy))
    name = vpol.name(policy)
    resp.actions[name] = "Enforce" if "Deny" in vpol.validation_actions(policy) else "Audit"
    try:
        variants = vpol_engine.compile_policy(policy)
    except vpol_engine.PolicyCompileError as e:
        resp.results.append(RuleResult(name, RuleStatus.ERROR, str(e)))
        return resp
    act = _activation(req)
    inputs = vpol_engine.Inputs(vap_cel.to_cel(req.resource), vap_cel.to_cel(req.old),
                                vap_cel.to_cel(act["request"]), vap_cel.namespace_value(act["namespaceObject"]))
    for variant in variants:
        if variant.constraints is not None and constraints_match(variant.constraints, req):
            resp.results.append(vpol_engine.evaluate(variant, inputs).rule_result(name))
    return resp


def evaluate(policy: Mapping[str, Any], req: Request) -> PolicyResponse:
    """A ValidatingAdmissionPolicy or ValidatingPolicy on one resource (no binding: it applies as matched)."""
    if is_vpol(policy):
        return _evaluate_vpol(policy, req)
    resp = PolicyResponse(dict(policy))
    spec = policy.get("spec") or {}
    name = (policy.get("metadata") or {}).get("name", "")
    if not constraints_match(spec.get("matchConstraints"), req):
        return resp
    activation = _activation(req)
    if not cel.matches_conditions(spec.get("matchConditions") or [], activation):
        return resp
    activation = cel.bind_variables(spec.get("variables") or [], activation)
    for d in cel.validate(spec.get("validations") or [], activation):
        if d.action == "deny":
            resp.results.append(RuleResult(name, RuleStatus.FAIL, d.message))
            break
        if d.action == "error":
            status = RuleStatus.ERROR if spec.get("failurePolicy", "Fail") == "Fail" else RuleStatus.SKIP
            resp.results.append(RuleResult(name, status, d.message))
            break
    else:
        resp.results.append(RuleResult(name, RuleStatus.PASS, ""))
    resp.actions[name] = "Enforce" if "Deny" in (spec.get("validationActions") or ["Deny"]) else "Audit"
    return resp
