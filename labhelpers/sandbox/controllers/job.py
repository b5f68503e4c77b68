"""The job controller (pkg/controller/job) and the TTL-after-finished controller.

Pods carry the ``batch.kubernetes.io/job-tracking`` finalizer; a finished pod is first listed in
``status.uncountedTerminatedPods``, then its finalizer is removed, then it moves into ``succeeded``/``failed``,
so a pod is counted exactly once even if it is deleted right away. Terminal conditions are delayed as in
current Kubernetes: ``SuccessCriteriaMet`` before ``Complete`` and ``FailureTarget`` before ``Failed``, the
latter only once no pod is terminating any more. Failed pods are replaced after an exponential back-off
(10 s doubling to 6 min).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass

from ..apiserver.errors import ApiError
from ..apiserver.store import WatchEvent
from .common import (
    JOB,
    POD,
    Context,
    Key,
    claim,
    controller_of,
    deleting,
    find_condition,
    int_field,
    is_kind,
    is_pod_active,
    is_pod_ready,
    is_pod_terminating,
    log,
    name_of,
    parse_time,
    pod_from_template,
    rfc3339,
    selector_matcher,
    uid_of,
)
from .replicaset import SLOW_START_INITIAL_BATCH, create_pod, deletion_order

COMPONENT = "job-controller"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
MAX_POD_CREATE_DELETE_PER_SYNC = 500
DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")


@dataclass
class _Backoff:
    failures_after_last_success: int = 0
    last_failure: float | None = None


def job_finished(job: dict) -> tuple[bool, str]:
    """``IsJobFinished``: a Complete or Failed condition that is True."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return True, c["type"]
    return False, ""


def _has_finalizer(pod: dict) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def _finish_time(pod: dict, now: float) -> float:
    times = []
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        t = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if t is not None:
            times.append(t)
    if times:
        return max(times)
    return parse_time(pod["metadata"].get("deletionTimestamp")) or now


def _index_of(pod: dict) -> int | None:
    try:
        return int((pod["metadata"].get("annotations") or {}).get(INDEX_KEY, ""))
    except ValueError:
        return None


def format_indexes(indexes: Iterable[int]) -> str:
    """``orderedIntervals.String``: ``1,3-5``."""
    out: list[str] = []
    xs = sorted(set(indexes))
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[j] + 1:
            j += 1
        out.append(str(xs[i]) if i == j else f"{xs[i]}-{xs[j]}")
        i = j + 1
    return ",".join(out)


def parse_indexes(s: str | None, completions: int) -> set[int]:
    out: set[int] = set()
    for part in (s or "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            continue
        out.update(x for x in range(a, b + 1) if x < completions)
    return out


def _condition(type_: str, reason: str, message: str, now: str, status: str = "True") -> dict:
    return {"type": type_, "status": status, "lastProbeTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


class JobController:
    name = "job"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.registry = ctx.registry
        self._backoff: dict[tuple[str, str], _Backoff] = {}

    # --- event mapping ---

    def keys_for(self, ev: WatchEvent) -> Iterable[Key]:
        if is_kind(ev, JOB):
            yield ("job", ev.namespace, name_of(ev.obj))
        elif is_kind(ev, POD):
            ref = controller_of(ev.obj)
            if ref is not None and ref.get("kind") == "Job" and ref.get("apiVersion") == "batch/v1":
                yield ("job", ev.namespace, ref.get("name", ""))
                if ev.type != "DELETED" and _has_finalizer(ev.obj):
                    yield ("pod", ev.namespace, name_of(ev.obj))

    def resync_keys(self) -> Iterable[Key]:
        for j in self.registry.list(JOB):
            yield ("job", j["metadata"]["namespace"], j["metadata"]["name"])
        for p in self.registry.list(POD):
            ref = controller_of(p)
            if ref is not None and ref.get("kind") == "Job" and _has_finalizer(p):
                yield ("pod", p["metadata"]["namespace"], p["metadata"]["name"])

    def reconcile(self, key: Key) -> float | None:
        if key[0] == "pod":
            self._sync_orphan_pod(key[1], key[2])
            return None
        return self._sync_job(key[1], key[2])

    # --- orphan pods: a tracking finalizer whose Job is gone or finished ---

    def _sync_orphan_pod(self, ns: str, name: str) -> None:
        pod = self.registry.find(POD, ns, name)
        if pod is None or not _has_finalizer(pod):
            return
        ref = controller_of(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
                return
            job = self.registry.find(JOB, ns, ref.get("name", ""))
            if job is not None and uid_of(job) == ref.get("uid") and not job_finished(job)[0]:
                return
        self._remove_finalizer(pod)

    def _remove_finalizer(self, pod: dict) -> bool:
        """Drop the tracking finalizer from the pod's current version; a pod that is gone counts as done."""
        cur = self.registry.find(POD, pod["metadata"]["namespace"], name_of(pod))
        if cur is None or uid_of(cur) != uid_of(pod) or not _has_finalizer(cur):
            return True
        pod = copy.deepcopy(cur)
        fins = [f for f in pod["metadata"].get("finalizers") or [] if f != TRACKING_FINALIZER]
        if fins:
            pod["metadata"]["finalizers"] = fins
        else:
            pod["metadata"].pop("finalizers", None)
        try:
            self.registry.update(POD, pod["metadata"]["namespace"], name_of(pod), pod)
        except ApiError as e:
            if e.code != 404:
                raise
        return True

    # --- syncJob ---

    def _sync_job(self, ns: str, name: str) -> float | None:
        job = self.registry.find(JOB, ns, name)
        if job is None:
            self._backoff.pop((ns, name), None)
            return None
        finished, _ = job_finished(job)
        if finished:
            self._backoff.pop((ns, name), None)
            return self._ttl_after_finished(job)
        job = copy.deepcopy(job)
        spec = job.get("spec") or {}
        status = job.setdefault("status", {})
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        now_ts = self.ctx.clock()
        now = rfc3339(now_ts)
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        suspended = bool(spec.get("suspend"))
        only_failed = spec.get("podReplacementPolicy") == "Failed" or bool(spec.get("podFailurePolicy"))

        pods = self._pods_for_job(job)
        active_pods = [p for p in pods if is_pod_active(p)]
        terminating = sum(1 for p in pods if is_pod_terminating(p))
        active = len(active_pods)
        unc_s, unc_f = set(uncounted.get("succeeded") or []), set(uncounted.get("failed") or [])

        def failed(p: dict) -> bool:
            phase = (p.get("status") or {}).get("phase")
            if phase == "Failed":
                return True
            return not only_failed and deleting(p) and phase != "Succeeded"

        new_s = [p for p in pods if _has_finalizer(p) and uid_of(p) not in unc_s
                 and (p.get("status") or {}).get("phase") == "Succeeded"]
        new_f = [p for p in pods if _has_finalizer(p) and uid_of(p) not in unc_f and failed(p)]
        succeeded = status.get("succeeded", 0) + len(new_s) + len(unc_s)
        n_failed = status.get("failed", 0) + len(new_f) + len(unc_f)
        if not status.get("startTime") and not suspended:
            status["startTime"] = now
        backoff = self._update_backoff((ns, name), new_s, new_f, now_ts)

        requeue: float | None = None
        finished_cond = find_condition(status.get("conditions"), "SuccessCriteriaMet")
        finished_cond = copy.deepcopy(finished_cond) if finished_cond else None
        if finished_cond is None:
            target = find_condition(status.get("conditions"), "FailureTarget")
            if target is not None and target.get("status") == "True":
                finished_cond = _condition("Failed", target.get("reason", ""), target.get("message", ""), now)
        if finished_cond is None:
            deadline = spec.get("activeDeadlineSeconds")
            started = parse_time(status.get("startTime"))
            if n_failed > int_field(job, "spec.backoffLimit", 6) or self._past_backoff_on_failure(job, pods):
                finished_cond = _condition("FailureTarget", "BackoffLimitExceeded",
                                           "Job has reached the specified backoff limit", now)
            elif deadline is not None and started is not None and not suspended and \
                    now_ts - started >= int(deadline):
                finished_cond = _condition("FailureTarget", "DeadlineExceeded",
                                           "Job was active longer than specified deadline", now)
            elif deadline is not None and started is not None and not suspended:
                requeue = started + int(deadline) - now_ts

        completed_indexes: set[int] = set()
        if indexed and completions is not None:
            completed_indexes = parse_indexes(status.get("completedIndexes"), int(completions)) | {
                i for p in pods if (i := _index_of(p)) is not None and i < int(completions)
                and (p.get("status") or {}).get("phase") == "Succeeded"}
            succeeded = len(completed_indexes)

        ready = sum(1 for p in active_pods if is_pod_ready(p))
        manage_called = False
        if finished_cond is not None:
            deleted, deleted_ready = self._delete_pods(job, active_pods, keep_finalizers=True)
            if deleted != active:
                finished_cond = None
            active -= deleted
            terminating += deleted
            ready -= deleted_ready
        else:
            if not deleting(job):
                manage_called = True
                active, terminating, ready, wait = self._manage(job, active_pods, succeeded, terminating, ready,
                                                                only_failed, backoff, now_ts, completed_indexes)
                if wait is not None:
                    requeue = wait if requeue is None else min(requeue, wait)
            complete = (succeeded > 0 and active == 0) if completions is None else \
                (succeeded >= int(completions) and active == 0)
            if complete:
                finished_cond = _condition("SuccessCriteriaMet", *COMPLETIONS_REACHED, now)
            elif manage_called:
                self._suspend_condition(job, status, suspended, now)

        # Every sync flushes; _write_status skips writes that change nothing.
        _set_count(status, "active", active)
        status["ready"] = ready
        status["terminating"] = terminating
        if indexed and completions is not None:
            text = format_indexes(completed_indexes)
            _set_count(status, "succeeded", len(completed_indexes))
            if text:
                status["completedIndexes"] = text
            else:
                status.pop("completedIndexes", None)
        self._track_and_remove_finalizers(job, pods, finished_cond, failed, indexed)
        return requeue

    def _pods_for_job(self, job: dict) -> list[dict]:
        selector = (job.get("spec") or {}).get("selector")
        matches = selector_matcher(selector) if selector is not None else (lambda labels: False)
        return claim(self.registry, POD, job, JOB, matches, self.registry.list(POD, job["metadata"]["namespace"]))

    def _update_backoff(self, key: tuple[str, str], new_s: list[dict], new_f: list[dict], now: float) -> _Backoff:
        rec = self._backoff.setdefault(key, _Backoff())
        if new_s:
            last_success = max(_finish_time(p, now) for p in new_s)
            failures_after = [p for p in new_f if _finish_time(p, now) > last_success]
            rec.failures_after_last_success = len(failures_after)
            rec.last_failure = max((_finish_time(p, now) for p in failures_after), default=None)
        elif new_f:
            rec.failures_after_last_success += len(new_f)
            rec.last_failure = max(_finish_time(p, now) for p in new_f)
        return rec

    @staticmethod
    def _backoff_remaining(rec: _Backoff, now: float) -> float:
        if rec.failures_after_last_success == 0 or rec.last_failure is None:
            return 0.0
        duration = min(DEFAULT_BACKOFF * 2 ** (rec.failures_after_last_success - 1), MAX_BACKOFF)
        elapsed = now - rec.last_failure
        return 0.0 if duration < elapsed else duration - elapsed

    @staticmethod
    def _past_backoff_on_failure(job: dict, pods: list[dict]) -> bool:
        template_spec = (((job.get("spec") or {}).get("template") or {}).get("spec") or {})
        if template_spec.get("restartPolicy") != "OnFailure":
            return False
        restarts = 0
        for p in pods:
            st = p.get("status") or {}
            if st.get("phase") in ("Running", "Pending"):
                for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
                    restarts += cs.get("restartCount", 0)
        limit = int_field(job, "spec.backoffLimit", 6)
        return restarts > 0 if limit == 0 else restarts >= limit

    def _suspend_condition(self, job: dict, status: dict, suspended: bool, now: str) -> bool:
        conds = status.setdefault("conditions", [])
        cur = find_condition(conds, "Suspended")
        want = ("True", "JobSuspended", "Job suspended") if suspended else ("False", "JobResumed", "Job resumed")
        if cur is None and not suspended:
            if not conds:
                status.pop("conditions")
            return False
        if cur is not None and (cur.get("status"), cur.get("reason"), cur.get("message")) == want:
            return False
        new = _condition("Suspended", want[1], want[2], now, status=want[0])
        if cur is None:
            conds.append(new)
        else:
            cur.clear()
            cur.update(new)
        if suspended:
            self.ctx.recorder.record(job, "Normal", "Suspended", "Job suspended", COMPONENT)
        else:
            self.ctx.recorder.record(job, "Normal", "Resumed", "Job resumed", COMPONENT)
            status["startTime"] = now
        return True

    # --- manageJob ---

    def _manage(self, job: dict, active_pods: list[dict], succeeded: int, terminating: int, ready: int,
                only_failed: bool, backoff: _Backoff, now: float,
                completed: set[int]) -> tuple[int, int, int, float | None]:
        spec = job.get("spec") or {}
        active = len(active_pods)
        parallelism = int_field(job, "spec.parallelism", 1)
        completions = spec.get("completions")
        indexed = spec.get("completionMode") == "Indexed" and completions is not None
        if spec.get("suspend"):
            removed, removed_ready = self._delete_pods(job, active_pods, keep_finalizers=False)
            return active - removed, terminating + removed, ready - removed_ready, None
        if completions is None:
            want = active if succeeded > 0 else parallelism
        else:
            want = max(0, min(int(completions) - succeeded, parallelism))
        to_remove: list[dict] = []
        if indexed:
            seen: set[int] = set()
            for p in sorted(active_pods, key=lambda p: p["metadata"].get("creationTimestamp", "")):
                i = _index_of(p)
                if i is None or i >= int(completions) or i in seen or i in completed:
                    to_remove.append(p)
                elif i is not None:
                    seen.add(i)
        rm_at_least = max(0, active - want)
        if len(to_remove) < rm_at_least:
            rest = [p for p in active_pods if p not in to_remove]
            to_remove += deletion_order(rest, rest, now)[:rm_at_least - len(to_remove)]
        to_remove = to_remove[:MAX_POD_CREATE_DELETE_PER_SYNC]
        if to_remove:
            removed, removed_ready = self._delete_pods(job, to_remove, keep_finalizers=False)
            return active - removed, terminating + removed, ready - removed_ready, None
        diff = want - (terminating if only_failed else 0) - active
        if diff <= 0:
            return active, terminating, ready, None
        wait = self._backoff_remaining(backoff, now)
        if wait > 0:
            return active, terminating, ready, max(wait, 1.0)
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes: list[int] = []
        if indexed:
            busy = {_index_of(p) for p in active_pods} | completed
            indexes = [i for i in range(int(completions)) if i not in busy][:diff]
            diff = len(indexes)
        created = self._create_pods(job, diff, indexes)
        return active + created, terminating, ready, None

    def _pod_template(self, job: dict, index: int | None) -> tuple[dict, str]:
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        tmeta = template.setdefault("metadata", {})
        labels = tmeta.setdefault("labels", {})
        # The apiserver stamps these on the template at create time; make sure pods carry them regardless.
        for k, v in (("batch.kubernetes.io/controller-uid", uid_of(job)), ("batch.kubernetes.io/job-name", name_of(job)),
                     ("controller-uid", uid_of(job)), ("job-name", name_of(job))):
            labels.setdefault(k, v)
        fins = tmeta.setdefault("finalizers", [])
        if TRACKING_FINALIZER not in fins:
            fins.append(TRACKING_FINALIZER)
        generate_name = ""
        if index is not None:
            tmeta.setdefault("annotations", {})[INDEX_KEY] = str(index)
            labels[INDEX_KEY] = str(index)
            spec = template.setdefault("spec", {})
            spec["hostname"] = f"{name_of(job)}-{index}"
            env = {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                "fieldPath": f"metadata.annotations['{INDEX_KEY}']"}}}
            for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in c.get("env") or []):
                    c.setdefault("env", []).append(copy.deepcopy(env))
            generate_name = f"{name_of(job)}-{index}-"
        return template, generate_name

    def _create_pods(self, job: dict, count: int, indexes: list[int]) -> int:
        created = 0
        batch = min(count, SLOW_START_INITIAL_BATCH)
        remaining = count
        queue = list(indexes)
        while remaining > 0:
            errors = 0
            for _ in range(batch):
                index = queue.pop(0) if queue else None
                template, generate_name = self._pod_template(job, index)
                pod = pod_from_template(template, job, JOB, generate_name)
                if create_pod(self.ctx, job, pod, COMPONENT) is None:
                    created += 1
                else:
                    errors += 1
            if errors:
                break
            remaining -= batch
            batch = min(2 * batch, remaining)
        return created

    def _delete_pods(self, job: dict, pods: list[dict], keep_finalizers: bool) -> tuple[int, int]:
        """Returns (deleted, deleted that were ready). deleteActivePods keeps the tracking finalizer so the
        pod is still counted; deleteJobPods removes it first."""
        deleted = deleted_ready = 0
        for pod in pods:
            try:
                if not keep_finalizers and _has_finalizer(pod):
                    self._remove_finalizer(pod)
                self.registry.delete(POD, pod["metadata"]["namespace"], name_of(pod))
            except ApiError as e:
                if e.code != 404:
                    self.ctx.recorder.record(job, "Warning", "FailedDelete", f"Error deleting: {e.message}",
                                             COMPONENT)
                    continue
            else:
                self.ctx.recorder.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name_of(pod)}",
                                         COMPONENT)
            deleted += 1
            deleted_ready += 1 if is_pod_ready(pod) else 0
        return deleted, deleted_ready

    # --- trackJobStatusAndRemoveFinalizers ---

    def _track_and_remove_finalizers(self, job: dict, pods: list[dict], finished_cond: dict | None,
                                     failed, indexed: bool) -> None:
        status = job["status"]
        uncounted = status["uncountedTerminatedPods"]
        with_finalizer = {uid_of(p) for p in pods if _has_finalizer(p)}
        _clean_uncounted(status, with_finalizer)
        to_remove: list[dict] = []
        unc_f = set(uncounted.get("failed") or [])
        unc_s = set(uncounted.get("succeeded") or [])
        for pod in pods:
            if not _has_finalizer(pod):
                continue
            considered_failed = failed(pod)
            if not (deleting(job) or finished_cond is not None
                    or (pod.get("status") or {}).get("phase") == "Succeeded" or considered_failed):
                continue
            to_remove.append(pod)
            uid = uid_of(pod)
            if (pod.get("status") or {}).get("phase") == "Succeeded" and uid not in unc_f:
                if not indexed and uid not in unc_s:
                    uncounted.setdefault("succeeded", []).append(uid)
                    unc_s.add(uid)
            elif uid not in unc_f and (considered_failed or (finished_cond is not None
                                                             and finished_cond["type"] != "SuccessCriteriaMet")):
                uncounted.setdefault("failed", []).append(uid)
                unc_f.add(uid)
        now = rfc3339(self.ctx.clock())
        if finished_cond is not None and finished_cond["type"] == "FailureTarget":
            status.setdefault("conditions", []).append(finished_cond)
            finished_cond = _condition("Failed", finished_cond["reason"], finished_cond["message"], now)
        if finished_cond is not None and finished_cond["type"] == "SuccessCriteriaMet":
            if find_condition(status.get("conditions"), "SuccessCriteriaMet") is None:
                status.setdefault("conditions", []).append(finished_cond)
            finished_cond = _condition("Complete", finished_cond["reason"], finished_cond["message"], now)
        # Flush the uncounted UIDs (and interim condition) before any finalizer goes, then count them.
        job = self._write_status(job)
        removed = set()
        for pod in to_remove:
            if self._remove_finalizer(pod):
                removed.add(uid_of(pod))
        _clean_uncounted(job["status"], with_finalizer - removed)
        finished = self._enact_finished(job, finished_cond)
        job = self._write_status(job)
        if finished and finished_cond is not None:
            self._record_finished(job, finished_cond)

    def _enact_finished(self, job: dict, cond: dict | None) -> bool:
        if cond is None:
            return False
        status = job["status"]
        unc = status.get("uncountedTerminatedPods") or {}
        if unc.get("succeeded") or unc.get("failed") or status.get("terminating", 0) > 0:
            return False
        conds = status.setdefault("conditions", [])
        cur = find_condition(conds, cond["type"])
        if cur is None:
            conds.append(cond)
        elif (cur.get("status"), cur.get("reason"), cur.get("message")) != (cond["status"], cond["reason"],
                                                                              cond["message"]):
            cur.clear()
            cur.update(cond)
        if cond["type"] == "Complete":
            status["completionTime"] = cond["lastTransitionTime"]
        return True

    def _record_finished(self, job: dict, cond: dict) -> None:
        if cond["type"] == "Complete":
            completions = (job.get("spec") or {}).get("completions")
            if completions is not None and (job.get("status") or {}).get("succeeded", 0) > int(completions):
                self.ctx.recorder.record(job, "Warning", "TooManySucceededPods",
                                         "Too many succeeded pods running after completion count reached", COMPONENT)
            self.ctx.recorder.record(job, "Normal", "Completed", "Job completed", COMPONENT)
        else:
            self.ctx.recorder.record(job, "Warning", cond["reason"], cond["message"], COMPONENT)

    def _write_status(self, job: dict) -> dict:
        ns, name = job["metadata"]["namespace"], name_of(job)
        stored = self.registry.get(JOB, ns, name)
        status = _ordered_status(job["status"])
        if (stored.get("status") or {}) == status:
            job["status"] = status
            return job
        upd = copy.deepcopy(stored)
        upd["status"] = status
        out = self.registry.update(JOB, ns, name, upd, subresource="status")
        return copy.deepcopy(out)

    # --- ttl-after-finished ---

    def _ttl_after_finished(self, job: dict) -> float | None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None or deleting(job):
            return None
        status = job.get("status") or {}
        finish = parse_time(status.get("completionTime"))
        if finish is None:
            for c in status.get("conditions") or []:
                if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
                    finish = parse_time(c.get("lastTransitionTime"))
        if finish is None:
            return None
        remaining = finish + int(ttl) - self.ctx.clock()
        if remaining > 0:
            return remaining
        log.info("job %s/%s: ttlSecondsAfterFinished passed, deleting", job["metadata"]["namespace"], name_of(job))
        try:
            self.registry.delete(JOB, job["metadata"]["namespace"], name_of(job), propagation="Foreground",
                                 preconditions={"uid": uid_of(job)})
        except ApiError as e:
            if e.code not in (404, 409):
                raise
        return None


def _set_count(status: dict, key: str, value: int) -> None:
    if value:
        status[key] = value
    else:
        status.pop(key, None)


def _clean_uncounted(status: dict, with_finalizer: set[str]) -> bool:
    """``cleanUncountedPodsWithoutFinalizers``: uncounted pods whose finalizer is gone become counts."""
    unc = status.setdefault("uncountedTerminatedPods", {})
    changed = False
    for field in ("succeeded", "failed"):
        uids = unc.get(field) or []
        keep = [u for u in uids if u in with_finalizer]
        if len(keep) != len(uids):
            changed = True
            _set_count(status, field, status.get(field, 0) + len(uids) - len(keep))
        if keep:
            unc[field] = keep
        else:
            unc.pop(field, None)
    return changed


_STATUS_ORDER = ("conditions", "startTime", "completionTime", "active", "succeeded", "failed", "terminating",
                 "completedIndexes", "failedIndexes", "uncountedTerminatedPods", "ready")


def _ordered_status(status: dict) -> dict:
    """JobStatus in the Go struct's field order, so ``-o yaml``/``json`` read like a real cluster's."""
    out = {k: status[k] for k in _STATUS_ORDER if k in status}
    out.update({k: v for k, v in status.items() if k not in out})
    return out
