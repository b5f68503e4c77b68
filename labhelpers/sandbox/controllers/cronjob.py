"""The cronjob controller (pkg/controller/cronjob, the "v2" controller).

Schedules are evaluated with ``croniter`` in ``spec.timeZone`` (UTC when unset, as a kube-controller-manager
running in a container). Only the most recent missed time is started, ``startingDeadlineSeconds`` bounds how
late that may be, and more than 100 missed times produce the ``TooManyMissedTimes`` warning. Jobs are named
``<cronjob>-<scheduled unix time in minutes>``, which doubles as the lock against starting a time twice.
Everything time-based uses the injected clock, so a sandbox running N times faster fires N times as often, and
after the sandbox clock is fast-forwarded the CronJob behaves as after a real clock jump: the most recent
missed time starts at once (with ``TooManyMissedTimes`` past 100 missed times, or ``MissSchedule`` when
``startingDeadlineSeconds`` has passed).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import format_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from ..apiserver.errors import ApiError
from ..apiserver.store import WatchEvent
from ..clock import parse_duration_ns
from .common import (
    CRONJOB,
    JOB,
    Context,
    Key,
    controller_of,
    controller_ref,
    deleting,
    is_kind,
    log,
    name_of,
    object_reference,
    parse_time,
    rfc3339,
    uid_of,
)
from .job import job_finished

COMPONENT = "cronjob-controller"
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1
MANY_MISSED = 100
_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}

Schedule = Callable[[datetime], datetime]


class ScheduleError(ValueError):
    pass


def _location(name: str) -> tzinfo:
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return UTC  # the controller-manager's local zone; containers run in UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"provided bad location {name}: unknown time zone {name}") from None


def _parse_duration(text: str) -> float:
    try:
        return parse_duration_ns(text) / 1e9
    except ValueError as e:
        raise ScheduleError(str(e)) from None


def parse_schedule(spec: str) -> Schedule:
    """``cron.ParseStandard``: a function giving the first activation strictly after a time."""
    loc: tzinfo = UTC
    spec = spec.strip()
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, spec = spec.partition(" ")
        loc = _location(head.split("=", 1)[1])
        spec = spec.strip()
    if spec.startswith("@every "):
        delay = max(1.0, float(int(_parse_duration(spec[len("@every "):].strip()))))

        def every(t: datetime) -> datetime:
            return t.replace(microsecond=0) + timedelta(seconds=delay)

        return every
    spec = _DESCRIPTORS.get(spec, spec)
    if len(spec.split()) != 5 or not croniter.is_valid(spec):
        from ..apiserver.validation_cron import parse_standard_error

        raise ScheduleError(parse_standard_error(spec) or f"unparseable schedule {spec!r}")

    def nxt(t: datetime) -> datetime:
        return croniter(spec, t.astimezone(loc)).get_next(datetime).astimezone(UTC)

    return nxt


def most_recent_schedule_time(cj: dict, now: datetime, schedule: Schedule,
                              include_deadline: bool) -> tuple[datetime, datetime | None, int]:
    """``mostRecentScheduleTime``: (earliest time considered, most recent unmet time or None, missed count)."""
    status = cj.get("status") or {}
    earliest_ts = parse_time(status.get("lastScheduleTime")) or parse_time(
        cj["metadata"].get("creationTimestamp")) or now.timestamp()
    earliest = datetime.fromtimestamp(earliest_ts, UTC)
    deadline = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        scheduling_deadline = now - timedelta(seconds=int(deadline))
        if scheduling_deadline > earliest:
            earliest = scheduling_deadline
    t1 = schedule(earliest)
    t2 = schedule(t1)
    if now < t1:
        return earliest, None, 0
    if now < t2:
        return earliest, t1, 0
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // between + 1
    most_recent: datetime | None = None
    t = schedule(t1 + timedelta(seconds=(missed - 2) * between))
    while t <= now:
        most_recent = t
        t = schedule(t)
    return earliest, most_recent, missed


def _job_finished_type(job: dict) -> str:
    return job_finished(job)[1]


class CronJobController:
    name = "cronjob"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.registry = ctx.registry

    def keys_for(self, ev: WatchEvent) -> Iterable[Key]:
        if is_kind(ev, CRONJOB):
            yield (ev.namespace, name_of(ev.obj))
        elif is_kind(ev, JOB):
            ref = controller_of(ev.obj)
            if ref is not None and ref.get("kind") == "CronJob" and ref.get("apiVersion") == "batch/v1":
                yield (ev.namespace, ref.get("name", ""))

    def resync_keys(self) -> Iterable[Key]:
        return [(c["metadata"]["namespace"], c["metadata"]["name"]) for c in self.registry.list(CRONJOB)]

    def _event(self, cj: dict, type_: str, reason: str, message: str) -> None:
        self.ctx.recorder.record(cj, type_, reason, message, COMPONENT)

    def reconcile(self, key: Key) -> float | None:
        stored = self.registry.find(CRONJOB, key[0], key[1])
        if stored is None:
            return None
        cj = copy.deepcopy(stored)
        jobs = [j for j in self.registry.list(JOB, key[0]) if (controller_of(j) or {}).get("uid") == uid_of(cj)]
        changed = self._cleanup_finished_jobs(cj, jobs)
        requeue, synced = self._sync(cj, jobs)
        if changed or synced:
            self._write_status(stored, cj)
        return requeue

    def _write_status(self, stored: dict, cj: dict) -> None:
        status = {k: v for k, v in (cj.get("status") or {}).items() if v not in (None, [], {})}
        if status == (stored.get("status") or {}):
            return
        upd = copy.deepcopy(self.registry.get(CRONJOB, stored["metadata"]["namespace"], name_of(stored)))
        upd["status"] = status
        self.registry.update(CRONJOB, stored["metadata"]["namespace"], name_of(stored), upd, subresource="status")

    # --- syncCronJob ---

    def _sync(self, cj: dict, jobs: list[dict]) -> tuple[float | None, bool]:
        status = cj.setdefault("status", {})
        active = status.setdefault("active", [])
        updated = False
        children = {uid_of(j) for j in jobs}
        for j in jobs:
            in_active = any(r.get("uid") == uid_of(j) for r in active)
            finished = _job_finished_type(j)
            if not in_active and not finished:
                self._event(cj, "Warning", "UnexpectedJob",
                            f"Saw a job that the controller did not create or forgot: {name_of(j)}")
            elif in_active and finished:
                status["active"] = active = [r for r in active if r.get("uid") != uid_of(j)]
                self._event(cj, "Normal", "SawCompletedJob",
                            f"Saw completed job: {name_of(j)}, condition: {finished}")
                updated = True
            elif finished == "Complete":
                done = (j.get("status") or {}).get("completionTime")
                last = parse_time(status.get("lastSuccessfulTime"))
                if done and (last is None or (parse_time(done) or 0) > last):
                    status["lastSuccessfulTime"] = done
                    updated = True
        for ref in list(active):
            if ref.get("uid") in children:
                continue
            if self.registry.find(JOB, ref.get("namespace", cj["metadata"]["namespace"]), ref.get("name", "")) is None:
                self._event(cj, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                status["active"] = active = [r for r in active if r.get("uid") != ref.get("uid")]
                updated = True
        if deleting(cj):
            return None, updated
        spec = cj.get("spec") or {}
        tz = spec.get("timeZone")
        if tz is not None:
            try:
                _location(tz)
            except ScheduleError as e:
                self._event(cj, "Warning", "UnknownTimeZone", f'invalid timeZone: "{tz}": {e}')
                return None, updated
        if spec.get("suspend"):
            return None, updated
        schedule_text = spec.get("schedule", "")
        if "TZ" in schedule_text:
            self._event(cj, "Warning", "UnsupportedSchedule",
                        f'CRON_TZ or TZ used in schedule "{schedule_text}" is not officially supported, see '
                        "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details")
        elif tz is not None:
            schedule_text = f"TZ={tz} {schedule_text}"
        try:
            sched = parse_schedule(schedule_text)
        except ScheduleError as e:
            self._event(cj, "Warning", "UnparseableSchedule", f'unparseable schedule: "{spec.get("schedule")}" : {e}')
            return None, updated
        now = datetime.fromtimestamp(self.ctx.clock(), UTC)
        try:
            _, scheduled, missed = most_recent_schedule_time(cj, now, sched, include_deadline=True)
        except ScheduleError as e:
            self._event(cj, "Warning", "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {e}")
            return None, updated
        if scheduled is not None and missed > MANY_MISSED:
            self._event(cj, "Warning", "TooManyMissedTimes",
                        "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
        if scheduled is None:
            return self._next_duration(cj, now, sched), updated
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
            self._event(cj, "Warning", "MissSchedule",
                        f"Missed scheduled time to start a job: {format_datetime(scheduled)}")
            return self._next_duration(cj, now, sched), updated
        job_name = f"{name_of(cj)}-{int(scheduled.timestamp()) // 60}"
        if any(r.get("name") == job_name for r in active) or \
                parse_time(status.get("lastScheduleTime")) == scheduled.timestamp():
            return self._next_duration(cj, now, sched), updated
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            self._event(cj, "Normal", "JobAlreadyActive",
                        "Not starting job because prior execution is running and concurrency policy is Forbid")
            return self._next_duration(cj, now, sched), updated
        if policy == "Replace":
            for ref in list(active):
                job = self.registry.find(JOB, ref.get("namespace", cj["metadata"]["namespace"]), ref.get("name", ""))
                if job is None:
                    self._event(cj, "Warning", "FailedGet", f'Get job: jobs.batch "{ref.get("name")}" not found')
                    raise ApiError.not_found("jobs.batch", ref.get("name", ""))
                if not self._delete_job(cj, job):
                    raise RuntimeError(f"could not replace job {job['metadata']['namespace']}/{name_of(job)}")
                active = status.get("active") or []
                updated = True
        job = self._job_from_template(cj, scheduled, job_name, tz)
        try:
            created = self.registry.create(JOB, cj["metadata"]["namespace"], job)
            self._event(cj, "Normal", "SuccessfulCreate", f"Created job {name_of(created)}")
        except ApiError as e:
            if any(c.get("reason") == "NamespaceTerminating" for c in (e.details or {}).get("causes") or []):
                raise
            if e.code != 409 or e.reason != "AlreadyExists":
                self._event(cj, "Warning", "FailedCreate", f"Error creating job: {e.message}")
                raise
            created = self.registry.find(JOB, cj["metadata"]["namespace"], job_name)
            if created is None or (controller_of(created) or {}).get("uid") != uid_of(cj) or \
                    any(r.get("uid") == uid_of(created) for r in active):
                return None, updated
            log.info("cronjob %s: job %s already exists", name_of(cj), job_name)
        status.setdefault("active", []).append(object_reference(created, JOB))
        status["lastScheduleTime"] = rfc3339(scheduled.timestamp())
        return self._next_duration(cj, now, sched), True

    def _next_duration(self, cj: dict, now: datetime, sched: Schedule) -> float | None:
        try:
            earliest, most_recent, missed = most_recent_schedule_time(cj, now, sched, include_deadline=False)
        except ScheduleError:
            return None
        if most_recent is None:
            most_recent = earliest if missed == 0 else now
        return (sched(most_recent) - now).total_seconds() + NEXT_SCHEDULE_DELTA

    def _job_from_template(self, cj: dict, scheduled: datetime, name: str, tz: str | None) -> dict:
        template = (cj.get("spec") or {}).get("jobTemplate") or {}
        tmeta = template.get("metadata") or {}
        annotations = dict(tmeta.get("annotations") or {})
        local = scheduled.astimezone(_location(tz or ""))
        stamp = local.isoformat(timespec="seconds").replace("+00:00", "Z")
        annotations[SCHEDULED_TIMESTAMP] = stamp
        meta: dict = {"name": name}
        if tmeta.get("labels"):
            meta["labels"] = dict(tmeta["labels"])
        meta["annotations"] = annotations
        meta["ownerReferences"] = [controller_ref(cj, CRONJOB)]
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": copy.deepcopy(template.get("spec") or {})}

    # --- history limits ---

    def _cleanup_finished_jobs(self, cj: dict, jobs: list[dict]) -> bool:
        spec = cj.get("spec") or {}
        if spec.get("successfulJobsHistoryLimit") is None and spec.get("failedJobsHistoryLimit") is None:
            return False
        changed = False
        for kind, limit in (("Complete", spec.get("successfulJobsHistoryLimit")),
                            ("Failed", spec.get("failedJobsHistoryLimit"))):
            if limit is None:
                continue
            done = [j for j in jobs if _job_finished_type(j) == kind]
            excess = len(done) - int(limit)
            if excess <= 0:
                continue
            done.sort(key=lambda j: (parse_time((j.get("status") or {}).get("startTime")) is None,
                                     parse_time((j.get("status") or {}).get("startTime")) or 0, name_of(j)))
            for j in done[:excess]:
                if self._delete_job(cj, j):
                    changed = True
        return changed

    def _delete_job(self, cj: dict, job: dict) -> bool:
        try:
            self.registry.delete(JOB, job["metadata"]["namespace"], name_of(job), propagation="Background")
        except ApiError as e:
            self._event(cj, "Warning", "FailedDelete", f"Deleted job: {e.message}")
            return False
        status = cj.setdefault("status", {})
        status["active"] = [r for r in status.get("active") or [] if r.get("uid") != uid_of(job)]
        self._event(cj, "Normal", "SuccessfulDelete", f"Deleted job {name_of(job)}")
        return True
