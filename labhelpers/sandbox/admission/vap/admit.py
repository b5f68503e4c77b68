"""The ValidatingAdmissionPolicy admission plug-in (k8s.io/apiserver plugin/policy/validating).

For each request: every policy whose matchConstraints match is evaluated once per matching binding (and per
param object), validations become decisions, and each failed decision is applied through the binding's
validationActions: ``Deny`` collects it (the first one becomes the error), ``Warn`` adds the HTTP warning
``Validation failed for ValidatingAdmissionPolicy '<p>' with binding '<b>': <message>``, ``Audit`` records
the ``validation.policy.admission.k8s.io/validation_failure`` audit annotation. The denial is the Status
kube-apiserver builds: ``<resource> "<name>" is forbidden: ValidatingAdmissionPolicy '<p>' with binding
'<b>' denied request: <message>`` with the validation's reason (default ``Invalid``, HTTP 422) and one
field-less cause, which kubectl prints as ``The pods "x" is invalid: : ValidatingAdmissionPolicy ...``.
"""

from __future__ import annotations

import collections
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from celpy import celtypes as ct

from ...apiserver import resources as res
from ...apiserver import validation_common as vc
from ...apiserver.errors import ApiError
from ...apiserver.objects import AdmissionRequest, Registry
from . import cel
from .cel_values import Authorize, AuthorizerVal
from .policy import BINDING, GROUP, POLICY, CompiledPolicy, compile_policy

log = logging.getLogger(__name__)

FAILURE_ANNOTATION = "validation.policy.admission.k8s.io/validation_failure"
MAX_MESSAGE_BYTES = 5 * 1024
MAX_AUDIT_VALUE = 10 * 1024
_EXEMPT_KINDS = {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
                 "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}
_REASON_CODES = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413, "Invalid": 422}
LAB_USER_GROUPS = ["system:masters", "system:authenticated"]


def go_json(value: Any) -> str:
    """encoding/json.Marshal: compact, UTF-8, with its HTML-safe escapes."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def lab_authorize(user: str, verb: str, attrs: dict[str, str]) -> tuple[str, str]:
    """The sandbox's authorizer: its one user is cluster-admin; service accounts get no RBAC grants."""
    if user.startswith("system:serviceaccount:"):
        return "no-opinion", ""
    return "allow", ""


@dataclass
class Decision:
    deny: bool
    message: str = ""
    reason: str = ""
    error: bool = False  # an evaluation/configuration error rather than a failed validation


@dataclass
class Denial:
    policy: str
    binding: str | None
    decision: Decision


# --- matching (plugin/cel/matching + webhook predicates) ---

def _rule_matches(rule: dict, req: AdmissionRequest, namespace: str) -> bool:
    rt = req.rt
    scope = rule.get("scope") or "*"
    is_namespace = rt.group == "" and rt.plural == "namespaces"
    if scope == "Namespaced" and (is_namespace or not namespace):
        return False
    if scope == "Cluster" and not (is_namespace or not namespace):
        return False
    ops = rule.get("operations") or []
    if "*" not in ops and req.operation not in ops:
        return False
    if not _exact_or_wildcard(rule.get("apiGroups"), rt.group):
        return False
    if not _exact_or_wildcard(rule.get("apiVersions"), rt.version):
        return False
    for item in rule.get("resources") or []:
        r, _, sub = str(item).partition("/")
        if (r in ("*", rt.plural)) and (sub in ("*", req.subresource)):
            return True
    return False


def _exact_or_wildcard(items: Any, value: str) -> bool:
    return any(x in ("*", value) for x in items or [])


def _rules_match(rules: Iterable[dict], req: AdmissionRequest, namespace: str) -> bool:
    for rule in rules:
        if not _rule_matches(rule, req, namespace):
            continue
        names = rule.get("resourceNames") or []
        if not names or req.name in names:
            return True
    return False


def _labels(obj: dict | None) -> dict[str, str] | None:
    if obj is None:
        return None
    return (obj.get("metadata") or {}).get("labels") or {}


class Plugin:
    """The validating admission plug-in; ``registry.validators`` calls it with every write."""

    def __init__(self, registry: Registry, authorize: Authorize = lab_authorize):
        self.registry = registry
        self.authorize = authorize
        self.audit_events: collections.deque[dict[str, Any]] = collections.deque(maxlen=1000)
        self._compiled: dict[str, tuple[str, CompiledPolicy]] = {}

    # --- inputs ---

    def _namespace_obj(self, name: str) -> dict | None:
        ns_rt = res.lookup("", "v1", "namespaces")
        return self.registry.find(ns_rt, "", name) if ns_rt and name else None

    def _namespace_labels(self, req: AdmissionRequest) -> dict[str, str] | None:
        if req.rt.group == "" and req.rt.plural == "namespaces" and not req.subresource:
            source = req.obj if req.operation in ("CREATE", "UPDATE") else req.old
            return _labels(source)
        ns = self._namespace_obj(req.namespace)
        return _labels(ns)

    def _matches(self, criteria: dict | None, req: AdmissionRequest, is_binding: bool) -> bool:
        if criteria is None:
            return True
        cluster_scoped = not req.namespace and not (req.rt.group == "" and req.rt.plural == "namespaces")
        ns_sel = criteria.get("namespaceSelector")
        if not cluster_scoped and ns_sel is not None and not vc.selector_is_empty(ns_sel):
            labels = self._namespace_labels(req)
            if labels is None or not vc.selector_matches(ns_sel, labels):
                return False
        obj_sel = criteria.get("objectSelector")
        if obj_sel is not None and not vc.selector_is_empty(obj_sel) and not any(
                o is not None and vc.selector_matches(obj_sel, _labels(o)) for o in (req.obj, req.old)):
            return False
        if _rules_match(criteria.get("excludeResourceRules") or [], req, req.namespace):
            return False
        rules = criteria.get("resourceRules")
        if is_binding and not rules:
            return True
        return _rules_match(rules or [], req, req.namespace)

    def _compile(self, policy: dict) -> CompiledPolicy:
        """Compiled once per policy version (the informer-fed cache kube-apiserver keeps)."""
        meta = policy.get("metadata") or {}
        version = f"{meta.get('uid', '')}/{meta.get('resourceVersion', '')}"
        cached = self._compiled.get(meta.get("name", ""))
        if cached is None or cached[0] != version:
            cached = self._compiled[meta.get("name", "")] = (version, compile_policy(policy))
        return cached[1]

    def _params(self, policy: CompiledPolicy, binding: dict, req: AdmissionRequest) -> list[dict | None]:
        """generic.CollectParams; raises ValueError with kube-apiserver's configuration error text."""
        ref = (binding.get("spec") or {}).get("paramRef")
        if policy.param_kind is None or ref is None:
            return [None]
        rt = res.by_kind(str(policy.param_kind.get("apiVersion", "")), str(policy.param_kind.get("kind", "")))
        if rt is None:  # checked when the hook is built, see _config_error
            return [None]
        namespace = ""
        if rt.namespaced:
            namespace = ref.get("namespace") or req.namespace
            if not namespace:
                raise ValueError("cannot use namespaced paramRef in policy binding that matches cluster-scoped "
                                 "resources")
        elif ref.get("namespace"):
            raise ValueError("paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
        params: list[dict | None]
        if ref.get("name"):
            found = self.registry.find(rt, namespace, ref["name"])
            params = [found] if found is not None else []
        elif ref.get("selector") is not None:
            params = [o for o in self.registry.list(rt, namespace if rt.namespaced else None)
                      if vc.selector_matches(ref["selector"], _labels(o))]
        else:
            raise ValueError("one of name or selector must be provided")
        if not params and ref.get("parameterNotFoundAction") == "Deny":
            raise ValueError("no params found for policy binding with `Deny` parameterNotFoundAction")
        return params

    @staticmethod
    def _config_error(policy: CompiledPolicy) -> str | None:
        pk = policy.param_kind
        if pk is not None and res.by_kind(str(pk.get("apiVersion", "")), str(pk.get("kind", ""))) is None:
            group, _, version = str(pk.get("apiVersion", "")).rpartition("/")
            return f"failed to find resource referenced by paramKind: '{group}/{version}, Kind={pk.get('kind', '')}'"
        return None

    def _request_value(self, req: AdmissionRequest) -> Any:
        rt = req.rt
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        gvr = {"group": rt.group, "version": rt.version, "resource": rt.plural}
        namespace = req.namespace
        if rt.group == "" and rt.plural == "namespaces" and req.operation != "CREATE":
            namespace = req.name
        return cel.to_cel({
            "kind": gvk, "resource": gvr, "subResource": req.subresource, "requestKind": gvk,
            "requestResource": gvr, "requestSubResource": req.subresource, "name": req.name,
            "namespace": namespace, "operation": req.operation,
            "userInfo": {"username": req.user, "uid": "", "groups": list(LAB_USER_GROUPS), "extra": {}},
            "dryRun": req.dry_run, "options": {},
        })

    # --- evaluation (validator.go) ---

    def _activation(self, policy: CompiledPolicy, base: dict[str, Any], param: dict | None,
                    authorizer: AuthorizerVal | None, with_variables: bool) -> dict[str, Any]:
        act = dict(base)
        act["params"] = cel.to_cel(param)
        if authorizer is not None:
            act["authorizer"] = authorizer
        if with_variables and policy.variables:
            act["variables"] = cel.lazy_variables(policy.variables, lambda: act)
        return act

    @staticmethod
    def _run(program: cel.Program | cel.CompileError, expression: str, act: dict[str, Any]) -> tuple[Any, str | None]:
        """(value, error message) the way activation.Evaluate reports them."""
        if isinstance(program, cel.CompileError):
            return None, f"compilation error: {program.detail}"
        try:
            return program.evaluate(act), None
        except cel.EvalError as e:
            return None, f"expression '{expression}' resulted in error: {e.message}"

    def _validate(self, policy: CompiledPolicy, base: dict[str, Any], param: dict | None,
                  authorizer: AuthorizerVal) -> tuple[list[Decision], list[tuple[str, Decision | str]]]:
        """Decisions per validation, plus (key, value or error decision) per audit annotation."""
        fail = policy.failure_policy != "Ignore"
        if policy.match_conditions:
            # matchConditions see no namespaceObject and no composited variables
            act = self._activation(policy, {**base, "namespaceObject": None}, param, authorizer, False)
            errors: list[str] = []
            for mc in policy.match_conditions:
                value, error = self._run(mc.program, mc.expression, act)
                if error is not None:
                    errors.append(error)
                elif isinstance(value, ct.BoolType) and not value:
                    return [], []
            if errors:
                if not fail:
                    return [], []
                message = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
                return [Decision(True, message, error=True)], []
        act = self._activation(policy, base, param, authorizer, True)
        msg_act = self._activation(policy, base, param, None, True)
        decisions: list[Decision] = []
        for v in policy.validations:
            value, error = self._run(v.program, v.expression, act)
            if error is not None:
                decisions.append(Decision(fail, error, error=True))
                continue
            if isinstance(value, ct.BoolType) and value:
                decisions.append(Decision(False))
                continue
            decisions.append(Decision(True, self._message(v, msg_act), v.reason or "Invalid"))
        audits: list[tuple[str, Decision | str]] = []
        for a in policy.audit_annotations:
            value, error = self._run(a.program, a.expression, act)
            if error is not None:
                if fail:
                    audits.append((a.key, Decision(True, error, error=True)))
                continue
            if value is None:
                continue
            if not isinstance(value, ct.StringType):
                if fail:
                    audits.append((a.key, Decision(True, f"valueExpression '{a.expression}' resulted in unsupported "
                                                         f"return type: {cel.type_name(value)}. Return type must be "
                                                         "either string or null.", error=True)))
                continue
            text = str(value).strip()
            if text:
                audits.append((a.key, text[:MAX_AUDIT_VALUE]))
        return decisions, audits

    def _message(self, v: Any, act: dict[str, Any]) -> str:
        message = ""
        if v.message_program is not None:
            value, error = self._run(v.message_program, "", act)
            if error is None and isinstance(value, ct.StringType):
                message = str(value).strip()
                if len(message.encode()) > MAX_MESSAGE_BYTES or "\n" in message:
                    message = ""
            elif error is not None:
                log.debug("messageExpression failed: %s", error)
        if not message and v.message:
            message = v.message.strip()
        return message or f"failed expression: {v.expression.strip()}"

    # --- dispatch (dispatcher.go) ---

    def __call__(self, req: AdmissionRequest) -> None:
        if req.rt.group == GROUP and req.rt.kind in _EXEMPT_KINDS:
            return
        policies = sorted(self.registry.list(POLICY), key=lambda p: p["metadata"]["name"])
        if not policies:
            return
        by_policy: dict[str, list[dict]] = collections.defaultdict(list)
        for b in sorted(self.registry.list(BINDING), key=lambda b: b["metadata"]["name"]):
            by_policy[str((b.get("spec") or {}).get("policyName", ""))].append(b)
        denials: list[Denial] = []
        base: dict[str, Any] | None = None
        for policy_obj in policies:
            name = policy_obj["metadata"]["name"]
            bindings = by_policy.get(name)
            if not bindings:
                continue
            if not self._matches((policy_obj.get("spec") or {}).get("matchConstraints"), req, False):
                continue
            policy = self._compile(policy_obj)
            config_error = self._config_error(policy)
            if config_error is not None:
                if policy.failure_policy != "Ignore":
                    denials.append(Denial(name, None, Decision(True, f"failed to configure policy: {config_error}",
                                                               error=True)))
                continue
            if base is None:
                base = self._base(req)
            annotations: dict[str, list[str]] = {}
            for binding in bindings:
                self._apply_binding(req, policy, binding, base, denials, annotations)
            for key, values in annotations.items():
                self._audit(req, f"{name}/{key}", ", ".join(values))
        if denials:
            raise self._denied(req, denials[0])

    def _base(self, req: AdmissionRequest) -> dict[str, Any]:
        ns_name = "" if (req.rt.group == "" and req.rt.plural == "namespaces") else req.namespace
        ns_obj = None
        if ns_name:
            ns_obj = self._namespace_obj(ns_name)
            if ns_obj is None:
                raise ApiError.not_found("namespaces", ns_name)
        return {"object": cel.to_cel(req.obj), "oldObject": cel.to_cel(req.old), "request": self._request_value(req),
                "namespaceObject": cel.namespace_value(ns_obj)}

    def _apply_binding(self, req: AdmissionRequest, policy: CompiledPolicy, binding: dict, base: dict[str, Any],
                       denials: list[Denial], annotations: dict[str, list[str]]) -> None:
        bname = binding["metadata"]["name"]
        spec = binding.get("spec") or {}
        if not self._matches(spec.get("matchResources"), req, True):
            return
        try:
            params = self._params(policy, binding, req)
        except ValueError as e:
            if policy.failure_policy != "Ignore":
                denials.append(Denial(policy.name, bname, Decision(True, f"failed to configure binding: {e}",
                                                                   error=True)))
            return
        attrs = {"group": req.rt.group, "resource": req.rt.plural, "subresource": req.subresource,
                 "namespace": req.namespace, "name": req.name}
        authorizer = AuthorizerVal(req.user, self.authorize, {k: v for k, v in attrs.items() if v})
        actions = list(spec.get("validationActions") or [])
        for param in params:
            decisions, audits = self._validate(policy, base, param, authorizer)
            for i, d in enumerate(decisions):
                if not d.deny:
                    continue
                for action in actions:
                    if action == "Deny":
                        denials.append(Denial(policy.name, bname, d))
                    elif action == "Warn":
                        req.warnings.append(f"Validation failed for ValidatingAdmissionPolicy '{policy.name}' "
                                            f"with binding '{bname}': {d.message}")
                    elif action == "Audit":
                        value = go_json([{"message": d.message, "policy": spec.get("policyName", ""),
                                          "binding": bname, "expressionIndex": i, "validationActions": actions}])
                        self._audit(req, FAILURE_ANNOTATION, value)
            for key, item in audits:
                if isinstance(item, Decision):
                    denials.append(Denial(policy.name, bname, item))
                elif item not in annotations.setdefault(key, []):
                    annotations[key].append(item)

    def _audit(self, req: AdmissionRequest, key: str, value: str) -> None:
        event = {"operation": req.operation, "resource": req.rt.group_resource, "namespace": req.namespace,
                 "name": req.name, "dryRun": req.dry_run, "annotations": {key: value}}
        self.audit_events.append(event)
        log.info("audit annotation %s=%s for %s %s/%s", key, value, req.rt.group_resource, req.namespace, req.name)

    @staticmethod
    def _denied(req: AdmissionRequest, denial: Denial) -> ApiError:
        d = denial.decision
        if denial.binding is not None:
            message = (f"ValidatingAdmissionPolicy '{denial.policy}' with binding '{denial.binding}' denied request: "
                       f"{d.message}")
        else:
            message = f"ValidatingAdmissionPolicy '{denial.policy}' denied request: {d.message}"
        name = req.name
        if not name:
            meta = (req.obj or {}).get("metadata") or {}
            name = meta.get("name") or meta.get("generateName") or "Unknown"
        reason = d.reason or "Invalid"
        details: dict[str, Any] = {"name": name}
        if req.rt.group:
            details["group"] = req.rt.group
        details["kind"] = req.rt.plural
        details["causes"] = [{"message": message}]
        return ApiError(_REASON_CODES.get(reason, 422), reason,
                        f'{req.rt.group_resource} "{name}" is forbidden: {message}', details)

