"""What kube-scheduler does in a one-node cluster: bind every schedulable pod to ``lab-node``.

Binding goes straight to storage, as the ``pods/binding`` subresource does (it sets ``spec.nodeName`` and the
``PodScheduled`` condition without running pod-update validation or admission). The scheduler's events are
written the way its ``events.k8s.io/v1`` recorder leaves them in core/v1: ``eventTime`` and
``reportingComponent: default-scheduler`` instead of ``source``/``firstTimestamp``.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..apiserver import resources
from ..apiserver.errors import ApiError
from ..apiserver.objects import Registry

__all__ = ["DEFAULT_SCHEDULER", "bind", "schedulable", "unschedulable_reason"]

log = logging.getLogger("labhelpers.sandbox.kubelet")

DEFAULT_SCHEDULER = "default-scheduler"
POD = resources.lookup("", "v1", "pods")
EVENT = resources.lookup("", "v1", "events")


def schedulable(pod: Mapping[str, Any]) -> bool:
    """A pod this scheduler should place: unbound, ours, not gated, not being deleted."""
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName") and (spec.get("schedulerName") or DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER
            and not spec.get("schedulingGates") and not pod.get("metadata", {}).get("deletionTimestamp"))


def unschedulable_reason(pod: Mapping[str, Any], node: Mapping[str, Any]) -> str | None:
    """The FailedScheduling message when the pod's nodeSelector rules out the only node, else None."""
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    labels = node.get("metadata", {}).get("labels") or {}
    if all(labels.get(k) == v for k, v in selector.items()):
        return None
    return ("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes "
            "are available: 1 Preemption is not helpful for scheduling.")


def _micro_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_scheduler_event(registry: Registry, pod: Mapping[str, Any], type_: str, reason: str, action: str,
                           message: str, node_name: str) -> None:
    meta = pod.get("metadata", {})
    ns, name = meta.get("namespace", "default"), meta.get("name", "")
    ref = {"kind": "Pod", "namespace": ns, "name": name, "uid": meta.get("uid", ""), "apiVersion": "v1",
           "resourceVersion": meta.get("resourceVersion", "")}
    now = registry.clock()
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{name}.{max(int(now * 1e9), time.time_ns()):x}", "namespace": ns},
        "involvedObject": ref, "reason": reason, "message": message, "source": {},
        "firstTimestamp": None, "lastTimestamp": None, "type": type_, "eventTime": _micro_time(now),
        "action": action, "reportingComponent": DEFAULT_SCHEDULER,
        "reportingInstance": f"{DEFAULT_SCHEDULER}-{node_name}",
    }
    try:
        registry.create(EVENT, ns, event)
    except ApiError as e:
        log.info("scheduler event for %s/%s rejected: %s", ns, name, e.message)


def _set_scheduled_condition(pod: dict[str, Any], status: str, now: str, reason: str = "",
                             message: str = "") -> None:
    conditions = [c for c in (pod.setdefault("status", {}).get("conditions") or [])]
    existing = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
    cond: dict[str, Any] = {"type": "PodScheduled", "status": status, "lastProbeTime": None,
                            "lastTransitionTime": (existing or {}).get("lastTransitionTime") if existing
                            and existing.get("status") == status else now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    if existing is not None:
        conditions[conditions.index(existing)] = cond
    else:
        conditions.append(cond)
    pod["status"]["conditions"] = conditions


def bind(registry: Registry, pod: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any] | None:
    """Schedule ``pod`` onto ``node`` (or report why not); returns the bound pod, or None."""
    meta = pod.get("metadata", {})
    ns, name = meta.get("namespace", ""), meta.get("name", "")
    current = registry.find(POD, ns, name)
    if current is None or current["metadata"].get("uid") != meta.get("uid") or not schedulable(current):
        return None
    node_name = node["metadata"]["name"]
    why = unschedulable_reason(current, node)
    if why is not None:
        cond = next((c for c in (current.get("status") or {}).get("conditions") or []
                     if c.get("type") == "PodScheduled"), None)
        if cond is None or cond.get("status") != "False":
            record_scheduler_event(registry, current, "Warning", "FailedScheduling", "Scheduling", why, node_name)
            updated = copy.deepcopy(current)
            _set_scheduled_condition(updated, "False", registry.now(), "Unschedulable", why)
            registry.store.update(POD, updated)
        return None
    updated = copy.deepcopy(current)
    updated["spec"]["nodeName"] = node_name
    _set_scheduled_condition(updated, "True", registry.now())
    stored = registry.store.update(POD, updated)
    record_scheduler_event(registry, stored, "Normal", "Scheduled", "Binding",
                           f"Successfully assigned {ns}/{name} to {node_name}", node_name)
    return stored
