"""Evaluate Kyverno policies against one request: match/exclude, preconditions, then the validate rule
(``pattern``, ``anyPattern``, ``deny``, ``foreach``, ``cel``), giving per-rule results (``engine.Validate``).

The blocking decision and the texts users see follow ``pkg/webhooks/resource/validation`` and
``pkg/webhooks/utils``: a ``fail`` blocks when the rule's effective failure action is Enforce, an ``error``
blocks when the policy's failurePolicy is Fail, and the denial lists every non-pass, non-skip rule of the
policies in the blocking path (:func:`decide`). ``verifyImages`` rules are not evaluated here (see
:mod:`.plugin` for the hook).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import autogen, cel, messages, policies
from .match import GVK, RequestInfo, managed_pod_resource, matches
from .pattern import validate_rule
from .results import RuleResult, RuleStatus, should_block
from .variables import SubstitutionError, evaluate_conditions, query, rule_context, substitute

PRE_EXISTING_VIOLATION = "skipping the rule evaluation as pre-existing violations are allowed"
UNSUPPORTED = "is not evaluated by the lab sandbox"


@dataclass
class Request:
    """What the engine needs about one admission request (or one background-scan resource)."""

    operation: str  # CREATE | UPDATE | DELETE | "" (background scan)
    resource: dict[str, Any] | None
    old: dict[str, Any] | None = None
    subresource: str = ""
    namespace_labels: dict[str, str] = field(default_factory=dict)
    info: RequestInfo = field(default_factory=RequestInfo)
    dry_run: bool = False

    @property
    def subject(self) -> dict[str, Any]:
        """The object rules look at: the new object, or the old one for DELETE."""
        return self.resource if self.resource is not None else (self.old or {})

    @property
    def gvk(self) -> GVK:
        return GVK.of(self.subject)

    @property
    def namespace(self) -> str:
        return (self.subject.get("metadata") or {}).get("namespace", "")

    @property
    def name(self) -> str:
        meta = self.subject.get("metadata") or {}
        return meta.get("name") or meta.get("generateName", "")


@dataclass
class PolicyResponse:
    """One policy's rule results for one request, with each rule's effective failure action."""

    policy: dict[str, Any]
    results: list[RuleResult] = field(default_factory=list)
    actions: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return policies.policy_name(self.policy)

    @property
    def key(self) -> str:
        return policies.policy_key(self.policy)

    def enforced_failure(self) -> bool:
        return any(r.status is RuleStatus.FAIL and self.actions.get(r.name) == "Enforce" for r in self.results)

    def blocks(self) -> bool:
        """``BlockRequest``: an Enforce failure, or an error under failurePolicy Fail."""
        if self.enforced_failure():
            return True
        return should_block(self.results, enforce=False, failure_policy=policies.failure_policy(self.policy))


# --- one rule ---------------------------------------------------------------------------------------------


def _error(rule: str, msg: str, err: str) -> RuleResult:
    return RuleResult(rule, RuleStatus.ERROR, f"{msg}: {err}")


def _message(rule: Mapping[str, Any], ctx: Mapping[str, Any]) -> str | None:
    msg = (rule.get("validate") or {}).get("message") or ""
    try:
        out = substitute(msg, ctx, path="/validate/message")
    except SubstitutionError:
        return None
    return out if isinstance(out, str) else "the produced message didn't resolve to a string, check your policy definition."


def _patterns(name: str, validate: Mapping[str, Any], message: str | None, target: Any,
              ctx: Mapping[str, Any]) -> RuleResult | None:
    """``validatePatterns`` after ``substitutePatterns``."""
    v = {k: validate[k] for k in ("pattern", "anyPattern") if validate.get(k) is not None}
    try:
        v = substitute(v, ctx, path="/validate")
    except SubstitutionError as e:
        return _error(name, "variable substitution failed", str(e))
    result = validate_rule({"name": name, "validate": v}, target, message=message or "")
    if result is not None and message is None and result.status in (RuleStatus.FAIL, RuleStatus.ERROR):
        detail = result.message.rsplit(" execution error: ", 1)[-1] if result.status is RuleStatus.ERROR else \
            "pattern did not match"
        return RuleResult(name, result.status, messages.message_substitution_error(name, detail))
    return result


def _deny(name: str, validate: Mapping[str, Any], ctx: Mapping[str, Any]) -> RuleResult:
    try:
        denied = evaluate_conditions((validate.get("deny") or {}).get("conditions"), ctx)
    except SubstitutionError as e:
        return _error(name, "failed to check deny preconditions", str(e))
    if not denied:
        return RuleResult(name, RuleStatus.PASS, messages.rule_pass_message(name))
    msg = validate.get("message") or ""
    if msg:
        try:
            out = substitute(msg, ctx, path="/validate/message")
            msg = out if isinstance(out, str) else \
                "the produced message didn't resolve to a string, check your policy definition."
        except SubstitutionError:
            pass
    return RuleResult(name, RuleStatus.FAIL, messages.deny_message(name, msg))


def _foreach(rule: Mapping[str, Any], loops: list[Mapping[str, Any]], ctx: dict[str, Any],
             message: str | None, nesting: int) -> tuple[RuleResult | None, int]:
    """``validateForEach``/``validateElements``: first non-pass element decides; count applied elements."""
    name = rule["name"]
    applied = 0
    for fe in loops:
        try:
            elements = query(fe.get("list", ""), ctx)
        except Exception:  # noqa: BLE001  an unusable list is skipped, as upstream logs and continues
            continue
        if not isinstance(elements, list):
            elements = [elements]
        for index, element in enumerate(elements):
            if element is None:
                continue
            ectx = dict(ctx, element=element, elementIndex=index)
            ectx[f"element{nesting}"] = element
            ectx[f"elementIndex{nesting}"] = index
            try:
                if not evaluate_conditions(fe.get("preconditions"), ectx):
                    continue
            except SubstitutionError as e:
                r: RuleResult | None = _error(name, "failed to evaluate preconditions", str(e))
            else:
                scope = element if fe.get("elementScope", True) is not False else ectx["request"]["object"]
                if fe.get("deny") is not None:
                    r = _deny(name, {"deny": fe["deny"], "message": (rule.get("validate") or {}).get("message")}, ectx)
                elif fe.get("pattern") is not None or fe.get("anyPattern") is not None:
                    r = _patterns(name, fe, _message(rule, ectx) if message is not None else None, scope, ectx)
                elif fe.get("foreach"):
                    r, n = _foreach(rule, fe["foreach"], ectx, message, nesting + 1)
                    if r is None or r.status is RuleStatus.PASS:
                        applied += 1 if n else 0
                        continue
                else:
                    r = None
            if r is None or r.status is RuleStatus.SKIP:
                continue
            if r.status is not RuleStatus.PASS:
                if r.status is RuleStatus.ERROR and index < len(elements) - 1:
                    continue
                return RuleResult(name, r.status, messages.foreach_failure_message(r.message)), applied
            applied += 1
    return None, applied


def _cel_request(req: Request) -> dict[str, Any]:
    gvk = req.gvk
    return {"operation": req.operation, "name": req.name, "namespace": req.namespace,
            "kind": {"group": gvk.group, "version": gvk.version, "kind": gvk.kind},
            "subResource": req.subresource, "dryRun": req.dry_run,
            "userInfo": {"username": req.info.username, "groups": list(req.info.groups)}}


def _cel(rule: Mapping[str, Any], req: Request) -> RuleResult | None:
    name = rule["name"]
    v = rule.get("validate") or {}
    spec = v.get("cel") or {}
    activation: dict[str, Any] = {"object": req.resource, "oldObject": req.old, "request": _cel_request(req),
                                  "namespaceObject": {"metadata": {"name": req.namespace,
                                                                   "labels": dict(req.namespace_labels)}}}
    if req.resource is None and req.operation != "DELETE":
        return None
    if not cel.matches_conditions(rule.get("celPreconditions") or [], activation):
        return RuleResult(name, RuleStatus.SKIP, "cel preconditions not met")
    try:
        activation = cel.bind_variables(spec.get("variables") or [], activation)
        decisions = cel.validate(spec.get("expressions") or [], activation, v.get("message") or "")
    except cel.CELError as e:
        return RuleResult(name, RuleStatus.ERROR, str(e))
    for d in decisions:
        if d.action == "error":
            return RuleResult(name, RuleStatus.ERROR, d.message)
        if d.action == "deny":
            return RuleResult(name, RuleStatus.FAIL, d.message)
    return RuleResult(name, RuleStatus.PASS, f"Validation rule '{name}' passed.")


def evaluate_rule(rule: Mapping[str, Any], req: Request, target: Mapping[str, Any] | None = None) -> RuleResult | None:
    """One validate rule on a matching request; None when the rule produces no response (e.g. patterns on
    DELETE). ``target`` overrides the object under test (the old object for pre-existing violations)."""
    name = rule["name"]
    v = rule.get("validate") or {}
    obj = target if target is not None else req.resource
    ctx = rule_context(obj, operation=req.operation, old=req.old, namespace=req.namespace, name=req.name,
                       username=req.info.username, groups=req.info.groups, dry_run=req.dry_run,
                       kind={"group": req.gvk.group, "version": req.gvk.version, "kind": req.gvk.kind})
    if rule.get("context"):
        unsupported = [c.get("name", "") for c in rule["context"] if "variable" not in c]
        if unsupported:
            return RuleResult(name, RuleStatus.SKIP, f"context entries {unsupported} are not evaluated by the lab sandbox")
        for c in rule["context"]:
            var = c["variable"]
            try:
                value = query(var["jmesPath"], ctx) if var.get("jmesPath") else substitute(var.get("value"), ctx)
            except (SubstitutionError, Exception):  # noqa: BLE001
                value = None
            ctx[c["name"]] = value if value is not None else var.get("default")
    try:
        if not evaluate_conditions(rule.get("preconditions"), ctx):
            return RuleResult(name, RuleStatus.SKIP, "preconditions not met")
    except SubstitutionError as e:
        return _error(name, "failed to evaluate preconditions", str(e))
    if v.get("deny") is not None:
        if req.operation == "DELETE":
            ctx["request"]["object"] = None
        return _deny(name, v, ctx)
    if v.get("pattern") is not None or v.get("anyPattern") is not None:
        if obj is None:
            return None  # "skipping validation on deleted resource"
        return _patterns(name, v, _message(rule, ctx), obj, ctx)
    if v.get("foreach") is not None:
        if obj is None:
            return None
        message = _message(rule, ctx)
        r, applied = _foreach(rule, v["foreach"], ctx, "" if message is not None else None, 0)
        if r is not None:
            return r
        if applied == 0:
            return RuleResult(name, RuleStatus.SKIP, "rule skipped")
        return RuleResult(name, RuleStatus.PASS, "rule passed")
    if v.get("cel") is not None:
        return _cel(rule, req)
    for kind in ("podSecurity", "manifests", "assert"):
        if v.get(kind):
            return RuleResult(name, RuleStatus.SKIP, f"validate.{kind} {UNSUPPORTED}")
    return None


def evaluate(policy: Mapping[str, Any], req: Request, *, admission: bool = True) -> PolicyResponse:
    """All validate rules of one policy (autogen applied). ``admission=False`` is a background scan: no
    request-only data, and pre-existing violations are not special."""
    resp = PolicyResponse(dict(policy))
    subject = req.subject
    if not subject or managed_pod_resource(policy, subject):
        return resp
    apply_one = policies.spec(policy).get("applyRules") == "One"
    pol_ns = policies.policy_namespace(policy)
    for rule in autogen.compute_rules(policy):
        if not rule.get("validate"):
            continue
        reason = matches(rule, subject, operation=req.operation, subresource=req.subresource,
                         namespace_labels=req.namespace_labels, info=req.info, policy_namespace=pol_ns)
        if reason is not None:
            continue
        result = evaluate_rule(rule, req)
        if result is None:
            continue
        action = policies.rule_failure_action(policy, rule, req.namespace, req.namespace_labels)
        if (admission and req.operation == "UPDATE" and req.old is not None and result.status is RuleStatus.FAIL
                and (rule.get("validate") or {}).get("allowExistingViolations", True) is not False):
            old_result = evaluate_rule(rule, req, target=req.old)
            if old_result is not None and old_result.status is RuleStatus.FAIL:
                result = RuleResult(result.name, RuleStatus.SKIP, PRE_EXISTING_VIOLATION)
        resp.results.append(result)
        resp.actions[result.name] = action
        if apply_one and result.status in (RuleStatus.PASS, RuleStatus.FAIL, RuleStatus.ERROR):
            break
    return resp


# --- the admission decision -------------------------------------------------------------------------------


@dataclass
class Decision:
    """What the validating webhook answers: allowed (with warnings) or the denial text."""

    allowed: bool
    message: str = ""
    webhook: str = ""
    warnings: list[str] = field(default_factory=list)
    responses: list[PolicyResponse] = field(default_factory=list)


def decide(responses: Iterable[PolicyResponse], kind: str, namespace: str, name: str,
           webhook_kind: str = "validate") -> Decision:
    """Group the blocking-path responses by failurePolicy (one webhook each, ``-fail`` first) and build
    Kyverno's answer. Warnings come from policies with ``emitWarning: true``."""
    responses = list(responses)
    for fp in ("Fail", "Ignore"):
        group = [r for r in responses if policies.failure_policy(r.policy) == fp and policies.may_enforce(r.policy)]
        if any(r.blocks() for r in group):
            text = messages.blocked_message(kind, namespace, name, [(r.name, r.results) for r in group])
            return Decision(False, text, messages.webhook_name(webhook_kind, fp), responses=responses)
    warnings = messages.warning_messages([(r.name, r.results) for r in responses if policies.emit_warning(r.policy)])
    return Decision(True, warnings=warnings, responses=responses)


def response_copy(resp: PolicyResponse) -> PolicyResponse:
    return PolicyResponse(copy.deepcopy(resp.policy), list(resp.results), dict(resp.actions))
