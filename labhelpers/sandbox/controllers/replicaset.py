"""The replicaset controller: keep ``spec.replicas`` active pods (pkg/controller/replicaset).

Pods are created from the template with ``generateName: <rs>-`` in slow-start batches (1, 2, 4, ... stopping at
the first failed batch, so an admission denial is one ``FailedCreate`` event per attempt, not one per pod);
surplus pods are deleted least-valuable first (unscheduled, pending, not ready, newest).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable

from ..apiserver.errors import ApiError
from ..apiserver.store import WatchEvent
from .common import (
    POD,
    REPLICASET,
    Context,
    Key,
    claim,
    controller_of,
    deleting,
    find_condition,
    int_field,
    is_kind,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    name_of,
    parse_time,
    pod_condition,
    pod_from_template,
    rfc3339,
    selector_matcher,
)

COMPONENT = "replicaset-controller"
BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1


class PodControlError(Exception):
    """manageReplicas failed; the message is the apiserver's, as the ReplicaFailure condition shows it."""


def namespace_terminating(e: ApiError) -> bool:
    return any(c.get("reason") == "NamespaceTerminating" for c in (e.details or {}).get("causes") or [])


def create_pods(ctx: Context, owner: dict, owner_rt, template: dict, count: int, component: str,
                finalizers: list[str] | None = None) -> tuple[int, ApiError | None]:
    """``slowStartBatch`` over ``RealPodControl.CreatePods``: returns (created, first error)."""
    created = 0
    remaining = count
    batch = min(remaining, SLOW_START_INITIAL_BATCH)
    first_error: ApiError | None = None
    while remaining > 0:
        errors = 0
        for _ in range(batch):
            pod = pod_from_template(template, owner, owner_rt)
            if finalizers:
                fins = pod["metadata"].setdefault("finalizers", [])
                fins.extend(f for f in finalizers if f not in fins)
            err = create_pod(ctx, owner, pod, component)
            if err is None:
                created += 1
            else:
                errors += 1
                first_error = first_error or err
        if errors:
            break
        remaining -= batch
        batch = min(2 * batch, remaining)
    return created, first_error


def create_pod(ctx: Context, owner: dict, pod: dict, component: str) -> ApiError | None:
    if not (pod["metadata"].get("labels") or {}):
        return ApiError(500, "InternalError", "unable to create pods, no labels")
    try:
        made = ctx.registry.create(POD, owner["metadata"]["namespace"], pod)
    except ApiError as e:
        if not namespace_terminating(e):
            ctx.recorder.record(owner, "Warning", "FailedCreate", f"Error creating: {e.message}", component)
        return e
    ctx.recorder.record(owner, "Normal", "SuccessfulCreate", f"Created pod: {name_of(made)}", component)
    return None


def delete_pod(ctx: Context, owner: dict, pod: dict, component: str) -> ApiError | None:
    try:
        ctx.registry.delete(POD, pod["metadata"]["namespace"], name_of(pod))
    except ApiError as e:
        if e.code == 404:
            return None
        ctx.recorder.record(owner, "Warning", "FailedDelete", f"Error deleting: {e.message}", component)
        return e
    ctx.recorder.record(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name_of(pod)}", component)
    return None


_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def _log2_bucket(seconds: float) -> int:
    return int(math.log2(seconds)) if seconds >= 1 else 0


def deletion_order(pods: list[dict], related: list[dict], now: float) -> list[dict]:
    """``ActivePodsWithRanks``: cheapest to lose first."""
    per_node: dict[str, int] = {}
    for p in related:
        node = (p.get("spec") or {}).get("nodeName", "")
        if node and is_pod_active(p):
            per_node[node] = per_node.get(node, 0) + 1

    def key(p: dict) -> tuple:
        spec, status = p.get("spec") or {}, p.get("status") or {}
        node = spec.get("nodeName", "")
        ready = is_pod_ready(p)
        ready_since = parse_time((pod_condition(p, "Ready") or {}).get("lastTransitionTime")) if ready else None
        try:
            cost = int((p["metadata"].get("annotations") or {}).get("controller.kubernetes.io/pod-deletion-cost", 0))
        except ValueError:
            cost = 0
        restarts = max([c.get("restartCount", 0) for c in status.get("containerStatuses") or []], default=0)
        created = parse_time(p["metadata"].get("creationTimestamp")) or now
        return (bool(node), _PHASE_ORDER.get(status.get("phase", "Pending"), 0), ready, cost,
                -per_node.get(node, 0) if node else 0,
                _log2_bucket(now - ready_since) if ready_since is not None else 0,
                -restarts, _log2_bucket(now - created))

    return sorted(pods, key=key)


class ReplicaSetController:
    name = "replicaset"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.registry = ctx.registry

    def keys_for(self, ev: WatchEvent) -> Iterable[Key]:
        if is_kind(ev, REPLICASET):
            yield (ev.namespace, name_of(ev.obj))
        elif is_kind(ev, POD):
            ref = controller_of(ev.obj)
            if ref is not None:
                if ref.get("kind") == "ReplicaSet" and ref.get("apiVersion") == "apps/v1":
                    yield (ev.namespace, ref.get("name", ""))
            elif ev.type != "DELETED" and not deleting(ev.obj):
                labels = ev.obj["metadata"].get("labels") or {}
                for rs in self.registry.list(REPLICASET, ev.namespace):
                    if selector_matcher((rs.get("spec") or {}).get("selector"))(labels):
                        yield (ev.namespace, name_of(rs))

    def resync_keys(self) -> Iterable[Key]:
        return [(rs["metadata"]["namespace"], rs["metadata"]["name"]) for rs in self.registry.list(REPLICASET)]

    def reconcile(self, key: Key) -> float | None:
        rs = self.registry.find(REPLICASET, key[0], key[1])
        if rs is None:
            return None
        all_pods = self.registry.list(POD, key[0])
        matches = selector_matcher((rs.get("spec") or {}).get("selector"))
        active = claim(self.registry, POD, rs, REPLICASET, matches, [p for p in all_pods if is_pod_active(p)])
        error: PodControlError | None = None
        if not deleting(rs):
            error = self._manage(rs, active, all_pods)
        rs = self._update_status(rs, active, error)
        if error is not None:
            raise error
        want = int_field(rs, "spec.replicas", 1)
        min_ready = int_field(rs, "spec.minReadySeconds", 0)
        status = rs.get("status") or {}
        if min_ready > 0 and status.get("readyReplicas", 0) == want and status.get("availableReplicas", 0) != want:
            return float(min_ready)
        return None

    def _manage(self, rs: dict, active: list[dict], all_pods: list[dict]) -> PodControlError | None:
        diff = len(active) - int_field(rs, "spec.replicas", 1)
        if diff < 0:
            n = min(-diff, BURST_REPLICAS)
            template = (rs.get("spec") or {}).get("template") or {}
            _, err = create_pods(self.ctx, rs, REPLICASET, template, n, COMPONENT)
            return PodControlError(err.message) if err else None
        if diff > 0:
            n = min(diff, BURST_REPLICAS)
            related = [p for p in all_pods if self._related(p, rs)]
            first: ApiError | None = None
            for pod in deletion_order(active, related, self.ctx.clock())[:n]:
                err = delete_pod(self.ctx, rs, pod, COMPONENT)
                first = first or err
            return PodControlError(first.message) if first else None
        return None

    def _related(self, pod: dict, rs: dict) -> bool:
        """Pods of any ReplicaSet owned by the same controller (getPodsRankedByRelatedPodsOnSameNode)."""
        owner = controller_of(rs)
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return False
        if ref.get("uid") == rs["metadata"]["uid"] or owner is None:
            return ref.get("uid") == rs["metadata"]["uid"]
        other = self.registry.find(REPLICASET, rs["metadata"]["namespace"], ref.get("name", ""))
        other_owner = controller_of(other) if other else None
        return other_owner is not None and other_owner.get("uid") == owner.get("uid")

    def _update_status(self, rs: dict, active: list[dict], error: PodControlError | None) -> dict:
        now = self.ctx.clock()
        min_ready = int_field(rs, "spec.minReadySeconds", 0)
        template_labels = ((((rs.get("spec") or {}).get("template") or {}).get("metadata") or {})
                           .get("labels") or {})
        fully = sum(1 for p in active
                    if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items()))
        ready = [p for p in active if is_pod_ready(p)]
        available = sum(1 for p in ready if is_pod_available(p, min_ready, now))
        old = rs.get("status") or {}
        status: dict = {"replicas": len(active)}
        for k, v in (("fullyLabeledReplicas", fully), ("readyReplicas", len(ready)),
                     ("availableReplicas", available), ("observedGeneration", rs["metadata"].get("generation", 0))):
            if v:
                status[k] = v
        conditions = copy.deepcopy(old.get("conditions") or [])
        failure = find_condition(conditions, "ReplicaFailure")
        if error is not None and failure is None:
            diff = len(active) - int_field(rs, "spec.replicas", 1)
            reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
            conditions.append({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": rfc3339(now),
                               "reason": reason, "message": str(error)})
        elif error is None and failure is not None:
            conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
        if conditions:
            status["conditions"] = conditions
        if status == old:
            return rs
        upd = copy.deepcopy(rs)
        upd["status"] = status
        return self.registry.update(REPLICASET, rs["metadata"]["namespace"], rs["metadata"]["name"], upd,
                                    subresource="status")
