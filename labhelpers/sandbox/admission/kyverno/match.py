"""Does a rule apply to a resource? (``pkg/engine/utils/match.go``, ``pkg/utils/match``).

``match``/``exclude`` blocks hold either one resource description (deprecated form), ``any`` (OR) or ``all``
(AND) of resource filters. Inside one filter every given attribute must hold (AND), and list attributes match
if any element matches (OR). Kinds accept ``Kind``, ``Kind/subresource``, ``version/Kind`` and
``group/version/Kind[/subresource]`` with ``*``/``?`` wildcards in each part. Names, namespaces, annotations
and label-selector keys/values use the same wildcards. User info (roles, clusterRoles, subjects) is checked
against the request; the sandbox's single user has no roles.

Also here: Kyverno's global ``resourceFilters`` (kinds/namespaces it never processes) and
``ManagedPodResource`` (Pods owned by controllers are left to the autogen rules when the policy sets the
autogen annotation).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .autogen import ANNOTATION
from .wildcard import contains_wildcard
from .wildcard import match as wildcard_match

__all__ = ["GVK", "RequestInfo", "check_kind", "check_selector", "matches", "parse_kind_selector",
           "resource_filtered", "wildcard_match"]

_VERSION_RE = re.compile(r"^(v\d+((alpha|beta)\d+)?|\*)$")


@dataclass(frozen=True)
class GVK:
    group: str
    version: str
    kind: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> GVK:
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        return cls(group, version, str(obj.get("kind", "")))


@dataclass(frozen=True)
class RequestInfo:
    """``RequestInfo``: who is asking (empty for background scans)."""

    username: str = ""
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    cluster_roles: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.username or self.groups or self.roles or self.cluster_roles)


def parse_kind_selector(selector: str) -> tuple[str, str, str, str]:
    """``kubeutils.ParseKindSelector``: (group, version, kind, subresource); ``*`` where not given."""
    parts = selector.split("/")
    parts = parts[:-1] + parts[-1].split(".")
    n = len(parts)
    if n == 1:
        return "*", "*", parts[0], ""
    if n == 2:
        if parts[0] == "*" and parts[1] == "*":
            return "*", "*", "*", "*"
        if parts[0] == "*" and parts[1].lower() == parts[1]:
            return "*", "*", parts[0], parts[1]
        if _VERSION_RE.match(parts[0]):
            return "*", parts[0], parts[1], ""
        return "*", "*", parts[0], parts[1]
    if n == 3:
        if _VERSION_RE.match(parts[0]):
            return "*", parts[0], parts[1], parts[2]
        return parts[0], parts[1], parts[2], ""
    if n == 4:
        return parts[0], parts[1], parts[2], parts[3]
    return "", "", "", ""


def check_kind(kinds: Iterable[str], gvk: GVK, subresource: str, allow_ephemeral: bool = True) -> bool:
    """``CheckKind``: a kind without subresource matches every subresource of that kind; a Pod rule also
    covers ``pods/ephemeralcontainers`` (``kubectl debug``)."""
    for k in kinds:
        group, version, kind, sub = parse_kind_selector(k)
        if wildcard_match(group, gvk.group) and wildcard_match(version, gvk.version) and wildcard_match(kind, gvk.kind):
            if sub == "" or wildcard_match(sub, subresource):
                return True
            if allow_ephemeral and gvk == GVK("", "v1", "Pod") and subresource == "ephemeralcontainers":
                return True
    return False


def _replace_wildcards(selector: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """``wildcards.ReplaceInSelector``: a wildcard matchLabels entry becomes the first label it matches."""
    out = dict(selector)
    ml = selector.get("matchLabels")
    if not ml:
        return out
    new: dict[str, str] = {}
    for k, v in ml.items():
        if contains_wildcard(k) or contains_wildcard(str(v)):
            found = next(((lk, lv) for lk, lv in labels.items() if wildcard_match(k, lk) and wildcard_match(str(v), lv)),
                         None)
            if found is not None:
                new[found[0]] = found[1]
                continue
            # no label matches: keep a requirement that cannot be satisfied
            new[k.replace("*", "0").replace("?", "0")] = "\x00"
            continue
        new[k] = v
    out["matchLabels"] = new
    return out


def check_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """``CheckSelector``: a metav1.LabelSelector with Kyverno's wildcard extension. None matches nothing."""
    if selector is None:
        return False
    sel = _replace_wildcards(selector, labels)
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _check_annotations(expected: Mapping[str, str], actual: Mapping[str, str]) -> bool:
    return all(any(wildcard_match(k, ak) and wildcard_match(v, av) for ak, av in actual.items())
               for k, v in expected.items())


def _check_subjects(subjects: Iterable[Mapping[str, Any]], info: RequestInfo) -> bool:
    for s in subjects:
        kind, name = s.get("kind"), s.get("name", "")
        if kind == "ServiceAccount":
            if wildcard_match(f"system:serviceaccount:{s.get('namespace', '')}:{name}", info.username):
                return True
        elif kind == "Group":
            if any(wildcard_match(name, g) for g in info.groups):
                return True
        elif kind == "User" and wildcard_match(name, info.username):
            return True
    return False


def _condition_block(rd: Mapping[str, Any], user: Mapping[str, Any], info: RequestInfo, resource: Mapping[str, Any],
                     namespace_labels: Mapping[str, str], gvk: GVK, subresource: str, operation: str) -> list[str]:
    """``doesResourceMatchConditionBlock``: the reasons this filter does not match (empty = match)."""
    errs: list[str] = []
    meta = resource.get("metadata") or {}
    if rd.get("kinds") and not check_kind(rd["kinds"], gvk, subresource, True):
        errs.append(f"kind does not match {rd['kinds']}")
    name = meta.get("name") or meta.get("generateName") or ""
    if rd.get("name") and not wildcard_match(rd["name"], name):
        errs.append("name does not match")
    if rd.get("names") and not any(wildcard_match(n, name) for n in rd["names"]):
        errs.append("none of the names match")
    if rd.get("namespaces"):
        ns = meta.get("name", "") if resource.get("kind") == "Namespace" else meta.get("namespace", "")
        if not any(wildcard_match(n, ns) for n in rd["namespaces"]):
            errs.append("namespace does not match")
    if rd.get("annotations") and not _check_annotations(rd["annotations"], meta.get("annotations") or {}):
        errs.append("annotations does not match")
    if rd.get("selector") is not None and not check_selector(rd["selector"], meta.get("labels") or {}):
        errs.append("selector does not match")
    if rd.get("namespaceSelector") is not None and resource.get("kind") != "Namespace" and \
            not check_selector(rd["namespaceSelector"], namespace_labels):
        errs.append("namespace selector does not match")
    if rd.get("operations") and operation and operation not in rd["operations"]:
        errs.append("operation does not match")
    if user.get("roles") and not set(user["roles"]) & set(info.roles):
        errs.append("user info does not match roles for the given conditionBlock")
    if user.get("clusterRoles") and not set(user["clusterRoles"]) & set(info.cluster_roles):
        errs.append("user info does not match clustersRoles for the given conditionBlock")
    if user.get("subjects") and not _check_subjects(user["subjects"], info):
        errs.append("user info does not match subject for the given conditionBlock")
    return errs


def _user(filter_: Mapping[str, Any]) -> dict[str, Any]:
    return {k: filter_[k] for k in ("roles", "clusterRoles", "subjects") if filter_.get(k)}


def _match_helper(f: Mapping[str, Any], info: RequestInfo, *args: Any) -> list[str]:
    rd = f.get("resources") or {}
    user = {} if info.empty else _user(f)
    if not rd and not user:
        return ["match cannot be empty"]
    return _condition_block(rd, user, info, *args)


def _exclude_helper(f: Mapping[str, Any], info: RequestInfo, *args: Any) -> list[str]:
    rd = f.get("resources") or {}
    user = _user(f)
    if not rd and not user:
        return []
    errs = _condition_block(rd, user, info, *args)
    return [] if errs else ["resource excluded since one of the criteria excluded it"]


def matches(rule: Mapping[str, Any], resource: Mapping[str, Any], *, operation: str = "", subresource: str = "",
            namespace_labels: Mapping[str, str] | None = None, info: RequestInfo | None = None,
            policy_namespace: str = "", gvk: GVK | None = None) -> str | None:
    """``MatchesResourceDescription``: None when the rule applies, else Kyverno's reason text."""
    info = info or RequestInfo()
    gvk = gvk or GVK.of(resource)
    meta = resource.get("metadata") or {}
    if policy_namespace and policy_namespace != meta.get("namespace", ""):
        return "policy and resource namespaces mismatch"
    args = (resource, namespace_labels or {}, gvk, subresource, operation)
    reasons: list[str] = []
    m = rule.get("match") or {}
    if m.get("any"):
        if not any(not _match_helper(f, info, *args) for f in m["any"]):
            reasons.append("no resource matched")
    elif m.get("all"):
        for f in m["all"]:
            reasons.extend(_match_helper(f, info, *args))
    else:
        reasons.extend(_match_helper(m, info, *args))
    ex = rule.get("exclude") or {}
    if ex.get("any"):
        for f in ex["any"]:
            reasons.extend(_exclude_helper(f, info, *args))
    elif ex.get("all"):
        if all(_exclude_helper(f, info, *args) for f in ex["all"]):
            reasons.append("resource excluded since the combination of all criteria exclude it")
    else:
        reasons.extend(_exclude_helper(ex, info, *args))
    if not reasons:
        return None
    return f"rule {rule.get('name', '')} not matched:" + "".join(f"\n {i}. {r}" for i, r in enumerate(reasons, 1))


# --- global filters -------------------------------------------------------------------------------------

# The ``resourceFilters`` of the ``kyverno`` ConfigMap that ship with the Helm chart / install.yaml (the
# templated entries for Kyverno's own objects are covered by the ``kyverno`` namespace entry).
DEFAULT_RESOURCE_FILTERS = (
    "[Event,*,*][*/*,kube-system,*][*/*,kube-public,*][*/*,kube-node-lease,*][Node,*,*][Node/*,*,*]"
    "[APIService,*,*][APIService/*,*,*][TokenReview,*,*][SubjectAccessReview,*,*][SelfSubjectAccessReview,*,*]"
    "[Binding,*,*][Pod/binding,*,*][ReplicaSet,*,*][ReplicaSet/*,*,*][EphemeralReport,*,*]"
    "[ClusterEphemeralReport,*,*][*/*,kyverno,*]"
)


def parse_resource_filters(text: str) -> list[tuple[str, str, str]]:
    """``[Kind,Namespace,Name]`` triples (``config.parseKinds``)."""
    out = []
    for item in re.findall(r"\[([^\]]*)\]", text):
        parts = [p.strip() for p in item.split(",")]
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
    return out


def resource_filtered(gvk: GVK, subresource: str, namespace: str, name: str,
                      filters: Iterable[tuple[str, str, str]] | None = None) -> bool:
    """``Configuration.ToFilter``: Kyverno ignores the request altogether."""
    if filters is None:
        filters = parse_resource_filters(DEFAULT_RESOURCE_FILTERS)
    for fk, fns, fname in filters:
        group, version, kind, sub = parse_kind_selector(fk)
        if (wildcard_match(group, gvk.group) and wildcard_match(version, gvk.version)
                and wildcard_match(kind, gvk.kind) and wildcard_match(sub, subresource)
                and wildcard_match(fns, namespace) and wildcard_match(fname, name)):
            return True
    return False


def managed_pod_resource(policy: Mapping[str, Any], resource: Mapping[str, Any]) -> bool:
    """``ManagedPodResource``: with the autogen annotation set (and not ``none``), a Pod or Job owned by a
    controller that autogen covers is skipped; the controller was already checked."""
    controllers = ((policy.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    if controllers is None or controllers.lower() == "none":
        return False
    if resource.get("kind") not in ("Pod", "Job"):
        return False
    owners = (resource.get("metadata") or {}).get("ownerReferences") or []
    if not owners:
        return False
    return all(o.get("kind") == "ReplicaSet" or o.get("kind", "") in controllers for o in owners)
