"""The deployment controller: Deployments drive ReplicaSets (pkg/controller/deployment).

Each pod template gets a ReplicaSet named ``<deployment>-<pod-template-hash>``; a template change starts a
rollout (RollingUpdate within maxSurge/maxUnavailable, or Recreate), a replica change scales proportionally,
old ReplicaSets beyond revisionHistoryLimit are deleted, and the status carries the Available and Progressing
conditions with the controller's reasons and messages.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable

from ..apiserver.errors import ApiError
from ..apiserver.store import WatchEvent
from .common import (
    DEPLOYMENT,
    POD,
    REPLICASET,
    Context,
    Key,
    controlled_by,
    controller_of,
    controller_ref,
    deleting,
    find_condition,
    int_field,
    is_kind,
    log,
    name_of,
    parse_time,
    rfc3339,
    selector_matcher,
    uid_of,
)
from .deploymentutil import (
    DESIRED_REPLICAS,
    HASH_LABEL,
    MAX_REPLICAS,
    REVISION,
    REVISION_HISTORY,
    REVISION_HISTORY_LIMIT_CHARS,
    SKIPPED_ANNOTATIONS,
    active_rss,
    by_creation,
    compute_hash,
    deployment_complete,
    deployment_progressing,
    equal_ignore_hash,
    has_progress_deadline,
    is_rolling,
    max_surge,
    max_unavailable,
    new_condition,
    remove_condition,
    replicas,
    revision_of,
    rs_replicas,
    rs_status,
    set_condition,
)

COMPONENT = "deployment-controller"


class DeploymentController:
    name = "deployment"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.registry = ctx.registry

    # --- event mapping ---

    def keys_for(self, ev: WatchEvent) -> Iterable[Key]:
        if is_kind(ev, DEPLOYMENT):
            yield (ev.namespace, name_of(ev.obj))
        elif is_kind(ev, REPLICASET):
            ref = controller_of(ev.obj)
            if ref is not None:
                if ref.get("kind") == "Deployment" and ref.get("apiVersion") == "apps/v1":
                    yield (ev.namespace, ref.get("name", ""))
            elif ev.type != "DELETED":
                labels = ev.obj["metadata"].get("labels") or {}
                for d in self.registry.list(DEPLOYMENT, ev.namespace):
                    if selector_matcher((d.get("spec") or {}).get("selector"))(labels):
                        yield (ev.namespace, name_of(d))
        elif is_kind(ev, POD) and ev.type == "DELETED":
            ref = controller_of(ev.obj)
            if ref is not None and ref.get("kind") == "ReplicaSet":
                rs = self.registry.find(REPLICASET, ev.namespace, ref.get("name", ""))
                dref = controller_of(rs) if rs else None
                if dref is not None and dref.get("kind") == "Deployment":
                    yield (ev.namespace, dref.get("name", ""))

    def resync_keys(self) -> Iterable[Key]:
        return [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in self.registry.list(DEPLOYMENT)]

    # --- syncDeployment ---

    def reconcile(self, key: Key) -> float | None:
        d = self.registry.find(DEPLOYMENT, key[0], key[1])
        if d is None:
            return None
        d = copy.deepcopy(d)
        rs_list = self._rs_for_deployment(d)
        if deleting(d):
            self._sync_status_only(d, rs_list)
            return None
        d = self._check_paused_conditions(d)
        spec = d.get("spec") or {}
        if spec.get("paused"):
            self._sync(d, rs_list)
            return None
        if self._is_scaling_event(d, rs_list):
            self._sync(d, rs_list)
            return None
        if spec.get("strategy", {}).get("type") == "Recreate":
            d = self._rollout_recreate(d, rs_list)
        else:
            d = self._rollout_rolling(d, rs_list)
        return self._requeue_after(d)

    def _rs_for_deployment(self, d: dict) -> list[dict]:
        from .common import claim

        matches = selector_matcher((d.get("spec") or {}).get("selector"))
        return claim(self.registry, REPLICASET, d, DEPLOYMENT, matches,
                     self.registry.list(REPLICASET, d["metadata"]["namespace"]))

    def _fresh(self, rss: Iterable[dict | None]) -> list[dict]:
        out = []
        for rs in rss:
            if rs is not None:
                cur = self.registry.find(REPLICASET, rs["metadata"]["namespace"], rs["metadata"]["name"])
                if cur is not None:
                    out.append(cur)
        return out

    def _fresh_one(self, rs: dict | None) -> dict | None:
        fresh = self._fresh([rs])
        return fresh[0] if fresh else None

    def _now(self) -> str:
        return rfc3339(self.ctx.clock())

    def _event(self, d: dict, type_: str, reason: str, message: str) -> None:
        self.ctx.recorder.record(d, type_, reason, message, COMPONENT)

    # --- writing the deployment: annotations through the main resource, then status ---

    def _write(self, d: dict) -> dict:
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        stored = self.registry.get(DEPLOYMENT, ns, name)
        if (stored["metadata"].get("annotations") or {}) != (d["metadata"].get("annotations") or {}):
            # The real controller sets the revision annotation through UpdateStatus, which admission
            # policies on Deployments do not see; internal=True keeps a policy from stalling the rollout.
            upd = copy.deepcopy(stored)
            upd["metadata"]["annotations"] = copy.deepcopy(d["metadata"].get("annotations") or {})
            stored = self.registry.update(DEPLOYMENT, ns, name, upd, internal=True)
        if (stored.get("status") or {}) != (d.get("status") or {}):
            upd = copy.deepcopy(stored)
            upd["status"] = copy.deepcopy(d.get("status") or {})
            stored = self.registry.update(DEPLOYMENT, ns, name, upd, subresource="status")
        return copy.deepcopy(stored)

    # --- revisions and the new ReplicaSet (getAllReplicaSetsAndSyncRevision / getNewReplicaSet) ---

    def _all_rss(self, d: dict, rs_list: list[dict], create: bool) -> tuple[dict, dict | None, list[dict]]:
        existing = self._find_new_rs(d, rs_list)
        old = [rs for rs in rs_list if existing is None or uid_of(rs) != uid_of(existing)]
        d, new_rs = self._new_rs(d, rs_list, old, existing, create)
        return d, new_rs, old

    def _find_new_rs(self, d: dict, rs_list: list[dict]) -> dict | None:
        template = (d.get("spec") or {}).get("template")
        for rs in by_creation(rs_list):
            if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
                return rs
        return None

    def _new_rs(self, d: dict, rs_list: list[dict], old: list[dict], existing: dict | None,
                create: bool) -> tuple[dict, dict | None]:
        new_revision = str(max([revision_of(rs) for rs in old], default=0) + 1)
        spec = d.get("spec") or {}
        if existing is not None:
            rs = copy.deepcopy(existing)
            changed = self._set_new_rs_annotations(d, rs, new_revision, exists=True)
            if int_field(rs, "spec.minReadySeconds", 0) != int_field(d, "spec.minReadySeconds", 0):
                rs["spec"]["minReadySeconds"] = int_field(d, "spec.minReadySeconds", 0)
                changed = True
            if changed:
                return d, self.registry.update(REPLICASET, rs["metadata"]["namespace"], rs["metadata"]["name"], rs)
            needs_update = self._set_revision(d, (rs["metadata"].get("annotations") or {}).get(REVISION, ""))
            if has_progress_deadline(d) and find_condition((d.get("status") or {}).get("conditions"),
                                                            "Progressing") is None:
                set_condition(d.setdefault("status", {}), new_condition(
                    "Progressing", "True", "FoundNewReplicaSet", f'Found new replica set "{name_of(rs)}"',
                    self._now()))
                needs_update = True
            if needs_update:
                d = self._write(d)
            return d, rs
        if not create:
            return d, None

        ns = d["metadata"]["namespace"]
        template = copy.deepcopy(spec.get("template") or {})
        collision = (d.get("status") or {}).get("collisionCount")
        pth = compute_hash(template, collision)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: pth}
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pth}
        rs_spec: dict = {"replicas": 0}
        if spec.get("minReadySeconds"):
            rs_spec["minReadySeconds"] = spec["minReadySeconds"]
        rs_spec["selector"] = selector
        rs_spec["template"] = template
        new_rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": f"{name_of(d)}-{pth}", "namespace": ns,
                               "labels": dict(tmeta["labels"]),
                               "ownerReferences": [controller_ref(d, DEPLOYMENT)]},
                  "spec": rs_spec}
        count = self._new_rs_new_replicas(d, old + [new_rs], new_rs)
        new_rs["spec"]["replicas"] = count
        self._set_new_rs_annotations(d, new_rs, new_revision, exists=False)
        already_exists = False
        try:
            created = self.registry.create(REPLICASET, ns, copy.deepcopy(new_rs))
        except ApiError as e:
            if e.code == 409 and e.reason == "AlreadyExists":
                rs = self.registry.find(REPLICASET, ns, new_rs["metadata"]["name"])
                if rs is not None and controlled_by(rs, d) and equal_ignore_hash(
                        (rs.get("spec") or {}).get("template"), spec.get("template")):
                    created, already_exists = rs, True
                else:
                    # A hash collision: bump collisionCount so the next hash differs, and retry.
                    d.setdefault("status", {})["collisionCount"] = (collision or 0) + 1
                    self._write(d)
                    raise
            elif _namespace_terminating(e):
                raise
            else:
                msg = f'Failed to create new replica set "{new_rs["metadata"]["name"]}": {e.message}'
                if has_progress_deadline(d):
                    set_condition(d.setdefault("status", {}),
                                  new_condition("Progressing", "False", "ReplicaSetCreateError", msg, self._now()))
                    self._write(d)
                self._event(d, "Warning", "ReplicaSetCreateError", msg)
                raise
        if not already_exists and count > 0:
            self._event(d, "Normal", "ScalingReplicaSet",
                        f"Scaled up replica set {name_of(created)} from 0 to {count}")
        needs_update = self._set_revision(d, new_revision)
        if not already_exists and has_progress_deadline(d):
            set_condition(d.setdefault("status", {}), new_condition(
                "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{name_of(created)}"',
                self._now()))
            needs_update = True
        if needs_update:
            d = self._write(d)
        return d, created

    def _set_revision(self, d: dict, revision: str) -> bool:
        ann = d["metadata"].setdefault("annotations", {})
        if ann.get(REVISION) != revision:
            ann[REVISION] = revision
            return True
        return False

    def _set_new_rs_annotations(self, d: dict, rs: dict, new_revision: str, exists: bool) -> bool:
        """``SetNewReplicaSetAnnotations``: copy the deployment's annotations, advance the revision (keeping
        the revision-history of a rolled-back ReplicaSet) and, for a new one, the replica annotations."""
        ann = rs["metadata"].setdefault("annotations", {})
        changed = False
        for k, v in (d["metadata"].get("annotations") or {}).items():
            if k in SKIPPED_ANNOTATIONS or ann.get(k) == v:
                continue
            ann[k] = v
            changed = True
        old_revision = ann.get(REVISION)
        try:
            old_int = int(old_revision) if old_revision else 0
        except ValueError:
            return False
        new_int = int(new_revision)
        if old_int < new_int:
            ann[REVISION] = new_revision
            changed = True
            if old_revision:
                history = ann.get(REVISION_HISTORY, "")
                olds = history.split(",") if history else []
                if not olds:
                    ann[REVISION_HISTORY] = old_revision
                else:
                    total = len(history) + len(old_revision) + 1
                    start = 0
                    while total > REVISION_HISTORY_LIMIT_CHARS and start < len(olds):
                        total -= len(olds[start]) + 1
                        start += 1
                    if total <= REVISION_HISTORY_LIMIT_CHARS:
                        ann[REVISION_HISTORY] = ",".join(olds[start:] + [old_revision])
        if not exists and self._set_replicas_annotations(rs, d):
            changed = True
        return changed

    def _set_replicas_annotations(self, rs: dict, d: dict) -> bool:
        ann = rs["metadata"].setdefault("annotations", {})
        want = {DESIRED_REPLICAS: str(replicas(d)), MAX_REPLICAS: str(replicas(d) + max_surge(d))}
        if all(ann.get(k) == v for k, v in want.items()):
            return False
        ann.update(want)
        return True

    def _new_rs_new_replicas(self, d: dict, all_rss: list[dict], new_rs: dict) -> int:
        """``NewRSNewReplicas``: how far the new ReplicaSet may grow now."""
        if not is_rolling(d):
            return replicas(d)
        current = sum(rs_replicas(rs) for rs in all_rss)
        max_total = replicas(d) + max_surge(d)
        if current >= max_total:
            return rs_replicas(new_rs)
        up = min(max_total - current, replicas(d) - rs_replicas(new_rs))
        return rs_replicas(new_rs) + up

    # --- scaling (scaleReplicaSet / scale) ---

    def _scale_rs(self, rs: dict, new_scale: int, d: dict, operation: str) -> tuple[bool, dict]:
        size_change = rs_replicas(rs) != new_scale
        ann = rs["metadata"].get("annotations") or {}
        ann_change = (ann.get(DESIRED_REPLICAS) != str(replicas(d))
                      or ann.get(MAX_REPLICAS) != str(replicas(d) + max_surge(d)))
        if not size_change and not ann_change:
            return False, rs
        old_scale = rs_replicas(rs)
        upd = copy.deepcopy(rs)
        upd["spec"]["replicas"] = new_scale
        self._set_replicas_annotations(upd, d)
        upd = self.registry.update(REPLICASET, upd["metadata"]["namespace"], upd["metadata"]["name"], upd)
        if size_change:
            self._event(d, "Normal", "ScalingReplicaSet",
                        f"Scaled {operation} replica set {name_of(upd)} from {old_scale} to {new_scale}")
        return size_change, upd

    def _scale_and_record(self, rs: dict, new_scale: int, d: dict) -> tuple[bool, dict]:
        if rs_replicas(rs) == new_scale:
            return False, rs
        return self._scale_rs(rs, new_scale, d, "up" if rs_replicas(rs) < new_scale else "down")

    def _is_scaling_event(self, d: dict, rs_list: list[dict]) -> bool:
        # The revision sync getAllReplicaSetsAndSyncRevision does here does not touch desired-replicas.
        for rs in active_rss(rs_list):
            desired = (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
            if desired is None or not desired.lstrip("-").isdigit():
                continue
            if int(desired) != replicas(d):
                return True
        return False

    def _scale(self, d: dict, new_rs: dict | None, old: list[dict]) -> None:
        active_or_latest = self._find_active_or_latest(new_rs, old)
        if active_or_latest is not None:
            if rs_replicas(active_or_latest) != replicas(d):
                self._scale_and_record(active_or_latest, replicas(d), d)
            return
        if self._is_saturated(d, new_rs):
            for rs in active_rss(old):
                self._scale_and_record(rs, 0, d)
            return
        if not is_rolling(d):
            return
        all_rss = active_rss(old + [new_rs])
        allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
        to_add = allowed - sum(rs_replicas(rs) for rs in all_rss)
        operation = ""
        if to_add > 0:
            all_rss.sort(key=lambda r: r["metadata"].get("creationTimestamp", ""), reverse=True)
            all_rss.sort(key=rs_replicas, reverse=True)
            operation = "up"
        elif to_add < 0:
            all_rss.sort(key=lambda r: r["metadata"].get("creationTimestamp", ""))
            all_rss.sort(key=rs_replicas, reverse=True)
            operation = "down"
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            if to_add != 0:
                p = self._proportion(rs, d, to_add, added)
                sizes[name_of(rs)] = rs_replicas(rs) + p
                added += p
            else:
                sizes[name_of(rs)] = rs_replicas(rs)
        for i, rs in enumerate(all_rss):
            if i == 0 and to_add != 0:
                sizes[name_of(rs)] = max(0, sizes[name_of(rs)] + to_add - added)
            self._scale_rs(rs, sizes[name_of(rs)], d, operation)

    def _proportion(self, rs: dict, d: dict, to_add: int, added: int) -> int:
        """``GetReplicaSetProportion``: this ReplicaSet's share of a scale change, by its max-replicas."""
        if rs_replicas(rs) == 0 or to_add == 0 or to_add == added:
            return 0
        if replicas(d) == 0:
            fraction = -rs_replicas(rs)
        else:
            new_max = replicas(d) + max_surge(d)
            try:
                before = int((rs["metadata"].get("annotations") or {}).get(MAX_REPLICAS, "0"))
            except ValueError:
                before = 0
            if before == 0:
                before = int_field(d, "status.replicas", 0) or rs_replicas(rs)
            size = rs_replicas(rs) * new_max / before
            fraction = int(math.floor(size + 0.5)) - rs_replicas(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def _find_active_or_latest(self, new_rs: dict | None, old: list[dict]) -> dict | None:
        if new_rs is None and not old:
            return None
        old_sorted = by_creation(old, newest_first=True)
        active = active_rss(old_sorted + [new_rs])
        if not active:
            return new_rs if new_rs is not None else old_sorted[0]
        if len(active) == 1:
            return active[0]
        return None

    def _is_saturated(self, d: dict, rs: dict | None) -> bool:
        if rs is None:
            return False
        desired = (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
        return (rs_replicas(rs) == replicas(d) and desired == str(replicas(d))
                and rs_status(rs, "availableReplicas") == replicas(d))

    # --- strategies ---

    def _sync(self, d: dict, rs_list: list[dict]) -> None:
        d, new_rs, old = self._all_rss(d, rs_list, create=False)
        self._scale(d, new_rs, old)
        if (d.get("spec") or {}).get("paused"):
            self._cleanup(old, d)
        self._sync_status(self._fresh(old + [new_rs]), self._fresh_one(new_rs), d)

    def _sync_status_only(self, d: dict, rs_list: list[dict]) -> None:
        d, new_rs, old = self._all_rss(d, rs_list, create=False)
        self._sync_status(old + ([new_rs] if new_rs else []), new_rs, d)

    def _rollout_rolling(self, d: dict, rs_list: list[dict]) -> dict:
        d, new_rs, old = self._all_rss(d, rs_list, create=True)
        all_rss = old + ([new_rs] if new_rs else [])
        scaled_up = False
        if new_rs is not None:
            scaled_up, new_rs = self._reconcile_new_rs(all_rss, new_rs, d)
        if not scaled_up:
            all_rss = old + ([new_rs] if new_rs else [])
            scaled_down = self._reconcile_old_rss(all_rss, active_rss(old), new_rs, d)
            if not scaled_down and deployment_complete(d, d.get("status") or {}):
                self._cleanup(old, d)
        return self._sync_rollout_status(self._fresh(old + [new_rs]), self._fresh_one(new_rs), d)

    def _reconcile_new_rs(self, all_rss: list[dict], new_rs: dict, d: dict) -> tuple[bool, dict]:
        if rs_replicas(new_rs) == replicas(d):
            return False, new_rs
        if rs_replicas(new_rs) > replicas(d):
            return self._scale_and_record(new_rs, replicas(d), d)
        return self._scale_and_record(new_rs, self._new_rs_new_replicas(d, all_rss, new_rs), d)

    def _reconcile_old_rss(self, all_rss: list[dict], old: list[dict], new_rs: dict | None, d: dict) -> bool:
        if sum(rs_replicas(rs) for rs in old) == 0:
            return False
        all_pods = sum(rs_replicas(rs) for rs in all_rss)
        min_available = replicas(d) - max_unavailable(d)
        new_unavailable = rs_replicas(new_rs) - rs_status(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old, cleaned = self._cleanup_unhealthy(old, d, max_scaled_down)
        all_rss = old + ([new_rs] if new_rs else [])
        return cleaned + self._scale_down_old_for_rolling(all_rss, old, d) > 0

    def _cleanup_unhealthy(self, old: list[dict], d: dict, max_cleanup: int) -> tuple[list[dict], int]:
        total = 0
        out = []
        for rs in by_creation(old):
            if total >= max_cleanup or rs_replicas(rs) == 0 or rs_replicas(rs) == rs_status(rs, "availableReplicas"):
                out.append(rs)
                continue
            n = min(max_cleanup - total, rs_replicas(rs) - rs_status(rs, "availableReplicas"))
            _, rs = self._scale_and_record(rs, rs_replicas(rs) - n, d)
            total += n
            out.append(rs)
        return out, total

    def _scale_down_old_for_rolling(self, all_rss: list[dict], old: list[dict], d: dict) -> int:
        min_available = replicas(d) - max_unavailable(d)
        available = sum(rs_status(rs, "availableReplicas") for rs in all_rss)
        if available <= min_available:
            return 0
        target = available - min_available
        total = 0
        for rs in by_creation(old):
            if total >= target:
                break
            if rs_replicas(rs) == 0:
                continue
            n = min(rs_replicas(rs), target - total)
            self._scale_and_record(rs, rs_replicas(rs) - n, d)
            total += n
        return total

    def _rollout_recreate(self, d: dict, rs_list: list[dict]) -> dict:
        d, new_rs, old = self._all_rss(d, rs_list, create=False)
        scaled_down = False
        for rs in active_rss(old):
            if self._scale_and_record(rs, 0, d)[0]:
                scaled_down = True
        if scaled_down or self._old_pods_running(new_rs, self._fresh(old), d):
            return self._sync_rollout_status(self._fresh(old + [new_rs]), new_rs, d)
        if new_rs is None:
            d, new_rs, old = self._all_rss(d, self._rs_for_deployment(d), create=True)
        if new_rs is not None and rs_replicas(new_rs) != replicas(d):
            self._scale_and_record(new_rs, replicas(d), d)
        if deployment_complete(d, d.get("status") or {}):
            self._cleanup(old, d)
        return self._sync_rollout_status(self._fresh(old + [new_rs]), self._fresh_one(new_rs), d)

    def _old_pods_running(self, new_rs: dict | None, old: list[dict], d: dict) -> bool:
        if sum(rs_status(rs, "replicas") for rs in old) > 0:
            return True
        old_uids = {uid_of(rs) for rs in old}
        for pod in self.registry.list(POD, d["metadata"]["namespace"]):
            ref = controller_of(pod)
            if ref is None or ref.get("uid") not in old_uids:
                continue
            if pod.get("status", {}).get("phase") not in ("Failed", "Succeeded"):
                return True
        return False

    def _cleanup(self, old: list[dict], d: dict) -> None:
        """Delete the oldest spare ReplicaSets beyond spec.revisionHistoryLimit."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit", 10)
        if limit is None:
            return
        alive = [rs for rs in self._fresh(old) if not deleting(rs)]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        for rs in sorted(alive, key=lambda r: (revision_of(r), r["metadata"].get("creationTimestamp", "")))[:diff]:
            if (rs_status(rs, "replicas") != 0 or rs_replicas(rs) != 0
                    or rs["metadata"].get("generation", 0) > rs_status(rs, "observedGeneration")):
                continue
            log.info("deployment %s: deleting old replica set %s", name_of(d), name_of(rs))
            try:
                self.registry.delete(REPLICASET, rs["metadata"]["namespace"], name_of(rs))
            except ApiError as e:
                if e.code != 404:
                    raise

    # --- status ---

    def _calculate_status(self, all_rss: list[dict], new_rs: dict | None, d: dict) -> dict:
        available = sum(rs_status(rs, "availableReplicas") for rs in all_rss)
        total = sum(rs_replicas(rs) for rs in all_rss)
        values = [("observedGeneration", d["metadata"].get("generation", 0)),
                  ("replicas", sum(rs_status(rs, "replicas") for rs in all_rss)),
                  ("updatedReplicas", rs_status(new_rs, "replicas")),
                  ("readyReplicas", sum(rs_status(rs, "readyReplicas") for rs in all_rss)),
                  ("availableReplicas", available),
                  ("unavailableReplicas", max(0, total - available))]
        status: dict = {k: v for k, v in values if v}
        old = d.get("status") or {}
        if old.get("conditions"):
            status["conditions"] = copy.deepcopy(old["conditions"])
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        now = self._now()
        if available >= replicas(d) - max_unavailable(d):
            set_condition(status, new_condition("Available", "True", "MinimumReplicasAvailable",
                                                "Deployment has minimum availability.", now))
        else:
            set_condition(status, new_condition("Available", "False", "MinimumReplicasUnavailable",
                                                "Deployment does not have minimum availability.", now))
        return status

    def _sync_status(self, all_rss: list[dict], new_rs: dict | None, d: dict) -> dict:
        status = self._calculate_status(all_rss, new_rs, d)
        if status == (d.get("status") or {}):
            return d
        d["status"] = status
        return self._write(d)

    def _sync_rollout_status(self, all_rss: list[dict], new_rs: dict | None, d: dict) -> dict:
        status = self._calculate_status(all_rss, new_rs, d)
        now = self._now()
        if not has_progress_deadline(d):
            remove_condition(status, "Progressing")
        cur = find_condition((d.get("status") or {}).get("conditions"), "Progressing")
        complete_before = (status.get("replicas", 0) == status.get("updatedReplicas", 0) and cur is not None
                           and cur.get("reason") == "NewReplicaSetAvailable")
        rs_name = name_of(new_rs) if new_rs else ""
        if has_progress_deadline(d) and not complete_before:
            if deployment_complete(d, status):
                msg = (f'ReplicaSet "{rs_name}" has successfully progressed.' if new_rs
                       else f'Deployment "{name_of(d)}" has successfully progressed.')
                set_condition(status, new_condition("Progressing", "True", "NewReplicaSetAvailable", msg, now))
            elif deployment_progressing(d, status):
                msg = (f'ReplicaSet "{rs_name}" is progressing.' if new_rs
                       else f'Deployment "{name_of(d)}" is progressing.')
                cond = new_condition("Progressing", "True", "ReplicaSetUpdated", msg, now)
                if cur is not None:
                    if cur.get("status") == "True":
                        cond["lastTransitionTime"] = cur.get("lastTransitionTime")
                    remove_condition(status, "Progressing")
                set_condition(status, cond)
            elif self._timed_out(d, status):
                msg = (f'ReplicaSet "{rs_name}" has timed out progressing.' if new_rs
                       else f'Deployment "{name_of(d)}" has timed out progressing.')
                set_condition(status, new_condition("Progressing", "False", "ProgressDeadlineExceeded", msg, now))
        failure = self._replica_failure(all_rss, new_rs)
        if failure is not None:
            set_condition(status, failure)
        else:
            remove_condition(status, "ReplicaFailure")
        if status == (d.get("status") or {}):
            return d
        d["status"] = status
        return self._write(d)

    def _timed_out(self, d: dict, status: dict) -> bool:
        cond = find_condition(status.get("conditions"), "Progressing")
        if cond is None or cond.get("reason") == "NewReplicaSetAvailable":
            return False
        if cond.get("reason") == "ProgressDeadlineExceeded":
            return True
        since = parse_time(cond.get("lastUpdateTime"))
        deadline = int_field(d, "spec.progressDeadlineSeconds", 600)
        return since is not None and since + deadline < self.ctx.clock()

    def _replica_failure(self, all_rss: list[dict], new_rs: dict | None) -> dict | None:
        ordered = ([new_rs] if new_rs else []) + [rs for rs in all_rss if not new_rs or uid_of(rs) != uid_of(new_rs)]
        for rs in ordered:
            c = find_condition((rs.get("status") or {}).get("conditions"), "ReplicaFailure")
            if c is not None:
                return {"type": "ReplicaFailure", "status": c.get("status"),
                        "lastUpdateTime": c.get("lastTransitionTime"),
                        "lastTransitionTime": c.get("lastTransitionTime"),
                        "reason": c.get("reason"), "message": c.get("message")}
        return None

    def _check_paused_conditions(self, d: dict) -> dict:
        if not has_progress_deadline(d):
            return d
        cond = find_condition((d.get("status") or {}).get("conditions"), "Progressing")
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return d
        paused_exists = cond is not None and cond.get("reason") == "DeploymentPaused"
        paused = bool((d.get("spec") or {}).get("paused"))
        if paused and not paused_exists:
            set_condition(d.setdefault("status", {}), new_condition(
                "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", self._now()))
        elif not paused and paused_exists:
            set_condition(d.setdefault("status", {}), new_condition(
                "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", self._now()))
        else:
            return d
        return self._write(d)

    def _requeue_after(self, d: dict) -> float | None:
        """``requeueStuckDeployment``: come back when the progress deadline would pass."""
        status = d.get("status") or {}
        cond = find_condition(status.get("conditions"), "Progressing")
        if not has_progress_deadline(d) or cond is None or deployment_complete(d, status):
            return None
        if cond.get("reason") in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded"):
            return None
        since = parse_time(cond.get("lastUpdateTime"))
        if since is None:
            return None
        after = since + int_field(d, "spec.progressDeadlineSeconds", 600) - self.ctx.clock()
        return max(after, 0.0) + 1.0


def _namespace_terminating(e: ApiError) -> bool:
    causes = (e.details or {}).get("causes") or []
    return any(c.get("reason") == "NamespaceTerminating" for c in causes)
