"""kyverno.io/v1 ClusterPolicy and Policy objects: CRD defaults, CRD schema checks, Kyverno's policy webhook
checks, the effective failure action of a rule, and the status the policy controller writes.

Creation of a bad policy fails in two places, as on a real cluster:

* the CRD's structural schema (apiserver, 422): ``The ClusterPolicy "x" is invalid: spec.validationFailureAction:
  Unsupported value: "foo": supported values: "audit", "enforce", "Audit", "Enforce"`` and
  ``spec.rules[0].match: Required value`` (:func:`schema_errors`);
* Kyverno's policy validating webhook ``validate-policy.kyverno.svc`` (``pkg/validation/policy/validate.go``),
  e.g. ``admission webhook "validate-policy.kyverno.svc" denied the request: path:
  spec.rules[0].validate.pattern.//spec/+(image).: unsupported anchor +(image)`` (:func:`validate_policy`).

The texts follow Kyverno ``main`` (v1.13+); see the notes in :mod:`.messages` for version differences.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ...apiserver.errors import FieldError
from . import autogen
from .anchors import check_validate_pattern_anchors

GROUP = "kyverno.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
POLICY_KINDS = ("ClusterPolicy", "Policy")
POLICY_WEBHOOK = "validate-policy.kyverno.svc"

ACTIONS = ("audit", "enforce", "Audit", "Enforce")
RULE_ACTIONS = ("Audit", "Enforce")
FAILURE_POLICIES = ("Ignore", "Fail")
DEPRECATED_ACTION_WARNING = "Validation failure actions enforce/audit are deprecated, use Enforce/Audit instead."

# ``regex.RegexVariables``: a ``{{ ... }}`` not preceded by a backslash.
VARIABLE_RE = re.compile(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})")
_FORBIDDEN_IN_BACKGROUND = [re.compile(r"[^.](" + v + r")\b") for v in (
    r"serviceAccountName", r"serviceAccountNamespace", r"request\.userInfo", r"request\.roles",
    r"request\.clusterRoles")]
_OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


# --- small accessors -----------------------------------------------------------------------------------


def is_policy(obj: Mapping[str, Any]) -> bool:
    return obj.get("apiVersion") == API_VERSION and obj.get("kind") in POLICY_KINDS


def policy_name(obj: Mapping[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def policy_namespace(obj: Mapping[str, Any]) -> str:
    """A namespaced ``Policy`` lives in its namespace; a ClusterPolicy has none."""
    return (obj.get("metadata") or {}).get("namespace", "") if obj.get("kind") == "Policy" else ""


def policy_key(obj: Mapping[str, Any]) -> str:
    """``cache.MetaNamespaceKeyFunc``: ``name`` or ``namespace/name`` (what reports show as ``policy``)."""
    ns = policy_namespace(obj)
    return f"{ns}/{policy_name(obj)}" if ns else policy_name(obj)


def spec(obj: Mapping[str, Any]) -> dict[str, Any]:
    s = obj.get("spec")
    return s if isinstance(s, dict) else {}


def background(obj: Mapping[str, Any]) -> bool:
    """``spec.background`` (CRD default true)."""
    return spec(obj).get("background", True) is not False


def admission(obj: Mapping[str, Any]) -> bool:
    """``spec.admission`` (CRD default true)."""
    return spec(obj).get("admission", True) is not False


def emit_warning(obj: Mapping[str, Any]) -> bool:
    return spec(obj).get("emitWarning") is True


def failure_policy(obj: Mapping[str, Any]) -> str:
    """``Spec.GetFailurePolicy``: webhookConfiguration.failurePolicy, then the deprecated field, then Fail."""
    s = spec(obj)
    wc = s.get("webhookConfiguration") or {}
    return wc.get("failurePolicy") or s.get("failurePolicy") or "Fail"


def webhook_timeout_seconds(obj: Mapping[str, Any]) -> int | None:
    s = spec(obj)
    wc = s.get("webhookConfiguration") or {}
    return wc.get("timeoutSeconds") if wc.get("timeoutSeconds") is not None else s.get("webhookTimeoutSeconds")


def is_enforce(action: Any) -> bool:
    """``ValidationFailureAction.Enforce()``: case-insensitive, so the legacy ``enforce`` counts."""
    return isinstance(action, str) and action.lower() == "enforce"


def rules(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    r = spec(obj).get("rules")
    return [x for x in r if isinstance(x, dict)] if isinstance(r, list) else []


# --- failure action -----------------------------------------------------------------------------------


def _override_matches(override: Mapping[str, Any], namespace: str, namespace_labels: Mapping[str, str]) -> bool:
    from . import match  # late: match imports nothing from here, but keep the dependency one-way at load time

    action = override.get("action")
    if action not in ACTIONS:
        return False
    selector = override.get("namespaceSelector")
    namespaces = override.get("namespaces")
    if namespaces is None:
        return selector is not None and match.check_selector(selector, namespace_labels)
    for ns in namespaces:
        if match.wildcard_match(ns, namespace):
            return selector is None or match.check_selector(selector, namespace_labels)
    return False


def rule_failure_action(obj: Mapping[str, Any], rule: Mapping[str, Any], namespace: str = "",
                        namespace_labels: Mapping[str, str] | None = None) -> str:
    """The effective action for one rule, ``Enforce`` or ``Audit``.

    Rule level first (``validate.failureActionOverrides``, then ``validate.failureAction``; for verifyImages
    any entry's ``failureAction: Enforce``, else the first one set), then the policy level
    (``validationFailureActionOverrides``, then ``validationFailureAction``, CRD default Audit).
    """
    labels = namespace_labels or {}
    validate = rule.get("validate")
    if isinstance(validate, dict) and validate:
        for o in validate.get("failureActionOverrides") or []:
            if _override_matches(o, namespace, labels):
                return "Enforce" if is_enforce(o["action"]) else "Audit"
        if validate.get("failureAction") is not None:
            return "Enforce" if is_enforce(validate["failureAction"]) else "Audit"
    elif rule.get("verifyImages"):
        actions = [e.get("failureAction") for e in rule["verifyImages"] if isinstance(e, dict)]
        actions = [a for a in actions if a is not None]
        if any(is_enforce(a) for a in actions):
            return "Enforce"
        if actions:
            return "Audit"
    s = spec(obj)
    for o in s.get("validationFailureActionOverrides") or []:
        if _override_matches(o, namespace, labels):
            return "Enforce" if is_enforce(o["action"]) else "Audit"
    return "Enforce" if is_enforce(s.get("validationFailureAction", "Audit")) else "Audit"


def may_enforce(obj: Mapping[str, Any]) -> bool:
    """``policycache computeEnforcePolicy``: the policy is evaluated in the blocking path at all."""
    s = spec(obj)
    if is_enforce(s.get("validationFailureAction")):
        return True
    if any(is_enforce(o.get("action")) for o in s.get("validationFailureActionOverrides") or []):
        return True
    for r in autogen.compute_rules(obj):
        v = r.get("validate") or {}
        if is_enforce(v.get("failureAction")) or any(is_enforce(o.get("action"))
                                                    for o in v.get("failureActionOverrides") or []):
            return True
        if any(is_enforce(e.get("failureAction")) for e in r.get("verifyImages") or [] if isinstance(e, dict)):
            return True
    return False


# --- CRD defaults and structural schema ----------------------------------------------------------------


def apply_defaults(obj: dict[str, Any]) -> None:
    """What the CRD's ``default:`` markers add when the apiserver decodes a policy."""
    s = obj.get("spec")
    if not isinstance(s, dict):
        return
    s.setdefault("admission", True)
    s.setdefault("background", True)
    s.setdefault("emitWarning", False)
    s.setdefault("validationFailureAction", "Audit")
    for rule in s.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        rule.setdefault("skipBackgroundRequests", True)
        v = rule.get("validate")
        if isinstance(v, dict):
            v.setdefault("allowExistingViolations", True)
        for entry in rule.get("verifyImages") or []:
            if isinstance(entry, dict):
                for k in ("mutateDigest", "required", "useCache", "verifyDigest"):
                    entry.setdefault(k, True)


_TYPES: dict[str, tuple[type, ...]] = {"boolean": (bool,), "integer": (int,), "string": (str,),
                                        "array": (list,), "object": (dict,)}


def _type_error(path: str, value: Any, want: str) -> FieldError | None:
    ok = isinstance(value, _TYPES[want]) and not (want == "integer" and isinstance(value, bool))
    if ok or value is None:
        return None
    got = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    if type(value) not in got:
        return None
    # apiextensions: ``spec.x: Invalid value: "string": spec.x in body must be of type boolean: "string"``
    name = got[type(value)]
    return FieldError("TypeInvalid", path, name, f'{path} in body must be of type {want}: "{name}"')


def schema_errors(obj: Mapping[str, Any]) -> list[FieldError]:
    """The parts of Kyverno's CRD schema a lab user can trip over (enums, required rule fields, types)."""
    errs: list[FieldError] = []
    s = obj.get("spec")
    if not isinstance(s, dict):
        return [FieldError.required("spec")] if s is None else [e for e in [_type_error("spec", s, "object")] if e]
    for field, typ in (("admission", "boolean"), ("background", "boolean"), ("emitWarning", "boolean"),
                       ("webhookTimeoutSeconds", "integer"), ("rules", "array")):
        e = _type_error(f"spec.{field}", s.get(field), typ)
        if e:
            errs.append(e)
    if isinstance(s.get("validationFailureAction"), str) and s["validationFailureAction"] not in ACTIONS:
        errs.append(FieldError.not_supported("spec.validationFailureAction", s["validationFailureAction"],
                                             list(ACTIONS)))
    if isinstance(s.get("failurePolicy"), str) and s["failurePolicy"] not in FAILURE_POLICIES:
        errs.append(FieldError.not_supported("spec.failurePolicy", s["failurePolicy"], list(FAILURE_POLICIES)))
    for i, o in enumerate(s.get("validationFailureActionOverrides") or []):
        if isinstance(o, dict) and isinstance(o.get("action"), str) and o["action"] not in ACTIONS:
            errs.append(FieldError.not_supported(f"spec.validationFailureActionOverrides[{i}].action", o["action"],
                                                 list(ACTIONS)))
    for i, rule in enumerate(s.get("rules") or [] if isinstance(s.get("rules"), list) else []):
        path = f"spec.rules[{i}]"
        if not isinstance(rule, dict):
            errs.extend(e for e in [_type_error(path, rule, "object")] if e)
            continue
        if "match" not in rule:
            errs.append(FieldError.required(f"{path}.match"))
        if "name" not in rule:
            errs.append(FieldError.required(f"{path}.name"))
        elif isinstance(rule["name"], str) and len(rule["name"].encode()) > 63:
            errs.append(FieldError("TooLong", f"{path}.name", detail="may not be more than 63 bytes"))
        v = rule.get("validate")
        if isinstance(v, dict) and isinstance(v.get("failureAction"), str) and v["failureAction"] not in RULE_ACTIONS:
            errs.append(FieldError.not_supported(f"{path}.validate.failureAction", v["failureAction"],
                                                 list(RULE_ACTIONS)))
        for j, entry in enumerate(rule.get("verifyImages") or []):
            if isinstance(entry, dict) and isinstance(entry.get("failureAction"), str) and \
                    entry["failureAction"] not in RULE_ACTIONS:
                errs.append(FieldError.not_supported(f"{path}.verifyImages[{j}].failureAction",
                                                     entry["failureAction"], list(RULE_ACTIONS)))
    return errs


# --- Kyverno's policy webhook ---------------------------------------------------------------------------


class PolicyValidationError(ValueError):
    """A policy Kyverno's webhook refuses; ``str(e)`` is the webhook's message."""


def _field_aggregate(errs: list[str]) -> str:
    """``field.ErrorList.ToAggregate().Error()`` (duplicates removed)."""
    unique = list(dict.fromkeys(errs))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _go_struct(kind: str) -> str:
    """Kyverno prints whole Go structs with ``%#v`` in a few messages; the sandbox abbreviates them."""
    return f"v1.{kind}{{...}}"


def _kinds(block: Mapping[str, Any] | None) -> list[str]:
    """``MatchResources.GetKinds``: resources.kinds, then all, then any."""
    if not isinstance(block, Mapping):
        return []
    out = list((block.get("resources") or {}).get("kinds") or [])
    for key in ("all", "any"):
        for f in block.get(key) or []:
            out.extend((f.get("resources") or {}).get("kinds") or [])
    return out


def _description_errors(path: str, rd: Mapping[str, Any], namespaced: bool,
                        cluster_kinds: set[str]) -> list[str]:
    errs = []
    if rd.get("name") and rd.get("names"):
        errs.append(f"{path}: Invalid value: {_go_struct('ResourceDescription')}: "
                    "Both name and names can not be specified together")
    if namespaced:
        if rd.get("namespaces"):
            errs.append(f"{path}.namespaces: Forbidden: Filtering namespaces not allowed in namespaced policies")
        for i, k in enumerate(rd.get("kinds") or []):
            if k in cluster_kinds:
                errs.append(f"{path}.kinds[{i}]: Forbidden: Cluster wide resource '{k}' not allowed in "
                            "namespaced policy")
    return errs


def _match_block_errors(path: str, block: Mapping[str, Any] | None, namespaced: bool,
                        cluster_kinds: set[str]) -> list[str]:
    if not isinstance(block, Mapping):
        return []
    errs = []
    if block.get("any") and block.get("all"):
        errs.append(f"{path}: Invalid value: {_go_struct('MatchResources')}: Can't specify any and all together")
    for key in ("any", "all"):
        for i, f in enumerate(block.get(key) or []):
            errs.extend(_description_errors(f"{path}.{key}[{i}]", f.get("resources") or {}, namespaced,
                                            cluster_kinds))
    errs.extend(_description_errors(path, block.get("resources") or {}, namespaced, cluster_kinds))
    return errs


def _has_type(rule: Mapping[str, Any], key: str) -> bool:
    v = rule.get(key)
    return bool(v) if key != "verifyImages" else isinstance(v, list) and len(v) > 0


def _api_errors(obj: Mapping[str, Any], cluster_kinds: set[str]) -> list[str]:
    """``ClusterPolicy.Validate`` / ``Spec.Validate`` (api/kyverno/v1)."""
    s = spec(obj)
    namespaced = obj.get("kind") == "Policy"
    errs: list[str] = []
    t = s.get("webhookTimeoutSeconds")
    if isinstance(t, int) and not 1 <= t <= 30:
        errs.append(f"spec.webhookTimeoutSeconds: Invalid value: {t}: the timeout value must be between 1 and 30 "
                    "seconds")
    wt = (s.get("webhookConfiguration") or {}).get("timeoutSeconds")
    if isinstance(wt, int) and not 1 <= wt <= 30:
        errs.append(f"spec.webhookConfiguration.timeoutSeconds: Invalid value: {wt}: the timeout value must be "
                    "between 1 and 30 seconds")
    seen: set[str] = set()
    for i, rule in enumerate(rules(obj)):
        path = f"spec.rules[{i}]"
        name = rule.get("name", "")
        if name in seen:
            errs.append(f"{path}.name: Invalid value: {_go_struct('Rule')}: Duplicate rule name: '{name}'")
        seen.add(name)
        count = sum(_has_type(rule, k) for k in ("mutate", "validate", "generate", "verifyImages"))
        if count == 0:
            errs.append(f"{path}: Invalid value: {_go_struct('Rule')}: No operation defined in the rule "
                        f"'{name}'.(supported operations: mutate,validate,generate,verifyImages)")
        elif count > 1:
            errs.append(f"{path}: Invalid value: {_go_struct('Rule')}: Multiple operations defined in the rule "
                        f"'{name}', only one operation (mutate,validate,generate,verifyImages) is allowed per rule")
        errs.extend(_match_block_errors(f"{path}.match", rule.get("match"), namespaced, cluster_kinds))
        errs.extend(_match_block_errors(f"{path}.exclude", rule.get("exclude"), namespaced, cluster_kinds))
    if namespaced and s.get("validationFailureActionOverrides"):
        errs.append("spec.validationFailureActionOverrides: Forbidden: Use of validationFailureActionOverrides is "
                    "supported only with ClusterPolicy")
    return errs


def _variables(obj: Mapping[str, Any]) -> list[str]:
    """Every ``{{ }}`` in the policy as Kyverno finds them (``hasVariables``, on the JSON)."""
    cleaned = copy.deepcopy(dict(obj))
    meta = cleaned.get("metadata") or {}
    if "kubectl.kubernetes.io/last-applied-configuration" in (meta.get("annotations") or {}):
        meta["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = ""
    cleaned.pop("status", None)
    return [m[1] for m in VARIABLE_RE.findall(json.dumps(cleaned))]


def _user_info_path(block: Mapping[str, Any] | None) -> str:
    if not isinstance(block, Mapping):
        return ""
    for key in ("roles", "clusterRoles", "subjects"):
        if block.get(key):
            return key
    return ""


def _background_variable_error(obj: Mapping[str, Any]) -> str | None:
    """``containsUserVariables``: admission-only data cannot be used by background scans."""
    for idx, rule in enumerate(autogen.compute_rules(obj)):
        for section in ("match", "exclude"):
            block = rule.get(section)
            if p := _user_info_path(block):
                return f"invalid variable used at path: spec/rules[{idx}]/{section}/{p}"
            for key in ("any", "all"):
                for i, f in enumerate((block or {}).get(key) or []):
                    if p := _user_info_path(f):
                        return f"invalid variable used at path: spec/rules[{idx}]/{section}/{key}[{i}]/{p}"
    for var in _variables(obj):
        if any(b.search(var) for b in _FORBIDDEN_IN_BACKGROUND):
            return f"variable {var} is not allowed"
    return None


def _condition_operation_error(conditions: Any, key: str) -> tuple[str, str] | None:
    """``validateConditions``: ``{{request.operation}}`` may only be compared with CREATE/UPDATE/DELETE/CONNECT."""
    def check(c: Mapping[str, Any]) -> tuple[str, str] | None:
        if c.get("key") is None or c.get("value") is None or not c.get("operator"):
            return "", "entered value of `key`, `value` or `operator` is missing or misspelled"
        if not isinstance(c["key"], str) or c["key"].replace(" ", "") != "{{request.operation}}":
            return None
        v = c["value"]
        allowed = "Only the following values are allowed: [CREATE, UPDATE, DELETE, CONNECT]"
        if isinstance(v, str):
            if len(v) >= 4 and v.startswith("{{") and v.endswith("}}"):
                return None
            if v not in _OPERATIONS:
                return f"value: {v}", f"unknown value '{v}' found under the 'value' field. {allowed}"
        elif isinstance(v, list):
            for i, x in enumerate(v):
                if x not in _OPERATIONS:
                    return f"value[{i}]", f"unknown value '{x}' found under the 'value' field. {allowed}"
        else:
            kind = {bool: "bool", int: "float64", float: "float64", dict: "map"}.get(type(v), "invalid")
            return "value", (f"'value' field found to be of the type {kind}. The provided value/values are "
                             "expected to be either in the form of a string or list")
        return None

    if isinstance(conditions, dict):
        for group in ("any", "all"):
            for i, c in enumerate(conditions.get(group) or []):
                if isinstance(c, dict) and (found := check(c)):
                    return f"{key}.{group}[{i}].{found[0]}", found[1]
    elif isinstance(conditions, list):
        for i, c in enumerate(conditions):
            if isinstance(c, dict) and (found := check(c)):
                return f"{key}[{i}].{found[0]}", found[1]
    return None


def _resources_error(rule: Mapping[str, Any]) -> tuple[str, str] | None:
    """``validateResources``: match/exclude shape and the request.operation condition values."""
    exclude = rule.get("exclude") or {}
    if (exclude.get("any") or exclude.get("all")) and exclude.get("resources"):
        return "exclude.", "can't specify any/all together with exclude resources"
    if exclude.get("any") and exclude.get("all"):
        return "match.", "can't specify any and all together"
    match = rule.get("match") or {}
    if (match.get("any") or match.get("all")) and match.get("resources"):
        return "match.", "can't specify any/all together with match resources"
    filters = match.get("any") or match.get("all") or [match]
    for f in filters:
        if not f.get("resources"):
            return "match.resources.", "match resources not specified"
    if (found := _condition_operation_error(rule.get("preconditions"), "preconditions")) is not None:
        return f"validate.{found[0]}", found[1]
    deny = ((rule.get("validate") or {}).get("deny") or {})
    if (found := _condition_operation_error(deny.get("conditions"), "conditions")) is not None:
        return f"validate.deny.{found[0]}", found[1]
    return None


def _validate_rule_error(idx: int, rule: Mapping[str, Any]) -> str | None:
    """``pkg/policy/validate``: exactly one validation kind, anchors in patterns, foreach lists."""
    v = rule.get("validate")
    if not v:
        return None
    elems = [k for k in ("pattern", "anyPattern", "deny", "foreach", "podSecurity", "cel") if v.get(k) is not None]
    if (v.get("manifests") or {}).get("attestors"):
        elems.append("manifests")
    if v.get("assert"):
        elems.append("assert")
    prefix = f"path: spec.rules[{idx}].validate."
    if not elems:
        return prefix + ".: one of pattern, anyPattern, deny, foreach, cel must be specified"
    if len(elems) > 1:
        return prefix + ".: only one of pattern, anyPattern, deny, foreach, cel can be specified"
    if v.get("pattern") is not None:
        found = check_validate_pattern_anchors(v["pattern"])
        if found:
            return f"{prefix}pattern.{found[0]}.: {found[1]}"
    if v.get("anyPattern") is not None:
        if not isinstance(v["anyPattern"], list):
            return (f"{prefix}anyPattern.: failed to deserialize anyPattern, expect array: json: cannot unmarshal "
                    "object into Go value of type []interface {}")
        for i, p in enumerate(v["anyPattern"]):
            found = check_validate_pattern_anchors(p)
            if found:
                return f"{prefix}anyPattern[{i}].{found[0]}.: {found[1]}"
    for fe in v.get("foreach") or []:
        if not fe.get("list"):
            return prefix + ".: foreach.list is required"
        n = sum(fe.get(k) is not None for k in ("pattern", "anyPattern", "deny")) + bool(fe.get("foreach"))
        if n == 0:
            return prefix + ".: one of pattern, anyPattern, deny, or a nested foreach must be specified"
        if n > 1:
            return prefix + ".: only one of pattern, anyPattern, deny, or a nested foreach can be specified"
    if rule.get("celPreconditions") and v.get("cel") is None:
        return prefix + ".: celPrecondition can only be used with validate.cel"
    for e in (v.get("cel") or {}).get("expressions") or []:
        if not e.get("expression"):
            return prefix + ".: cel.expressions.expression is required"
    return None


def _only_metadata(rule: Mapping[str, Any]) -> bool:
    """``ruleOnlyDealsWithResourceMetaData``: the rule's patterns only look at ``metadata``."""
    mutate = rule.get("mutate") or {}
    if any(k != "metadata" for k in (mutate.get("patchStrategicMerge") or {})):
        return False
    v = rule.get("validate") or {}
    if isinstance(v.get("pattern"), dict) and any(k != "metadata" for k in v["pattern"]):
        return False
    for p in v.get("anyPattern") or [] if isinstance(v.get("anyPattern"), list) else []:
        if isinstance(p, dict) and any(k != "metadata" for k in p):
            return False
    return True


def _verify_images_errors(idx: int, obj: Mapping[str, Any], rule: Mapping[str, Any]) -> list[str]:
    audit = not is_enforce(spec(obj).get("validationFailureAction", "Audit"))
    errs = []
    for j, entry in enumerate(rule.get("verifyImages") or []):
        if not isinstance(entry, dict):
            continue
        if entry.get("failureAction") is not None:
            audit = not is_enforce(entry["failureAction"])
        path = f"spec.rules[{idx}].verifyImages[{j}]"
        if audit and entry.get("mutateDigest"):
            errs.append(f"{path}.mutateDigest: Invalid value: true: mutateDigest must be set to false for "
                        "\u2018Audit\u2019 failure action")
        if not entry.get("imageReferences") and not entry.get("image"):
            errs.append(f"{path}: Invalid value: {_go_struct('ImageVerification')}: An image reference is required")
    return errs


def _kind_error(kinds: list[str], rule: Mapping[str, Any], bg: bool, kind_exists: Callable[[str], bool] | None) -> str | None:
    """``validateKinds``: wildcards, and every kind must be served by the cluster."""
    if "*" in kinds:
        if bg:
            return ("wildcard policy not allowed in background mode. Set spec.background=false to disable "
                    "background mode for this policy rule ")
        if len(kinds) > 1:
            return "wildcard policy can not deal with more than one kind"
        v = rule.get("validate") or {}
        if rule.get("generate") or rule.get("verifyImages") or v.get("foreach") is not None:
            return "wildcard policy does not support rule type"
        return None
    if kind_exists is None:
        return None
    for k in kinds:
        if not kind_exists(k):
            return f"the kind defined in the all match resource is invalid: unable to convert GVK to GVR for kinds {k}"
    return None


def validate_policy(obj: Mapping[str, Any], *, kind_exists: Callable[[str], bool] | None = None,
                    cluster_kinds: Iterable[str] = ()) -> list[str]:
    """Kyverno's policy webhook (``policyvalidate.Validate``); returns warnings, raises
    :class:`PolicyValidationError` with the webhook's message.

    ``kind_exists(selector)`` answers discovery (``Pod``, ``apps/v1/Deployment``, ``Pod/ephemeralcontainers``);
    without it every kind is accepted (the CLI's offline mode). ``cluster_kinds`` are cluster-scoped kinds,
    which a namespaced Policy may not select.
    """
    s = spec(obj)
    warnings: list[str] = []
    if s.get("validationFailureAction") in ("enforce", "audit") or any(
            o.get("action") in ("enforce", "audit") for o in s.get("validationFailureActionOverrides") or []):
        warnings.append(DEPRECATED_ACTION_WARNING)
    for rule in rules(obj):
        v = rule.get("validate") or {}
        if v.get("failureAction") in ("enforce", "audit"):
            warnings.append(DEPRECATED_ACTION_WARNING)
    bg = background(obj)
    if bg and (err := _background_variable_error(obj)):
        raise PolicyValidationError("only select variables are allowed in background mode. Set spec.background=false "
                                    f"to disable background mode for this policy rule: {err} ")
    api = _api_errors(obj, set(cluster_kinds))
    if api:
        raise PolicyValidationError(_field_aggregate(api))
    if not admission(obj) and not bg:
        raise PolicyValidationError("disabling both admission and background processing is not allowed")
    if not admission(obj) and any(r.get("mutate") or r.get("generate") or r.get("verifyImages") for r in rules(obj)):
        raise PolicyValidationError("disabling admission processing is only allowed with validation policies")
    computed = autogen.compute_rules(obj)
    for i, rule in enumerate(computed):
        for section in ("match", "exclude"):
            block = rule.get(section) or {}
            for key in ("any", "all"):
                for j, f in enumerate(block.get(key) or []):
                    if err := _kind_error(list((f.get("resources") or {}).get("kinds") or []), rule, bg, kind_exists):
                        raise PolicyValidationError(f"path: spec.rules[{i}].{section}.{key}[{j}].kinds: {err}")
            if err := _kind_error(list((block.get("resources") or {}).get("kinds") or []), rule, bg, kind_exists):
                raise PolicyValidationError(f"path: spec.rules[{i}].{section}.kinds: {err}")
    for i, rule in enumerate(computed):
        if (found := _resources_error(rule)) is not None:
            raise PolicyValidationError(f"path: spec.rules[{i}].{found[0]}: {found[1]}")
        match = rule.get("match") or {}
        filters = match.get("any") or match.get("all") or [match]
        if any(not (f.get("resources") or {}).get("kinds") for f in filters):
            if not _only_metadata(rule):
                raise PolicyValidationError("policy can only deal with the metadata field of the resource if the rule "
                                            "does not match any kind")
            raise PolicyValidationError("at least one element must be specified in a kind block, the kind attribute "
                                        "is mandatory when working with the resources element")
        if err := _validate_rule_error(i, rule):
            raise PolicyValidationError(err)
        if rule.get("verifyImages") and (errs := _verify_images_errors(i, obj, rule)):
            raise PolicyValidationError(_field_aggregate(errs))
    return warnings


# --- status ---------------------------------------------------------------------------------------------


def status(obj: Mapping[str, Any], old_status: Mapping[str, Any] | None, now: str) -> dict[str, Any]:
    """What Kyverno's policy status controller settles on: Ready, rule counts and the autogen rules."""
    counts = {"generate": 0, "mutate": 0, "validate": 0, "verifyimages": 0}
    for r in rules(obj):
        for key, field in (("generate", "generate"), ("mutate", "mutate"), ("validate", "validate"),
                           ("verifyimages", "verifyImages")):
            if r.get(field):
                counts[key] += 1
    ready = {"message": "Ready", "reason": "Succeeded", "status": "True", "type": "Ready"}
    old_ready = next((c for c in (old_status or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    if old_ready and old_ready.get("status") == "True" and old_ready.get("lastTransitionTime"):
        ready["lastTransitionTime"] = old_ready["lastTransitionTime"]
    else:
        ready["lastTransitionTime"] = now
    out: dict[str, Any] = {}
    generated = autogen.generated_rules(obj)
    out["autogen"] = {"rules": generated} if generated else {}
    out["conditions"] = [ready]
    out["rulecount"] = counts
    out["validatingadmissionpolicy"] = {"generated": False, "message": ""}
    return out
