"""Kyverno 1.15's ``ValidatingPolicy`` (``policies.kyverno.io/v1alpha1``) as an API object.

What the CRD and Kyverno's controllers make of a stored policy: the kind and its ``kubectl get`` columns
(AGE, READY from ``.status.conditionStatus.ready``), the structural-schema errors the apiserver returns (enums,
required fields, list-map keys), the accessors with Kyverno's defaults (``validationActions`` ``[Deny]``,
``failurePolicy`` ``Fail``, admission and background on), the pod-controller autogen
(``status.autogen.configs``) and the status Kyverno's status controller writes: ``WebhookConfigured`` and
``RBACPermissionsGranted`` conditions (the reports controller's service account has the ``view`` role, so a
rule on ``pods/ephemeralcontainers`` or ``secrets`` leaves the policy not ready for reporting, while enforcement
goes on), ``ready`` when every condition is true.

Kyverno 1.15 has no ``NamespacedValidatingPolicy`` (it arrived with ``v1beta1`` in 1.16).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from ...apiserver import validation_common as vc
from ...apiserver.errors import FieldError
from ...apiserver.resources import PrinterColumn, ResourceType
from .policies import _type_error

GROUP = "policies.kyverno.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ValidatingPolicy"
REPORT_SOURCE = "KyvernoValidatingPolicy"

RESOURCE = ResourceType(GROUP, VERSION, KIND, "validatingpolicies", namespaced=False, short_names=("vpol",),
                        categories=("kyverno",), subresources=("status",), custom=True, printer_columns=(
                            PrinterColumn("AGE", "date", ".metadata.creationTimestamp"),
                            PrinterColumn("READY", "string", ".status.conditionStatus.ready")))

ACTIONS = ("Deny", "Audit", "Warn")
FAILURE_POLICIES = ("Ignore", "Fail")
EVALUATION_MODES = ("Kubernetes", "JSON")


def is_vpol(obj: Mapping[str, Any]) -> bool:
    return obj.get("apiVersion") == API_VERSION and obj.get("kind") == KIND


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def spec(obj: Mapping[str, Any]) -> dict[str, Any]:
    return _d(obj.get("spec"))


def name(obj: Mapping[str, Any]) -> str:
    return str(_d(obj.get("metadata")).get("name", ""))


# --- accessors with Kyverno's defaults (validating_policy.go) ---

def validation_actions(obj: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in _l(spec(obj).get("validationActions"))] or ["Deny"]


def failure_policy(obj: Mapping[str, Any]) -> str:
    return "Ignore" if spec(obj).get("failurePolicy") == "Ignore" else "Fail"


def _enabled(obj: Mapping[str, Any], phase: str) -> bool:
    value = _d(_d(spec(obj).get("evaluation")).get(phase)).get("enabled")
    return value if isinstance(value, bool) else True


def admission_enabled(obj: Mapping[str, Any]) -> bool:
    return _enabled(obj, "admission")


def background_enabled(obj: Mapping[str, Any]) -> bool:
    return _enabled(obj, "background")


def evaluation_mode(obj: Mapping[str, Any]) -> str:
    return str(_d(spec(obj).get("evaluation")).get("mode") or "Kubernetes")


def match_constraints(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    mc = spec(obj).get("matchConstraints")
    return mc if isinstance(mc, dict) else None


def fine_grained(obj: Mapping[str, Any]) -> bool:
    """Kyverno gives the policy a webhook of its own (``...-finegrained-<name>``) for these settings."""
    s = spec(obj)
    return (s.get("matchConditions") is not None
            or _d(s.get("matchConstraints")).get("matchPolicy") == "Exact"
            or _d(s.get("webhookConfiguration")).get("timeoutSeconds") is not None)


# --- CRD defaults and structural schema ---

def apply_defaults(obj: dict[str, Any]) -> None:
    """The CRD's ``default: true`` for ``evaluation.admission.enabled`` / ``evaluation.background.enabled``."""
    evaluation = spec(obj).get("evaluation")
    if isinstance(evaluation, dict):
        for phase in ("admission", "background"):
            if isinstance(evaluation.get(phase), dict):
                evaluation[phase].setdefault("enabled", True)


def _go_map(item: Mapping[str, Any], key: str) -> str:
    return f'map[string]interface {{}}{{"{key}":{json.dumps(item.get(key), ensure_ascii=False)}}}'


def _list_map_errors(path: str, items: list[Any], required: tuple[str, ...], key: str | None) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        p = f"{path}[{i}]"
        if not isinstance(item, dict):
            errs.extend(e for e in [_type_error(p, item, "object")] if e)
            continue
        for field in required:
            if field not in item:
                errs.append(FieldError.required(f"{p}.{field}"))
            else:
                errs.extend(e for e in [_type_error(f"{p}.{field}", item[field], "string")] if e)
        if key and isinstance(item.get(key), str):
            if item[key] in seen:
                errs.append(vc.duplicate(p, vc.GoValue(_go_map(item, key))))
            seen.add(item[key])
    return errs


def schema_errors(obj: Mapping[str, Any]) -> list[FieldError]:
    """The structural-schema checks of the CRD a learner can trip over (422 ``is invalid`` errors)."""
    s = obj.get("spec")
    if not isinstance(s, dict):
        return [FieldError.required("spec")] if s is None else [e for e in [_type_error("spec", s, "object")] if e]
    errs: list[FieldError] = []
    for field, typ in (("matchConstraints", "object"), ("validations", "array"), ("failurePolicy", "string"),
                       ("auditAnnotations", "array"), ("matchConditions", "array"), ("variables", "array"),
                       ("autogen", "object"), ("validationActions", "array"), ("webhookConfiguration", "object"),
                       ("evaluation", "object")):
        errs.extend(e for e in [_type_error(f"spec.{field}", s.get(field), typ)] if e)
    fp = s.get("failurePolicy")
    if isinstance(fp, str) and fp not in FAILURE_POLICIES:
        errs.append(FieldError.not_supported("spec.failurePolicy", fp, list(FAILURE_POLICIES)))
    seen: set[str] = set()
    for i, action in enumerate(_l(s.get("validationActions"))):
        path = f"spec.validationActions[{i}]"
        if isinstance(action, str) and action not in ACTIONS:
            errs.append(FieldError.not_supported(path, action, list(ACTIONS)))
        elif action in seen:
            errs.append(vc.duplicate(path, action))
        seen.add(action)
    errs += _list_map_errors("spec.matchConditions", _l(s.get("matchConditions")), ("expression", "name"), "name")
    errs += _list_map_errors("spec.variables", _l(s.get("variables")), ("expression", "name"), "name")
    errs += _list_map_errors("spec.validations", _l(s.get("validations")), ("expression",), None)
    errs += _list_map_errors("spec.auditAnnotations", _l(s.get("auditAnnotations")), ("key", "valueExpression"),
                             None)
    timeout = _d(s.get("webhookConfiguration")).get("timeoutSeconds")
    errs.extend(e for e in [_type_error("spec.webhookConfiguration.timeoutSeconds", timeout, "integer")] if e)
    for phase in ("admission", "background"):
        enabled = _d(_d(s.get("evaluation")).get(phase)).get("enabled")
        errs.extend(e for e in [_type_error(f"spec.evaluation.{phase}.enabled", enabled, "boolean")] if e)
    return errs


# --- autogen for pod controllers (pkg/cel/autogen) ---

_CONTROLLERS = {  # resource -> (group, version, kind, replacements)
    "daemonsets": ("apps", "v1", "DaemonSet", "defaults"), "deployments": ("apps", "v1", "Deployment", "defaults"),
    "replicasets": ("apps", "v1", "ReplicaSet", "defaults"), "statefulsets": ("apps", "v1", "StatefulSet", "defaults"),
    "jobs": ("batch", "v1", "Job", "defaults"), "cronjobs": ("batch", "v1", "CronJob", "cronjobs"),
}
_REPLACEMENTS = {
    "defaults": (("spec", "spec.template.spec"), ("metadata", "spec.template.metadata")),
    "cronjobs": (("spec", "spec.jobTemplate.spec.template.spec"),
                 ("metadata", "spec.jobTemplate.spec.template.metadata")),
}


def can_autogen(constraints: Mapping[str, Any] | None) -> bool:
    """``CanAutoGen``: exactly one rule on core/v1 ``pods``, no selectors, exclusions or resource names."""
    if not isinstance(constraints, dict):
        return False
    for key in ("namespaceSelector", "objectSelector"):
        sel = _d(constraints.get(key))
        if sel.get("matchLabels") or sel.get("matchExpressions"):
            return False
    rules = _l(constraints.get("resourceRules"))
    if constraints.get("excludeResourceRules") or len(rules) != 1:
        return False
    rule = _d(rules[0])
    return (not rule.get("resourceNames") and rule.get("apiGroups") == [""] and rule.get("apiVersions") == ["v1"]
            and rule.get("resources") == ["pods"])


def _targets(controllers: list[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for resource in sorted(set(controllers)):
        if resource in _CONTROLLERS:
            group, version, kind, ref = _CONTROLLERS[resource]
            target = {"group": group, "kind": kind, "resource": resource, "version": version} if group else \
                {"kind": kind, "resource": resource, "version": version}
            out.setdefault(ref, []).append(target)
    return out


def _constraints(targets: list[dict[str, str]], operations: Any) -> dict[str, Any]:
    by_gv: dict[tuple[str, str], set[str]] = {}
    for t in targets:
        by_gv.setdefault((t.get("group", ""), t["version"]), set()).add(t["resource"])
    rules = []
    for (group, version), resources in sorted(by_gv.items()):
        rule: dict[str, Any] = {"apiGroups": [group], "apiVersions": [version]}
        if operations is not None:
            rule["operations"] = operations
        rule["resources"] = sorted(resources)
        rules.append(rule)
    return {"resourceRules": rules}


def _conditions(ref: str, targets: list[dict[str, str]], conditions: list[Any]) -> list[dict[str, Any]]:
    checks = sorted({f"(object.apiVersion == '{t['group'] + '/' if t.get('group') else ''}{t['version']}' && "
                     f"object.kind =='{t['kind']}')" for t in targets})
    precondition = " || ".join(checks)
    return [{"expression": f"!({precondition}) || ({_d(c).get('expression', '')})",
             "name": f"autogen-{ref}-{_d(c).get('name', '')}"} for c in conditions]


def _replace(text: str, ref: str) -> str:
    for src, dst in _REPLACEMENTS[ref]:
        for root in ("object.", "oldObject."):
            text = text.replace(root + src, root + dst)
    return text


def autogen_configs(obj: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``status.autogen.configs``: per replacement set (``defaults``, ``cronjobs``) the targets and the spec."""
    s = spec(obj)
    if not can_autogen(s.get("matchConstraints")):
        return {}
    controllers = list(_CONTROLLERS)
    configured = _d(_d(s.get("autogen")).get("podControllers")).get("controllers")
    if isinstance(configured, list):
        controllers = [str(c) for c in configured]
    operations = _d(_l(_d(s.get("matchConstraints")).get("resourceRules"))[0]).get("operations")
    out: dict[str, dict[str, Any]] = {}
    for ref, targets in sorted(_targets(controllers).items()):
        new = copy.deepcopy(s)
        new["matchConstraints"] = _constraints(targets, operations)
        if _l(s.get("matchConditions")):
            new["matchConditions"] = _conditions(ref, targets, _l(s.get("matchConditions")))
        out[ref] = {"spec": json.loads(_replace(json.dumps(new), ref)), "targets": targets}
    return out


# --- status (pkg/controllers/policystatus) ---

# The built-in ``view`` ClusterRole, which the reports controller's service account is bound to: (group, resource).
_VIEW = {("", r) for r in (
    "configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
    "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status",
    "bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
    "replicationcontrollers/status", "resourcequotas", "resourcequotas/status", "namespaces")} | {
    ("apps", r) for r in ("controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                          "deployments/status", "replicasets", "replicasets/scale", "replicasets/status",
                          "statefulsets", "statefulsets/scale", "statefulsets/status")} | {
    ("autoscaling", "horizontalpodautoscalers"), ("autoscaling", "horizontalpodautoscalers/status"),
    ("batch", "cronjobs"), ("batch", "cronjobs/status"), ("batch", "jobs"), ("batch", "jobs/status"),
    ("policy", "poddisruptionbudgets"), ("policy", "poddisruptionbudgets/status"),
    ("networking.k8s.io", "ingresses"), ("networking.k8s.io", "ingresses/status"),
    ("networking.k8s.io", "networkpolicies"), ("discovery.k8s.io", "endpointslices"),
    ("wgpolicyk8s.io", "policyreports"), ("wgpolicyk8s.io", "clusterpolicyreports")}


def missing_permissions(obj: Mapping[str, Any]) -> list[str]:
    """``<verb> <group>/<version>, Resource=<resource>: <reason>`` for each access the reports SA lacks."""
    out: list[str] = []
    for rule in _l(_d(match_constraints(obj)).get("resourceRules")):
        rule = _d(rule)
        for g in _l(rule.get("apiGroups")):
            for v in _l(rule.get("apiVersions")):
                for r in _l(rule.get("resources")):
                    if (g, r) in _VIEW:
                        continue
                    out.extend(f"{verb} {g}/{v}, Resource={r}: " for verb in ("get", "list", "watch"))
    return out


def _condition(ctype: str, ok: bool, message: str, old: Mapping[str, Any] | None, now: str) -> dict[str, Any]:
    status = "True" if ok else "False"
    since = old.get("lastTransitionTime") if old and old.get("status") == status else None
    return {"lastTransitionTime": since or now, "message": message, "reason": "Succeeded" if ok else "Failed",
            "status": status, "type": ctype}


def status(obj: Mapping[str, Any], old_status: Mapping[str, Any] | None, now: str) -> dict[str, Any]:
    """What the status controller settles on once the webhook is configured."""
    old = {c.get("type"): c for c in _l(_d(_d(old_status).get("conditionStatus")).get("conditions"))
           if isinstance(c, dict)}
    conditions = []
    if admission_enabled(obj):
        conditions.append(_condition("WebhookConfigured", True, "Webhook configured.", old.get("WebhookConfigured"),
                                     now))
    missing = missing_permissions(obj)
    message = ("Policy is not ready for reporting, missing permissions: " + "; ".join(missing) + "."
               if missing else "Policy is ready for reporting.")
    conditions.append(_condition("RBACPermissionsGranted", not missing, message,
                                 old.get("RBACPermissionsGranted"), now))
    configs = autogen_configs(obj)
    return {"autogen": {"configs": configs} if configs else {},
            "conditionStatus": {"conditions": conditions, "message": "",
                                "ready": all(c["status"] == "True" for c in conditions)},
            "generated": False}
