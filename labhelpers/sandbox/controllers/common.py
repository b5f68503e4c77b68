"""Helpers every controller shares: time stamps, owner references, pod states and the controller-ref claim.

They follow the k8s.io/kubernetes/pkg/controller helpers so that adoption, readiness and availability mean the
same thing here as in kube-controller-manager.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..apiserver import resources
from ..apiserver.errors import ApiError
from ..apiserver.objects import Registry
from ..apiserver.resources import ResourceType
from ..apiserver.store import WatchEvent, rt_key

log = logging.getLogger("labhelpers.sandbox.controllers")

Key = tuple[str, ...]


def _rt(group: str, plural: str) -> ResourceType:
    rt = resources.lookup(group, "v1", plural)
    assert rt is not None, plural
    return rt


NAMESPACE = _rt("", "namespaces")
POD = _rt("", "pods")
EVENT = _rt("", "events")
CONFIGMAP = _rt("", "configmaps")
SERVICEACCOUNT = _rt("", "serviceaccounts")
DEPLOYMENT = _rt("apps", "deployments")
REPLICASET = _rt("apps", "replicasets")
JOB = _rt("batch", "jobs")
CRONJOB = _rt("batch", "cronjobs")


@dataclass
class Context:
    """What each controller gets: the write path, the (possibly accelerated) clock and the event recorder."""

    registry: Registry
    clock: Callable[[], float]
    recorder: Any  # events.EventRecorder (typed loosely to avoid an import cycle)
    root_ca_pem: str | None = None  # what kube-root-ca.crt publishes; None: a marked placeholder


# --- time ---

def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: str | None) -> float | None:
    if not s:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --- resource types of watch events ---

def rt_for_key(key: str) -> ResourceType | None:
    for rt in resources.all_resources():
        if rt_key(rt) == key:
            return rt
    return None


def is_kind(ev: WatchEvent, rt: ResourceType) -> bool:
    return ev.rt_key == rt_key(rt)


def rt_for_ref(ref: dict) -> ResourceType | None:
    return resources.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))


# --- metadata ---

def name_of(obj: dict) -> str:
    return obj.get("metadata", {}).get("name", "")


def namespace_of(obj: dict) -> str:
    return obj.get("metadata", {}).get("namespace", "")


def uid_of(obj: dict) -> str:
    return obj.get("metadata", {}).get("uid", "")


def deleting(obj: dict) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def controller_ref(owner: dict, rt: ResourceType) -> dict:
    """``metav1.NewControllerRef``: the reference a controller stamps on what it creates."""
    return {"apiVersion": rt.api_version, "kind": rt.kind, "name": name_of(owner), "uid": uid_of(owner),
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: dict) -> dict | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def controlled_by(obj: dict, owner: dict) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == uid_of(owner)


def object_reference(obj: dict, rt: ResourceType) -> dict:
    """``reference.GetReference``: a core/v1 ObjectReference, in the Go struct's field order."""
    m = obj.get("metadata", {})
    ref: dict[str, Any] = {"kind": rt.kind}
    if rt.namespaced and m.get("namespace"):
        ref["namespace"] = m["namespace"]
    for k in ("name", "uid"):
        if m.get(k):
            ref[k] = m[k]
    ref["apiVersion"] = rt.api_version
    if m.get("resourceVersion"):
        ref["resourceVersion"] = m["resourceVersion"]
    return ref


def strip_empty(v: Any) -> Any:
    """Drop empty maps/lists/None so two objects compare like ``equality.Semantic.DeepEqual`` (nil == empty)."""
    if isinstance(v, dict):
        out = {k: strip_empty(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in (None, {}, [])}
    if isinstance(v, list):
        return [strip_empty(x) for x in v]
    return v


# --- pods ---

def pod_condition(pod: dict, type_: str) -> dict | None:
    for c in pod.get("status", {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def is_pod_ready(pod: dict) -> bool:
    c = pod_condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def is_pod_available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    """``podutil.IsPodAvailable``: ready, and ready for at least minReadySeconds."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = parse_time((pod_condition(pod, "Ready") or {}).get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= now


def is_pod_active(pod: dict) -> bool:
    """``controller.FilterActivePods``: not finished and not being deleted."""
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed") and not deleting(pod)


def is_pod_terminating(pod: dict) -> bool:
    return deleting(pod) and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")


def pod_from_template(template: dict, owner: dict, owner_rt: ResourceType, generate_name: str = "") -> dict:
    """``controller.GetPodFromTemplate``: labels, annotations, finalizers and spec of the template, plus the
    controller reference; the apiserver appends the random suffix to ``<owner>-``."""
    tmeta = template.get("metadata") or {}
    m: dict[str, Any] = {"generateName": generate_name or f"{name_of(owner)}-"}
    for k in ("labels", "annotations", "finalizers"):
        if tmeta.get(k):
            m[k] = copy.deepcopy(tmeta[k])
    m["ownerReferences"] = [controller_ref(owner, owner_rt)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": copy.deepcopy(template.get("spec") or {})}


# --- controller-ref claiming (adopt orphans that match, release owned objects that no longer match) ---

def claim(registry: Registry, child_rt: ResourceType, owner: dict, owner_rt: ResourceType,
          selector_matches: Callable[[dict], bool], children: Iterable[dict]) -> list[dict]:
    """``ControllerRefManager.Claim*``: the children this owner controls after adoption and release."""
    owned: list[dict] = []
    owner_uid = uid_of(owner)
    for child in children:
        labels = child.get("metadata", {}).get("labels") or {}
        ref = controller_of(child)
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if selector_matches(labels) or deleting(owner):
                owned.append(child)
                continue
            _release(registry, child_rt, child, owner_uid)
            continue
        if deleting(owner) or deleting(child) or not selector_matches(labels):
            continue
        adopted = _adopt(registry, child_rt, child, controller_ref(owner, owner_rt))
        if adopted is not None:
            owned.append(adopted)
    return owned


def _adopt(registry: Registry, rt: ResourceType, child: dict, ref: dict) -> dict | None:
    obj = copy.deepcopy(child)
    obj["metadata"].setdefault("ownerReferences", []).append(ref)
    try:
        return registry.update(rt, namespace_of(obj), name_of(obj), obj)
    except ApiError as e:
        log.info("adopting %s %s/%s failed: %s", rt.kind, namespace_of(obj), name_of(obj), e.message)
        return None


def _release(registry: Registry, rt: ResourceType, child: dict, owner_uid: str) -> None:
    obj = copy.deepcopy(child)
    refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
    if refs:
        obj["metadata"]["ownerReferences"] = refs
    else:
        obj["metadata"].pop("ownerReferences", None)
    try:
        registry.update(rt, namespace_of(obj), name_of(obj), obj)
    except ApiError as e:
        if e.code != 404:
            raise


# --- conditions ---

def find_condition(conditions: list[dict] | None, type_: str) -> dict | None:
    for c in conditions or []:
        if c.get("type") == type_:
            return c
    return None


def selector_matcher(label_selector: dict | None) -> Callable[[dict], bool]:
    """A predicate over labels for a metav1.LabelSelector; an invalid selector matches nothing."""
    from ..apiserver import selectors

    try:
        sel = selectors.selector_from_label_selector(label_selector)
    except ValueError:
        return lambda labels: False
    return lambda labels: sel.matches(labels or {})


def int_field(obj: dict, path: str, default: int) -> int:
    cur: Any = obj
    for p in path.split("."):
        if not isinstance(cur, dict) or p not in cur or cur[p] is None:
            return default
        cur = cur[p]
    try:
        return int(cur)
    except (TypeError, ValueError):
        return default
