"""Autogen (``pkg/autogen/v1``): Pod rules re-rooted for the workload controllers that create Pods.

A rule that matches only ``Pod`` gets two companions, unless the policy opts out:

* ``autogen-<rule>`` for DaemonSet, Deployment, Job, ReplicaSet, ReplicationController and StatefulSet
  (kinds written ``apps/v1/Deployment`` ...), with patterns under ``spec.template``;
* ``autogen-cronjob-<rule>`` for ``batch/v1/CronJob``, under ``spec.jobTemplate.spec.template``.

Names are cut to 63 characters. ``request.object.spec``-style references in the rule (foreach lists,
preconditions, messages; ``object.spec`` for CEL) are re-rooted by plain text replacement, as upstream does
on the rule's JSON. The annotation ``pod-policies.kyverno.io/autogen-controllers`` picks the controllers
(``none`` disables autogen). A rule that selects by name, label selector or annotations, or mixes Pod with
other kinds, disables autogen for the whole policy; so do generate rules and JSON patches.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

ANNOTATION = "pod-policies.kyverno.io/autogen-controllers"
CRONJOB = "CronJob"
POD_CONTROLLERS = frozenset({"DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController",
                             CRONJOB})
_NON_CRON = ("DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController")
GVK = {
    "DaemonSet": "apps/v1/DaemonSet",
    "Deployment": "apps/v1/Deployment",
    "Job": "batch/v1/Job",
    "StatefulSet": "apps/v1/StatefulSet",
    "ReplicaSet": "apps/v1/ReplicaSet",
    "ReplicationController": "v1/ReplicationController",
    "CronJob": "batch/v1/CronJob",
    "Pod": "v1/Pod",
}

_POD_REPLACEMENTS = (
    ("request.object.spec", "request.object.spec.template.spec"),
    ("request.oldObject.spec", "request.oldObject.spec.template.spec"),
    ("request.object.metadata", "request.object.spec.template.metadata"),
    ("request.oldObject.metadata", "request.oldObject.spec.template.metadata"),
)
_POD_CEL_REPLACEMENTS = (
    ("object.spec", "object.spec.template.spec"),
    ("oldObject.spec", "oldObject.spec.template.spec"),
    ("object.metadata", "object.spec.template.metadata"),
    ("oldObject.metadata", "oldObject.spec.template.metadata"),
)
_CRON_REPLACEMENTS = tuple((a, a.replace(".spec", ".spec.jobTemplate.spec.template.spec", 1) if a.endswith(".spec")
                            else a.replace(".metadata", ".spec.jobTemplate.spec.template.metadata", 1))
                           for a, _ in _POD_REPLACEMENTS)
_CRON_CEL_REPLACEMENTS = tuple((a, a.replace(".spec", ".spec.jobTemplate.spec.template.spec", 1) if a.endswith(".spec")
                                else a.replace(".metadata", ".spec.jobTemplate.spec.template.metadata", 1))
                               for a, _ in _POD_CEL_REPLACEMENTS)


# --- kind selectors (pkg/utils/kube/kind.go) --------------------------------------------------------------


def kind_of(selector: str) -> str:
    """``GetKindFromGVK`` + ``SplitSubresource``: the bare kind of ``apps/v1/Deployment`` or ``Pod/status``."""
    import re

    version = re.compile(r"^(v\d+((alpha|beta)\d+)?|\*)$")
    parts = selector.split("/")
    if len(parts) == 1:
        kind = selector.replace(".", "/", 1)
    elif len(parts) == 2:
        if parts == ["*", "*"] or not version.match(parts[0]):
            kind = selector
        else:
            kind = parts[1].replace(".", "/", 1)
    elif len(parts) == 3:
        kind = f"{parts[1]}/{parts[2]}" if version.match(parts[0]) else parts[2].replace(".", "/", 1)
    elif len(parts) == 4:
        kind = f"{parts[2]}/{parts[3]}"
    else:
        kind = ""
    return kind.split("/")[0] if kind.count("/") == 1 else kind


def contains_kind(kinds: list[str], kind: str) -> bool:
    return any(kind_of(k) == kind for k in kinds)


def match_kinds(block: Mapping[str, Any] | None) -> list[str]:
    """``MatchResources.GetKinds``."""
    if not isinstance(block, Mapping):
        return []
    out = list((block.get("resources") or {}).get("kinds") or [])
    for key in ("all", "any"):
        for f in block.get(key) or []:
            out.extend((f.get("resources") or {}).get("kinds") or [])
    return out


# --- can this policy be auto-generated? -------------------------------------------------------------------


def _descriptions(block: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not isinstance(block, Mapping):
        return []
    out = [block.get("resources") or {}]
    for key in ("any", "all"):
        out.extend((f.get("resources") or {}) for f in block.get(key) or [])
    return out


def can_autogen(spec: Mapping[str, Any]) -> tuple[bool, frozenset[str]]:
    """``CanAutoGen``: (applies, controllers)."""
    needed = False
    for rule in spec.get("rules") or []:
        if rule.get("generate"):
            return False, frozenset({"none"})
        mutate = rule.get("mutate") or {}
        if mutate.get("patchesJson6902") or any(fe.get("patchesJson6902") for fe in mutate.get("foreach") or []):
            return False, frozenset({"none"})
        for rd in _descriptions(rule.get("match")) + _descriptions(rule.get("exclude")):
            kinds = rd.get("kinds") or []
            if (rd.get("name") or rd.get("names") or rd.get("selector") is not None
                    or rd.get("annotations") is not None or (len(kinds) > 1 and contains_kind(kinds, "Pod"))):
                return False, frozenset()
            needed = needed or any(k in POD_CONTROLLERS or k == "Pod" for k in kinds)
    if not needed:
        return False, frozenset()
    return True, POD_CONTROLLERS


def _split_kinds(controllers: str) -> list[str]:
    return sorted(controllers.split(","))


def _strip_cronjob(controllers: str) -> str:
    return ",".join(c for c in _split_kinds(controllers) if c != CRONJOB)


def _gvks(kinds: list[str]) -> list[str]:
    return [GVK.get(k, k) for k in kinds]


# --- generation ------------------------------------------------------------------------------------------


def _set_filters(filters: list[dict[str, Any]], kinds: list[str], only_pod: bool) -> list[dict[str, Any]]:
    out = copy.deepcopy(filters)
    for f in out:
        rd = f.setdefault("resources", {})
        if not only_pod or contains_kind(rd.get("kinds") or [], "Pod"):
            rd["kinds"] = _gvks(kinds)
    return out


def _wrap(tpl_key: str, target: Any) -> dict[str, Any]:
    return {"spec": {tpl_key: target}}


def _validation(old: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if old.get("message"):
        out["message"] = old["message"]
    for k in ("failureAction", "failureActionOverrides", "allowExistingViolations"):
        if old.get(k) is not None:
            out[k] = old[k]
    out.update(fields)
    return out


def _generate_rule(name: str, rule: Mapping[str, Any] | None, tpl_key: str, kinds: list[str],
                   only_pod: bool) -> dict[str, Any] | None:
    """``generateRule``: copy with new kinds and patterns moved under ``spec.<tpl_key>``."""
    if rule is None:
        return None
    r = copy.deepcopy(dict(rule))
    r["name"] = name
    match = r.setdefault("match", {})
    if match.get("any"):
        match["any"] = _set_filters(match["any"], kinds, only_pod)
    elif match.get("all"):
        match["all"] = _set_filters(match["all"], kinds, only_pod)
    else:
        match.setdefault("resources", {})["kinds"] = _gvks(kinds)
    exclude = r.get("exclude")
    if isinstance(exclude, dict):
        if exclude.get("any"):
            exclude["any"] = _set_filters(exclude["any"], kinds, only_pod)
        elif exclude.get("all"):
            exclude["all"] = _set_filters(exclude["all"], kinds, only_pod)
        elif (exclude.get("resources") or {}).get("kinds"):
            exclude["resources"]["kinds"] = _gvks(kinds)
    mutate = r.get("mutate")
    if mutate:
        if mutate.get("patchStrategicMerge") is not None:
            r["mutate"] = {"patchStrategicMerge": _wrap(tpl_key, mutate["patchStrategicMerge"])}
            return r
        if mutate.get("foreach"):
            r["mutate"] = {"foreach": [
                {**{k: fe[k] for k in ("list", "context", "preconditions") if k in fe},
                 "patchStrategicMerge": _wrap(tpl_key, fe.get("patchStrategicMerge"))}
                for fe in mutate["foreach"]]}
            return r
    v = r.get("validate")
    if v:
        if v.get("pattern") is not None:
            r["validate"] = _validation(v, pattern=_wrap(tpl_key, v["pattern"]))
            return r
        if v.get("deny") is not None:
            r["validate"] = _validation(v, deny=v["deny"])
            return r
        if v.get("podSecurity") is not None:
            r["validate"] = _validation(v, podSecurity=copy.deepcopy(v["podSecurity"]))
            return r
        if v.get("anyPattern") is not None:
            patterns = v["anyPattern"] if isinstance(v["anyPattern"], list) else []
            r["validate"] = _validation(v, anyPattern=[_wrap(tpl_key, p) for p in patterns])
            return r
        if v.get("foreach"):
            r["validate"] = _validation(v, foreach=copy.deepcopy(v["foreach"]))
            return r
        if v.get("cel") is not None:
            return r
        if v.get("assert"):
            value = v["assert"]
            if isinstance(value, dict):
                value = dict(value)
                for node in ("object", "oldObject"):
                    if isinstance(value.get(node), dict):
                        value[node] = _wrap(tpl_key, dict(value[node]))
                v["assert"] = value
            return r
    if r.get("verifyImages"):
        return r
    return None


def _autogen_name(prefix: str, name: str) -> str:
    return f"{prefix}-{name}"[:63]


def _rule_for_controllers(rule: Mapping[str, Any], controllers: str) -> dict[str, Any] | None:
    """``generateRuleForControllers``."""
    if str(rule.get("name", "")).startswith("autogen-") or controllers == "":
        return None
    match_k = match_kinds(rule.get("match"))
    exclude_k = match_kinds(rule.get("exclude"))
    if not contains_kind(match_k, "Pod") or (exclude_k and not contains_kind(exclude_k, "Pod")):
        return None
    if controllers == "all":
        controllers = ",".join(_NON_CRON)
    elif controllers != "none":
        valid = [c for c in _split_kinds(controllers) if c in _NON_CRON]
        if valid:
            controllers = ",".join(valid)
    return _generate_rule(_autogen_name("autogen", rule.get("name", "")), rule, "template",
                          _split_kinds(controllers), only_pod=True)


def _cronjob_rule(rule: Mapping[str, Any], controllers: str) -> dict[str, Any] | None:
    if CRONJOB not in controllers and "all" not in controllers:
        return None
    return _generate_rule(_autogen_name("autogen-cronjob", rule.get("name", "")),
                          _rule_for_controllers(rule, controllers), "jobTemplate", [CRONJOB], only_pod=False)


_KEEP = ("name", "context", "match", "exclude", "preconditions", "celPreconditions", "mutate", "validate",
         "verifyImages", "skipBackgroundRequests")


def _convert(rule: dict[str, Any], pod: bool) -> dict[str, Any]:
    """``createRule`` + ``convertRule``: drop empty parts, then re-root ``request.object...`` references."""
    slim = {k: rule[k] for k in _KEEP if k in rule and rule[k] not in (None, {}, [])}
    slim["name"] = rule["name"]
    cel = isinstance(slim.get("validate"), dict) and slim["validate"].get("cel") is not None
    if pod:
        table = _POD_CEL_REPLACEMENTS if cel else _POD_REPLACEMENTS
    else:
        table = _CRON_CEL_REPLACEMENTS if cel else _CRON_REPLACEMENTS
    text = json.dumps(slim)
    for old, new in table:
        text = text.replace(old, new)
    return json.loads(text)


def _generate_rules(spec: Mapping[str, Any], controllers: str) -> list[dict[str, Any]]:
    out = []
    for rule in spec.get("rules") or []:
        gen = _rule_for_controllers(rule, _strip_cronjob(controllers))
        if gen is not None:
            out.append(_convert(gen, pod=True))
        gen = _cronjob_rule(rule, controllers)
        if gen is not None:
            out.append(_convert(gen, pod=False))
    return out


def _controllers(policy: Mapping[str, Any]) -> str:
    spec = policy.get("spec") or {}
    apply, desired = can_autogen(spec)
    if not apply:
        desired = frozenset({"none"})
    ann = ((policy.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    actual = desired if ann is None or not apply else frozenset(ann.split(","))
    return ",".join(sorted(actual))


def generated_rules(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rules Kyverno adds for pod controllers (what ``status.autogen.rules`` shows)."""
    controllers = _controllers(policy)
    if controllers == "none":
        return []
    return _generate_rules(policy.get("spec") or {}, controllers)


def compute_rules(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``autogen.ComputeRules(policy, "")``: the policy's own rules followed by the generated ones."""
    own = [r for r in (policy.get("spec") or {}).get("rules") or [] if isinstance(r, dict)]
    generated = generated_rules(policy)
    if not generated:
        return own
    return [r for r in own if not str(r.get("name", "")).startswith("autogen-")] + generated


def requested_controllers(policy: Mapping[str, Any]) -> str | None:
    """The raw annotation value, or None."""
    return ((policy.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
