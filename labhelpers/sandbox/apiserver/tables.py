"""Server-side ``meta.k8s.io/v1`` Tables: the columns ``kubectl get`` prints.

kubectl renders whatever Table the server sends (finding 4 of the kubectl API-surface notes), so every
column, cell type and status string here follows kube-apiserver's printers
(``pkg/printers/internalversion/printers.go``), the generic ``Name``/``Created At`` convertor, and the CRD
``additionalPrinterColumns`` convertor. As upstream, the server always fills the wide (priority 1) cells;
kubectl hides them unless ``-o wide``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .errors import ApiError, go_quote
from .resources import PrinterColumn, ResourceType
from .selectors import SelectorError, selector_from_label_selector, selector_to_string

__all__ = ["age", "human_duration", "parse_time", "pod_status", "printer_for", "short_human_duration", "to_table"]

Obj = Mapping[str, Any]

# --- time (k8s.io/apimachinery/pkg/util/duration, metav1.Time) ---

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def _parse_rfc3339(ts: str) -> datetime | None:
    """``time.Parse(time.RFC3339, ts)`` in UTC; ``None`` when Go would return an error."""
    m = _RFC3339.match(ts)
    if not m:
        return None
    frac = m.group(7)[1:7].ljust(6, "0") if m.group(7) else "0"
    zone = m.group(8)
    try:
        t = datetime(*(int(m.group(i)) for i in range(1, 7)), int(frac), tzinfo=UTC)
        if zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            t -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    except (ValueError, OverflowError):
        return None
    return t


def parse_time(ts: Any) -> datetime | None:
    """A ``metav1.Time``/``MicroTime`` as UTC; ``None`` for the zero time (absent, null, year 1) or bad text."""
    if not isinstance(ts, str) or not ts:
        return None
    t = _parse_rfc3339(ts)
    return None if t is None or t == _ZERO_TIME else t


def _rfc3339(t: datetime) -> str:
    """``Time.UTC().Format(time.RFC3339)`` (whole seconds, zero-padded year)."""
    t = t.astimezone(UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def _nanos(d: timedelta) -> int:
    return (d.days * 86400 + d.seconds) * 1_000_000_000 + d.microseconds * 1000


def _trunc_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // b
    return q if a >= 0 else -q


def human_duration(d: timedelta) -> str:
    """``duration.HumanDuration``: about 2-3 significant figures (``45s``, ``3m10s``, ``70m``, ``2d1h``)."""
    ns = _nanos(d)
    seconds = _trunc_div(ns, 1_000_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = ns // 60_000_000_000
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = ns // 3_600_000_000_000
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def short_human_duration(d: timedelta) -> str:
    """``duration.ShortHumanDuration``: one unit only (``59s``, ``1m``, ``23h``, ``364d``, ``2y``)."""
    ns = _nanos(d)
    seconds = _trunc_div(ns, 1_000_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60:
        return f"{seconds}s"
    if (minutes := ns // 60_000_000_000) < 60:
        return f"{minutes}m"
    if (hours := ns // 3_600_000_000_000) < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{hours // 24 // 365}y"


def age(ts: Any, now: datetime) -> str:
    """``translateTimestampSince``: HumanDuration since ``ts``, ``<unknown>`` for the zero time."""
    t = parse_time(ts)
    return "<unknown>" if t is None else human_duration(now - t)


# --- column descriptions (the SwaggerDoc strings the printers reference) ---

_DOC = {
    "ObjectMeta.name": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    "ObjectMeta.creationTimestamp": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    "PodStatus.podIP": "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    "PodSpec.nodeName": "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
    "PodStatus.nominatedNodeName": "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
    "PodSpec.readinessGates": "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
    "Event.lastTimestamp": "The time at which the most recent occurrence of this event was recorded.",
    "Event.type": "Type of this event (Normal, Warning), new types could be added in the future",
    "Event.reason": "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    "Event.involvedObject": "The object that this event is about.",
    "ObjectReference.fieldPath": "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
    "Event.source": "The component reporting this event. Should be a short machine understandable string.",
    "Event.message": "A human-readable description of the status of this operation.",
    "Event.firstTimestamp": "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
    "Event.count": "The number of times this event has occurred.",
    "Secret.type": "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
    "Secret.data": "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
    "ServiceAccount.secrets": "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret",
    "ConfigMap.data": "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
    "JobStatus.succeeded": "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.",
    "JobSpec.selector": "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    # batch/v1beta1 CronJob docs (identical to batch/v1).
    "CronJobSpec.schedule": "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    "CronJobSpec.timeZone": "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones",
    "CronJobSpec.suspend": "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.",
    "CronJobStatus.active": "A list of pointers to currently running jobs.",
    "CronJobStatus.lastScheduleTime": "Information when was the last time the job was successfully scheduled.",
    # The Deployment/ReplicaSet printers cite extensions/v1beta1 docs, RoleBinding printers rbac/v1beta1 ones.
    "ext.DeploymentStatus.updatedReplicas": "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
    "ext.DeploymentStatus.availableReplicas": "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
    "ext.DeploymentSpec.selector": "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
    "ext.ReplicaSetSpec.replicas": "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller",
    "ext.ReplicaSetStatus.replicas": "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller",
    "ext.ReplicaSetStatus.readyReplicas": "The number of ready replicas for this replica set.",
    "ext.ReplicaSetSpec.selector": "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    "rbac.RoleBinding.roleRef": "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.",
    "rbac.ClusterRoleBinding.roleRef": "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.",
}

_CONTAINERS_DOC = "Names of each container in the template."
_IMAGES_DOC = "Images referenced by each container in the template."


def _col(name: str, type_: str, description: str, *, fmt: str = "", priority: int = 0) -> dict:
    """A ``TableColumnDefinition`` with every field present, as Go serialises it."""
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


_NAME = _col("Name", "string", _DOC["ObjectMeta.name"], fmt="name")
_AGE = _col("Age", "string", _DOC["ObjectMeta.creationTimestamp"])


# --- helpers mirroring printers.go ---

def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _name(obj: Obj) -> str:
    return _meta(obj).get("name") or ""


def _created(obj: Obj, now: datetime) -> str:
    return age(_meta(obj).get("creationTimestamp"), now)


def _int(v: Any) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0


def _layout_containers(containers: list[Obj] | None) -> tuple[str, str]:
    containers = containers or []
    return (",".join(c.get("name") or "" for c in containers), ",".join(c.get("image") or "" for c in containers))


def _pod_template_containers(obj: Obj) -> list[Obj]:
    return (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []


_GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _trim_space(s: str) -> str:
    """``strings.TrimSpace`` (Unicode White_Space, which differs slightly from ``str.strip``)."""
    return s.strip(_GO_SPACE)


def _print_bool_ptr(v: Any) -> str:
    return "<unset>" if v is None else ("True" if v else "False")


# --- pods ---

_POD_SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                   "message": "The pod has completed successfully."}]
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def _is_restartable_init(container: Obj | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"


def _terminated_at(cs: Obj) -> tuple[bool, datetime | None]:
    """(lastState.terminated present, its finishedAt) of a container status."""
    term = (cs.get("lastState") or {}).get("terminated")
    return term is not None, parse_time((term or {}).get("finishedAt"))


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    """``if current.Before(candidate) { current = candidate }`` with ``None`` as the zero time."""
    if candidate is None:
        return current
    return candidate if current is None or current < candidate else current


def _exit_reason(term: Obj, prefix: str) -> str:
    if term.get("reason"):
        return prefix + term["reason"]
    if _int(term.get("signal")) != 0:
        return f"{prefix}Signal:{_int(term.get('signal'))}"
    return f"{prefix}ExitCode:{_int(term.get('exitCode'))}"


def pod_status(pod: Obj, now: datetime) -> tuple[str, str, str]:
    """The (READY, STATUS, RESTARTS) cells of a pod, computed exactly as ``printPod``."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    conditions = status.get("conditions") or []
    init_specs_list = spec.get("initContainers") or []
    total = len(spec.get("containers") or [])
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in conditions:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs: dict[str, Obj] = {}
    for c in init_specs_list:
        init_specs[c.get("name") or ""] = c
        if _is_restartable_init(c):
            total += 1

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += _int(cs.get("restartCount"))
        has_term, finished = _terminated_at(cs)
        if has_term:
            last_restart = _later(last_restart, finished)
        sidecar = _is_restartable_init(init_specs.get(cs.get("name") or ""))
        if sidecar:
            sidecar_restarts += _int(cs.get("restartCount"))
            if has_term:
                last_sidecar_restart = _later(last_sidecar_restart, finished)
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term is not None and _int(term.get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            reason = _exit_reason(term, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs_list)}"
        initializing = True
        break

    initialized = next((c.get("status") == "True" for c in conditions if c.get("type") == "Initialized"), False)
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += _int(cs.get("restartCount"))
            has_term, finished = _terminated_at(cs)
            if has_term:
                last_restart = _later(last_restart, finished)
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None:
                reason = _exit_reason(term, "")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"

    if _meta(pod).get("deletionTimestamp") is not None:
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Failed", "Succeeded"):
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"
    return f"{ready}/{total}", reason, restarts_cell


def _pod_row(pod: Obj, now: datetime) -> list:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ready, reason, restarts = pod_status(pod, now)
    ips = status.get("podIPs") or []
    pod_ip = (ips[0].get("ip") if ips else status.get("podIP")) or "<none>"
    gates = spec.get("readinessGates") or []
    readiness = "<none>"
    if gates:
        conditions = status.get("conditions") or []
        passed = 0
        for gate in gates:
            cond = next((c for c in conditions if c.get("type") == gate.get("conditionType")), None)
            if cond is not None and cond.get("status") == "True":
                passed += 1
        readiness = f"{passed}/{len(gates)}"
    return [_name(pod), ready, reason, restarts, _created(pod, now),
            pod_ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", readiness]


def _pod_conditions(pod: Obj) -> list | None:
    phase = (pod.get("status") or {}).get("phase")
    return _POD_SUCCEEDED if phase == "Succeeded" else _POD_FAILED if phase == "Failed" else None


# --- events ---

def _event_row(ev: Obj, now: datetime) -> list:
    first_ts = parse_time(ev.get("firstTimestamp"))
    first = human_duration(now - first_ts) if first_ts else age(ev.get("eventTime"), now)
    last_ts = parse_time(ev.get("lastTimestamp"))
    last = human_duration(now - last_ts) if last_ts else first
    count = _int(ev.get("count"))
    series = ev.get("series")
    if series is not None:
        last = age(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    involved = ev.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""
    instance = source.get("host") or ev.get("reportingInstance") or ""
    source_cell = f"{component}, {instance}" if instance else component
    return [last, ev.get("type") or "", ev.get("reason") or "", target, involved.get("fieldPath") or "",
            source_cell, _trim_space(ev.get("message") or ""), first, count, _name(ev)]


# --- workloads ---

def _deployment_row(d: Obj, now: datetime) -> list:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    desired = 1 if spec.get("replicas") is None else _int(spec.get("replicas"))  # v1 defaulting
    try:
        selector = str(selector_from_label_selector(spec.get("selector")))
    except SelectorError:
        selector = "<invalid>"
    names, images = _layout_containers(_pod_template_containers(d))
    return [_name(d), f"{_int(status.get('readyReplicas'))}/{desired}", _int(status.get("updatedReplicas")),
            _int(status.get("availableReplicas")), _created(d, now), names, images, selector]


def _replicaset_row(rs: Obj, now: datetime) -> list:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    desired = 1 if spec.get("replicas") is None else _int(spec.get("replicas"))
    names, images = _layout_containers(_pod_template_containers(rs))
    return [_name(rs), desired, _int(status.get("replicas")), _int(status.get("readyReplicas")), _created(rs, now),
            names, images, selector_to_string(spec.get("selector"))]


def _has_condition(conditions: list[Obj], ctype: str) -> bool:
    """``hasJobCondition``: the first condition of the type decides."""
    return next((c.get("status") == "True" for c in conditions if c.get("type") == ctype), False)


def _job_row(job: Obj, now: datetime) -> list:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = _int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{_int(spec['completions'])}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {_int(spec['parallelism'])}"
    else:
        completions = f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = "" if start is None else human_duration((end or now) - start)
    conditions = status.get("conditions") or []
    if _has_condition(conditions, "Complete"):
        state = "Complete"
    elif _has_condition(conditions, "Failed"):
        state = "Failed"
    elif _meta(job).get("deletionTimestamp") is not None:
        state = "Terminating"
    elif _has_condition(conditions, "Suspended"):
        state = "Suspended"
    elif _has_condition(conditions, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    names, images = _layout_containers(_pod_template_containers(job))
    return [_name(job), state, completions, duration, _created(job, now),
            names, images, selector_to_string(spec.get("selector"))]


def _cronjob_row(cj: Obj, now: datetime) -> list:
    spec, status = cj.get("spec") or {}, cj.get("status") or {}
    last = status.get("lastScheduleTime")
    job_spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    names, images = _layout_containers(((job_spec.get("template") or {}).get("spec") or {}).get("containers"))
    suspend = spec.get("suspend")
    return [_name(cj), spec.get("schedule") or "", spec.get("timeZone") or "<none>",
            _print_bool_ptr(False if suspend is None else suspend),  # v1 defaulting sets suspend: false
            len(status.get("active") or []), "<none>" if last is None else age(last, now), _created(cj, now),
            names, images, selector_to_string(job_spec.get("selector"))]


# --- core config and RBAC ---

def _binding_row(b: Obj, now: datetime) -> list:
    ref = b.get("roleRef") or {}
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    for s in b.get("subjects") or []:
        kind = s.get("kind")
        if kind == "ServiceAccount":
            sas.append(f"{s.get('namespace') or ''}/{s.get('name') or ''}")
        elif kind == "User":
            users.append(s.get("name") or "")
        elif kind == "Group":
            groups.append(s.get("name") or "")
    return [_name(b), f"{ref.get('kind') or ''}/{ref.get('name') or ''}", _created(b, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


def _binding_columns(what: str, role_ref_doc: str) -> list[dict]:
    return [_NAME, _col("Role", "string", role_ref_doc), _AGE,
            _col("Users", "string", f"Users in the {what}", priority=1),
            _col("Groups", "string", f"Groups in the {what}", priority=1),
            _col("ServiceAccounts", "string", f"ServiceAccounts in the {what}", priority=1)]


@dataclass(frozen=True)
class _Printer:
    columns: list[dict]
    row: Callable[[Obj, datetime], list]
    conditions: Callable[[Obj], list | None] = lambda obj: None


_WORKLOAD_WIDE = [_col("Containers", "string", _CONTAINERS_DOC, priority=1),
                  _col("Images", "string", _IMAGES_DOC, priority=1)]

_PRINTERS: dict[tuple[str, str], _Printer] = {
    ("", "Pod"): _Printer([
        _NAME,
        _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        _col("Status", "string", "The aggregate status of the containers in this pod."),
        _col("Restarts", "string", "The number of times the containers in this pod have been restarted and when "
                                   "the last container in this pod has restarted."),
        _AGE,
        _col("IP", "string", _DOC["PodStatus.podIP"], priority=1),
        _col("Node", "string", _DOC["PodSpec.nodeName"], priority=1),
        _col("Nominated Node", "string", _DOC["PodStatus.nominatedNodeName"], priority=1),
        _col("Readiness Gates", "string", _DOC["PodSpec.readinessGates"], priority=1),
    ], _pod_row, _pod_conditions),
    ("", "Event"): _Printer([
        _col("Last Seen", "string", _DOC["Event.lastTimestamp"]),
        _col("Type", "string", _DOC["Event.type"]),
        _col("Reason", "string", _DOC["Event.reason"]),
        _col("Object", "string", _DOC["Event.involvedObject"]),
        _col("Subobject", "string", _DOC["ObjectReference.fieldPath"], priority=1),
        _col("Source", "string", _DOC["Event.source"], priority=1),
        _col("Message", "string", _DOC["Event.message"]),
        _col("First Seen", "string", _DOC["Event.firstTimestamp"], priority=1),
        _col("Count", "string", _DOC["Event.count"], priority=1),
        _col("Name", "string", _DOC["ObjectMeta.name"], fmt="name", priority=1),
    ], _event_row),
    ("", "Namespace"): _Printer(
        [_NAME, _col("Status", "string", "The status of the namespace"), _AGE],
        lambda o, now: [_name(o), (o.get("status") or {}).get("phase") or "", _created(o, now)]),
    ("", "Secret"): _Printer(
        [_NAME, _col("Type", "string", _DOC["Secret.type"]), _col("Data", "string", _DOC["Secret.data"]), _AGE],
        lambda o, now: [_name(o), o.get("type") or "", len(o.get("data") or {}), _created(o, now)]),
    ("", "ServiceAccount"): _Printer(
        [_NAME, _col("Secrets", "string", _DOC["ServiceAccount.secrets"]), _AGE],
        lambda o, now: [_name(o), len(o.get("secrets") or []), _created(o, now)]),
    ("", "ConfigMap"): _Printer(
        [_NAME, _col("Data", "string", _DOC["ConfigMap.data"]), _AGE],
        lambda o, now: [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _created(o, now)]),
    ("apps", "Deployment"): _Printer([
        _NAME,
        _col("Ready", "string", "Number of the pod with ready state"),
        _col("Up-to-date", "string", _DOC["ext.DeploymentStatus.updatedReplicas"]),
        _col("Available", "string", _DOC["ext.DeploymentStatus.availableReplicas"]),
        _AGE, *_WORKLOAD_WIDE,
        _col("Selector", "string", _DOC["ext.DeploymentSpec.selector"], priority=1),
    ], _deployment_row),
    ("apps", "ReplicaSet"): _Printer([
        _NAME,
        _col("Desired", "integer", _DOC["ext.ReplicaSetSpec.replicas"]),
        _col("Current", "integer", _DOC["ext.ReplicaSetStatus.replicas"]),
        _col("Ready", "integer", _DOC["ext.ReplicaSetStatus.readyReplicas"]),
        _AGE, *_WORKLOAD_WIDE,
        _col("Selector", "string", _DOC["ext.ReplicaSetSpec.selector"], priority=1),
    ], _replicaset_row),
    ("batch", "Job"): _Printer([
        _NAME,
        _col("Status", "string", "Status of the job."),
        _col("Completions", "string", _DOC["JobStatus.succeeded"]),
        _col("Duration", "string", "Time required to complete the job."),
        _AGE, *_WORKLOAD_WIDE,
        _col("Selector", "string", _DOC["JobSpec.selector"], priority=1),
    ], _job_row),
    ("batch", "CronJob"): _Printer([
        _NAME,
        _col("Schedule", "string", _DOC["CronJobSpec.schedule"]),
        _col("Timezone", "string", _DOC["CronJobSpec.timeZone"]),
        _col("Suspend", "boolean", _DOC["CronJobSpec.suspend"]),
        _col("Active", "integer", _DOC["CronJobStatus.active"]),
        _col("Last Schedule", "string", _DOC["CronJobStatus.lastScheduleTime"]),
        _AGE, *_WORKLOAD_WIDE,
        _col("Selector", "string", _DOC["JobSpec.selector"], priority=1),
    ], _cronjob_row),
    ("rbac.authorization.k8s.io", "RoleBinding"): _Printer(
        _binding_columns("roleBinding", _DOC["rbac.RoleBinding.roleRef"]), _binding_row),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _Printer(
        _binding_columns("clusterRoleBinding", _DOC["rbac.ClusterRoleBinding.roleRef"]), _binding_row),
}


# --- kinds without a printer: rest.DefaultTableConvertor ---

def _default_row(obj: Obj, now: datetime) -> list:
    return [_name(obj), _rfc3339(parse_time(_meta(obj).get("creationTimestamp")) or _ZERO_TIME)]


_DEFAULT = _Printer([_NAME, _col("Created At", "date", _DOC["ObjectMeta.creationTimestamp"])], _default_row)


# --- CRD additionalPrinterColumns (apiextensions tableconvertor + client-go jsonpath) ---

class _JSONPathError(Exception):
    pass


_TERMINATORS = set(" .,[]$@{}()")


@dataclass(frozen=True)
class _Step:
    kind: str  # field | keys | recursive | wildcard | index | filter
    args: tuple = ()


def _parse_jsonpath(expr: str) -> list[_Step]:
    s = expr.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1].strip()
    if s.startswith("$"):
        s = s[1:]
    steps: list[_Step] = []
    i = 0
    while i < len(s):
        c = s[i]
        if s.startswith("..", i):
            steps.append(_Step("recursive"))
            i += 1  # the second '.' starts the following field
            continue
        if c == ".":
            i += 1
            if i < len(s) and s[i] == "*":
                steps.append(_Step("wildcard"))
                i += 1
                continue
            name = []
            while i < len(s) and s[i] not in _TERMINATORS:
                if s[i] == "\\" and i + 1 < len(s):
                    i += 1
                name.append(s[i])
                i += 1
            if name:
                steps.append(_Step("field", ("".join(name),)))
            continue
        if c == "[":
            end = _matching_bracket(s, i)
            steps.append(_parse_bracket(s[i + 1:end].strip()))
            i = end + 1
            continue
        if c.isspace():
            i += 1
            continue
        raise _JSONPathError(f"unrecognized character in action: {c!r}")
    return steps


def _matching_bracket(s: str, start: int) -> int:
    depth, quote = 0, ""
    for j in range(start, len(s)):
        ch = s[j]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j
    raise _JSONPathError("unterminated array")


_FILTER_RE = re.compile(r"^\?\((.*)\)$", re.S)
_FILTER_OP_RE = re.compile(r"^(.+?)\s*(==|!=|<=|>=|<|>)\s*(.+)$", re.S)


def _parse_bracket(inner: str) -> _Step:
    if inner == "*":
        return _Step("index", ((None, None, None, True),))
    m = _FILTER_RE.match(inner)
    if m:
        body = m.group(1).strip()
        op_match = _FILTER_OP_RE.match(body)
        if op_match is None:
            return _Step("filter", (_parse_operand(body), "exists", None))
        return _Step("filter", (_parse_operand(op_match.group(1)), op_match.group(2),
                                _parse_operand(op_match.group(3))))
    parts = [p.strip() for p in inner.split(",")]
    if all(len(p) >= 2 and p[0] == p[-1] and p[0] in "'\"" for p in parts):
        return _Step("keys", tuple(p[1:-1] for p in parts))
    specs = []
    for p in parts:
        if ":" in p:
            bounds = [int(b) if b.strip() else None for b in p.split(":")]
            if len(bounds) > 3:
                raise _JSONPathError(f"invalid array index {p}")
            bounds += [None] * (3 - len(bounds))
            specs.append((bounds[0], bounds[1], bounds[2], True))
        else:
            specs.append((int(p), None, None, False))
    return _Step("index", tuple(specs))


def _parse_operand(text: str) -> tuple[str, Any]:
    t = text.strip()
    if t.startswith("@"):
        return ("path", _parse_jsonpath(t[1:]))
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return ("literal", t[1:-1])
    if t in ("true", "false"):
        return ("literal", t == "true")
    if re.fullmatch(r"-?\d+", t):
        return ("literal", int(t))
    if re.fullmatch(r"-?\d*\.\d+([eE][-+]?\d+)?|-?\d+[eE][-+]?\d+", t):
        return ("literal", float(t))
    raise _JSONPathError(f"unrecognized filter operand {t}")


def _descendants(v: Any) -> list:
    out = [v]
    if isinstance(v, dict):
        for child in v.values():
            out.extend(_descendants(child))
    elif isinstance(v, list):
        for child in v:
            out.extend(_descendants(child))
    return out


def _compare(op: str, left: Any, right: Any) -> bool:
    """text/template's eq/ne/lt/... semantics: both sides of one basic kind, else an error."""
    def kind(v: Any) -> str:
        return ("bool" if isinstance(v, bool) else "int" if isinstance(v, int) else
                "float" if isinstance(v, float) else "string" if isinstance(v, str) else "other")
    kl, kr = kind(left), kind(right)
    if kl != kr or kl == "other":
        raise _JSONPathError("incompatible types for comparison")
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if kl == "bool":
        raise _JSONPathError("invalid type for comparison")
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]


def _eval_jsonpath(steps: list[_Step], values: list) -> list:
    for step in steps:
        out: list = []
        for v in values:
            if step.kind == "field":
                if isinstance(v, dict) and step.args[0] in v:
                    out.append(v[step.args[0]])
            elif step.kind == "keys":
                out.extend(v[k] for k in step.args if isinstance(v, dict) and k in v)
            elif step.kind == "recursive":
                out.extend(_descendants(v))
            elif step.kind == "wildcard":
                out.extend(v.values() if isinstance(v, dict) else v if isinstance(v, list) else [])
            elif step.kind == "index":
                if not isinstance(v, list):
                    raise _JSONPathError("not array or slice")
                for start, stop, stride, is_slice in step.args:
                    if not is_slice:
                        idx = start + len(v) if start < 0 else start
                        if not 0 <= idx < len(v):
                            raise _JSONPathError("array index out of bounds")
                        out.append(v[idx])
                    else:
                        out.extend(v[slice(start, stop, stride)])
            elif step.kind == "filter":
                if not isinstance(v, list):
                    raise _JSONPathError("not array or slice and cannot be filtered")
                left_op, op, right_op = step.args
                for item in v:
                    lefts = _operand(left_op, item)
                    if op == "exists":
                        if lefts:
                            out.append(item)
                        continue
                    rights = _operand(right_op, item)
                    if not lefts or not rights:
                        continue
                    if len(lefts) > 1 or len(rights) > 1:
                        raise _JSONPathError("can only compare one element at a time")
                    if _compare(op, lefts[0], rights[0]):
                        out.append(item)
        values = out
    return values


def _operand(operand: tuple[str, Any], item: Any) -> list:
    kind, value = operand
    return _eval_jsonpath(value, [item]) if kind == "path" else [value]


def _go_float(f: float) -> str:
    """``fmt.Sprint(float64)``: %g with the shortest digits, exponent form below 1e-4 or from 1e6."""
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if math.isnan(f):
        return "NaN"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    sign, digits, exp = Decimal(repr(f)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    e = len(ds) + exp - 1  # decimal exponent of the leading digit
    neg = "-" if sign else ""
    if e < -4 or e >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if e < 0:
        return f"{neg}0.{'0' * (-e - 1)}{ds}"
    whole = ds[: e + 1].ljust(e + 1, "0")
    frac = ds[e + 1:]
    return f"{neg}{whole}{'.' + frac if frac else ''}"


def _go_json(v: Any) -> str:
    """``json.Marshal`` as Go writes it: sorted keys, no spaces, HTML characters escaped."""
    text = json.dumps(_integral_floats(v), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _integral_floats(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    if isinstance(v, dict):
        return {k: _integral_floats(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_integral_floats(x) for x in v]
    return v


def _string_cell(value: Any) -> str:
    """What jsonpath's PrintResults writes for one value."""
    if value is None:
        return "<no value>"
    if isinstance(value, dict | list):
        return _go_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _typed_cell(col_type: str, value: Any, now: datetime) -> Any:
    """``cellForJSONValue``: a value of the wrong JSON type becomes a null cell."""
    if value is None:
        return None
    is_num = isinstance(value, int | float) and not isinstance(value, bool)
    if col_type == "integer" and is_num:
        return int(value)
    if col_type == "number" and is_num:
        f = float(value)
        return int(f) if f.is_integer() and abs(f) < 1e21 else f
    if col_type == "boolean" and isinstance(value, bool):
        return value
    if col_type == "date" and isinstance(value, str):
        if value in ("", "null"):
            return "<unknown>"
        t = _parse_rfc3339(value)
        if t is None:
            return "<invalid>"
        return "<unknown>" if t == _ZERO_TIME else human_duration(now - t)
    return None


def _crd_printer(rt: ResourceType) -> _Printer:
    specs = list(rt.printer_columns)
    if not specs:
        specs = [PrinterColumn("Age", "date", ".metadata.creationTimestamp", _DOC["ObjectMeta.creationTimestamp"])]
    columns = [_NAME]
    paths: list[list[_Step] | None] = []
    for spec in specs:
        try:
            paths.append(_parse_jsonpath(spec.json_path))
        except (_JSONPathError, ValueError):
            paths.append(None)
        desc = spec.description or f"Custom resource definition column (in JSONPath format): {spec.json_path}"
        columns.append(_col(spec.name, spec.type, desc, fmt=spec.format, priority=spec.priority))

    def row(obj: Obj, now: datetime) -> list:
        cells: list[Any] = [_name(obj)]
        for spec, path in zip(specs, paths, strict=True):
            try:
                results = _eval_jsonpath(path, [obj]) if path is not None else []
            except _JSONPathError:
                results = []
            if not results:
                cells.append(None)
            elif spec.type == "string":
                cells.append(_string_cell(results[0]))
            else:
                cells.append(_typed_cell(spec.type, results[0], now))
        return cells

    return _Printer(columns, row)


# --- the Table ---

def printer_for(rt: ResourceType) -> _Printer:
    """Built-in printer, else CRD columns (custom kinds or declared printer columns), else Name/Created At."""
    if not rt.custom and (rt.group, rt.kind) in _PRINTERS:
        return _PRINTERS[(rt.group, rt.kind)]
    if rt.custom or rt.printer_columns:
        return _crd_printer(rt)
    return _DEFAULT


def _row_object(rt: ResourceType, obj: Obj, include_object: str, table_api_version: str) -> Any:
    if include_object == "None":
        return None
    if include_object == "Object":
        rest = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
        return {"kind": obj.get("kind") or rt.kind, "apiVersion": obj.get("apiVersion") or rt.api_version, **rest}
    return {"kind": "PartialObjectMetadata", "apiVersion": table_api_version, "metadata": dict(_meta(obj))}


def to_table(rt: ResourceType, objects: list[dict], *, now: datetime, include_object: str = "Metadata",
             resource_version: str = "", continue_token: str = "", remaining_item_count: int | None = None,
             no_headers: bool = False, table_version: str = "v1") -> dict:
    """Render objects of one kind as the ``Table`` kube-apiserver returns for ``Accept: ...;as=Table``.

    ``include_object`` is the ``includeObject`` query parameter (``Metadata`` by default: rows carry a
    PartialObjectMetadata so kubectl can show labels and the namespace column); an unknown value is the
    apiserver's 400. ``no_headers`` (``TableOptions.noHeaders``, sent by ``kubectl get -w`` after the first
    page) drops the column definitions.
    """
    if include_object == "":
        include_object = "Metadata"
    if include_object not in ("Object", "Metadata", "None"):
        raise ApiError.bad_request(f"unrecognized includeObject value: {go_quote(include_object)}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    printer = printer_for(rt)
    api_version = f"meta.k8s.io/{table_version}"
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer.row(obj, now)}
        conditions = printer.conditions(obj)
        if conditions:
            row["conditions"] = [dict(c) for c in conditions]
        row["object"] = _row_object(rt, obj, include_object, api_version)
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining_item_count is not None:
        metadata["remainingItemCount"] = remaining_item_count
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": None if no_headers else [dict(c) for c in printer.columns],
        "rows": rows,
    }


def register_printer(group: str, kind: str, columns: list[dict], row: Callable[[Obj, datetime], list]) -> None:
    """Add a built-in printer for a kind served outside this module (admission policies, nodes)."""
    _PRINTERS[(group, kind)] = _Printer(columns, row)


def _node_row(obj: Obj, now: datetime) -> list:
    status = obj.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    ready = {"True": "Ready", "False": "NotReady"}.get(conds.get("Ready", ""), "Unknown")
    if (obj.get("spec") or {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    labels = _meta(obj).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels
                   if k.startswith("node-role.kubernetes.io/") and "/" in k and k.split("/", 1)[1])
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    return [_meta(obj).get("name", ""), ready, ",".join(roles) or "<none>", age(_meta(obj).get("creationTimestamp"), now),
            info.get("kubeletVersion", ""), addrs.get("InternalIP") or "<none>", addrs.get("ExternalIP") or "<none>",
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


register_printer("", "Node", [
    _NAME,
    _col("Status", "string", "The status of the node"),
    _col("Roles", "string", "The roles of the node"),
    _AGE,
    _col("Version", "string", "Kubelet Version reported by the node."),
    _col("Internal-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if "
                                  "available.", priority=1),
    _col("External-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if "
                                  "available.", priority=1),
    _col("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 "
                               "(wheezy)).", priority=1),
    _col("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. "
                                     "3.16.0-0.bpo.4-amd64).", priority=1),
    _col("Container-Runtime", "string", "Container runtime version reported by the node through runtime "
                                        "remote API (e.g. containerd://1.4.2).", priority=1),
], _node_row)
