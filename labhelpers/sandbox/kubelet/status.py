"""Pod status as the kubelet generates it: container statuses, phase, conditions, QoS class.

Ports of ``convertToAPIContainerStatuses``, ``getPhase``, ``generateAPIPodStatus`` (pkg/kubelet/kubelet_pods.go),
pkg/kubelet/status/generate.go and the status manager's transition-time bookkeeping, over a small model of
what the container runtime knows (:class:`PodRuntime`). Everything here is pure, so the rules that learners see
in ``kubectl get pods`` (Pending vs Running, why Ready is False, ErrImagePull vs ImagePullBackOff) are
unit-testable without a cluster.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CONTAINER_CREATING",
    "POD_INITIALIZING",
    "ContainerRecord",
    "PodRuntime",
    "conditions_for",
    "container_statuses",
    "generate_pod_status",
    "is_restartable_init",
    "merge_conditions",
    "pod_phase",
    "qos_class",
    "should_restart",
    "terminate_statuses",
]

CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
STATUS_UNKNOWN = "ContainerStatusUnknown"
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


@dataclass
class ContainerRecord:
    """One container instance the runtime created (a restart makes a new record)."""

    name: str
    container_id: str  # "containerd://<64 hex>"
    image: str  # what CRI reports: the repo tag (docker.io/library/nginx:latest) or the spec image
    image_ref: str  # the repo digest: docker.io/library/nginx@sha256:...
    spec_image: str  # the pod spec image it was started for (a changed spec means a restart)
    created_at: str
    started_at: str = ""
    finished_at: str = ""
    state: str = "created"  # created | running | exited
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    mounts: list[dict[str, Any]] = field(default_factory=list)

    def start(self, ts: str) -> None:
        self.state, self.started_at = "running", ts

    def exit(self, ts: str, code: int = 0, reason: str | None = None) -> None:
        self.state, self.finished_at, self.exit_code = "exited", ts, code
        self.reason = reason if reason is not None else ("Completed" if code == 0 else "Error")


@dataclass
class PodRuntime:
    """The runtime's view of one pod: its sandbox and every container instance, newest last per name."""

    sandbox_ready: bool = False
    pod_ip: str = ""
    containers: dict[str, list[ContainerRecord]] = field(default_factory=dict)

    def latest(self, name: str) -> ContainerRecord | None:
        records = self.containers.get(name)
        return records[-1] if records else None

    def add(self, record: ContainerRecord) -> None:
        self.containers.setdefault(record.name, []).append(record)

    def restart_count(self, name: str) -> int:
        return max(len(self.containers.get(name, [])) - 1, 0)

    def running(self) -> list[ContainerRecord]:
        return [r[-1] for r in self.containers.values() if r and r[-1].state == "running"]


# --- small helpers -------------------------------------------------------------------------------------------


def is_restartable_init(container: Mapping[str, Any]) -> bool:
    """A sidecar: an init container with ``restartPolicy: Always``."""
    return container.get("restartPolicy") == "Always"


def _spec(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return pod.get("spec") or {}


def _names(containers: Iterable[Mapping[str, Any]]) -> list[str]:
    return [c.get("name", "") for c in containers]


def _go_list(names: list[str]) -> str:
    """``fmt.Sprintf("%s", []string{...})``: ``[a b]``."""
    return "[" + " ".join(names) + "]"


def _find(statuses: Iterable[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    for s in statuses:
        if s.get("name") == name:
            return s
    return None


def should_restart(container: Mapping[str, Any], pod: Mapping[str, Any], runtime: PodRuntime) -> bool:
    """``kubecontainer.ShouldContainerBeRestarted`` for a container that is not running."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    rec = runtime.latest(container.get("name", ""))
    if rec is None or rec.state == "created":
        return True
    if rec.state == "running":
        return False
    policy = container.get("restartPolicy") or _spec(pod).get("restartPolicy") or "Always"
    if policy == "Never":
        return False
    if policy == "OnFailure":
        return rec.exit_code != 0
    return True


# --- container statuses --------------------------------------------------------------------------------------


def _state_of(rec: ContainerRecord) -> dict[str, Any]:
    if rec.state == "running":
        return {"running": {"startedAt": rec.started_at}}
    if rec.state == "exited":
        term: dict[str, Any] = {"exitCode": rec.exit_code}
        if rec.reason:
            term["reason"] = rec.reason
        if rec.message:
            term["message"] = rec.message
        term.update(startedAt=rec.started_at or None, finishedAt=rec.finished_at or None,
                    containerID=rec.container_id)
        return {"terminated": term}
    return {"waiting": {}}


def _from_record(rec: ContainerRecord, restart_count: int) -> dict[str, Any]:
    """``convertContainerStatus``; volumeMounts are reported for containers the runtime created."""
    status: dict[str, Any] = {"name": rec.name, "state": _state_of(rec), "lastState": {}, "ready": False,
                              "restartCount": restart_count, "image": rec.image, "imageID": rec.image_ref,
                              "containerID": rec.container_id}
    if rec.mounts:
        status["volumeMounts"] = copy.deepcopy(rec.mounts)
    return status


def container_statuses(pod: Mapping[str, Any], runtime: PodRuntime, reasons: Mapping[str, tuple[str, str]],
                       previous: Iterable[Mapping[str, Any]] | None, *, init: bool) -> list[dict[str, Any]]:
    """``convertToAPIContainerStatuses`` followed by the prober's ``started``/``ready`` (no probes run here).

    Regular statuses come out sorted by name, init statuses in spec order, as the kubelet returns them.
    """
    spec = _spec(pod)
    containers = list(spec.get("initContainers") or []) if init else list(spec.get("containers") or [])
    has_init = bool(spec.get("initContainers"))
    default_reason = POD_INITIALIZING if has_init else CONTAINER_CREATING
    old = {s.get("name"): s for s in previous or []}
    statuses: dict[str, dict[str, Any]] = {}
    for c in containers:
        name = c.get("name", "")
        status: dict[str, Any] = {"name": name, "state": {"waiting": {"reason": default_reason}},
                                  "lastState": {}, "ready": False, "restartCount": 0,
                                  "image": c.get("image", ""), "imageID": ""}
        prev = old.get(name)
        if prev is not None:
            if (prev.get("state") or {}).get("terminated") is not None:
                status = copy.deepcopy(dict(prev))
            else:
                status["restartCount"] = prev.get("restartCount", 0)
                status["lastState"] = copy.deepcopy(prev.get("lastState") or {})
        statuses[name] = status
    for c in containers:
        name = c.get("name", "")
        prev = old.get(name)
        status = statuses[name]
        # A container that was running and vanished from the runtime (lost state) is shown as stopped, not
        # as a fresh ContainerCreating that would push the pod back to Pending.
        if (runtime.containers.get(name) or prev is None or "running" not in (prev.get("state") or {})
                or status["state"].get("waiting", {}).get("reason") != default_reason
                or (status.get("lastState") or {}).get("terminated")):
            continue
        status["lastState"] = {"terminated": {
            "exitCode": 137, "reason": STATUS_UNKNOWN,
            "message": "The container could not be located when the pod was deleted.  The container used to be "
                       "Running", "startedAt": None, "finishedAt": None}}
        if not pod.get("metadata", {}).get("deletionTimestamp"):
            status["restartCount"] = status.get("restartCount", 0) + 1
    for c in containers:
        name = c.get("name", "")
        records = runtime.containers.get(name) or []
        if not records:
            continue
        current = _from_record(records[-1], runtime.restart_count(name))
        if len(records) > 1:
            current["lastState"] = _state_of(records[-2])
        statuses[name] = current
    for c in containers:
        name = c.get("name", "")
        rec = runtime.latest(name)
        if init and rec is not None and rec.state == "exited" and rec.exit_code == 0:
            continue
        if not should_restart(c, pod, runtime) or name not in reasons:
            continue
        status = statuses[name]
        if "terminated" in status["state"]:
            status["lastState"] = status["state"]
        reason, message = reasons[name]
        waiting = {"reason": reason}
        if message:
            waiting["message"] = message
        status["state"] = {"waiting": waiting}
    for c in containers:
        _probe_results(statuses[c.get("name", "")], init=init, sidecar=is_restartable_init(c))
    if init:
        return [statuses[n] for n in _names(containers)]
    return [statuses[n] for n in sorted(statuses)]


def _probe_results(status: dict[str, Any], *, init: bool, sidecar: bool) -> None:
    """``prober.Manager.UpdatePodStatus`` with no probes: started = running; ready = running, or (for a
    regular init container) exited with 0."""
    state = status["state"]
    running = "running" in state
    status["started"] = running
    if init and not sidecar:
        term = state.get("terminated")
        status["ready"] = bool(term) and term.get("exitCode") == 0
    else:
        status["ready"] = running
    _order(status)


_STATUS_ORDER = ("name", "state", "lastState", "ready", "restartCount", "image", "imageID", "containerID",
                 "started", "allocatedResources", "resources", "volumeMounts", "user")


def _order(status: dict[str, Any]) -> None:
    """Keep the Go struct's field order (JSON consumers that print as-is see what the apiserver returns)."""
    items = sorted(status.items(), key=lambda kv: _STATUS_ORDER.index(kv[0]) if kv[0] in _STATUS_ORDER else 99)
    status.clear()
    status.update(items)


def terminate_statuses(statuses: list[dict[str, Any]]) -> None:
    """``status.Manager.TerminatePod``: anything not terminated when the pod ends is reported as failed."""
    for s in statuses:
        if "terminated" in (s.get("state") or {}):
            continue
        s["state"] = {"terminated": {"exitCode": 137, "reason": STATUS_UNKNOWN,
                                     "message": "The container could not be located when the pod was terminated",
                                     "startedAt": None, "finishedAt": None}}
        s["ready"] = False
        s["started"] = False


# --- phase ---------------------------------------------------------------------------------------------------


def _has_any_regular_started(pod: Mapping[str, Any], statuses: list[Mapping[str, Any]]) -> bool:
    for c in _spec(pod).get("containers") or []:
        s = _find(statuses, c.get("name", ""))
        if s is None:
            continue
        st = s.get("state") or {}
        if "running" in st or "terminated" in st or (s.get("lastState") or {}).get("terminated"):
            return True
    return False


def pod_phase(pod: Mapping[str, Any], statuses: list[Mapping[str, Any]], pod_is_terminal: bool) -> str:
    """``getPhase`` over regular and init container statuses together."""
    spec = _spec(pod)
    restart_policy = spec.get("restartPolicy") or "Always"
    pending_init = failed_init = 0
    for c in spec.get("initContainers") or []:
        if is_restartable_init(c):
            continue
        s = _find(statuses, c.get("name", ""))
        if s is None:
            pending_init += 1
            continue
        st, last = s.get("state") or {}, s.get("lastState") or {}
        if "running" in st:
            pending_init += 1
        elif "terminated" in st:
            if st["terminated"].get("exitCode", 0) != 0:
                failed_init += 1
        elif "waiting" in st:
            if last.get("terminated"):
                if last["terminated"].get("exitCode", 0) != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1
    unknown = running = waiting = stopped = succeeded = 0
    for c in spec.get("initContainers") or []:
        if not is_restartable_init(c):
            continue
        s = _find(statuses, c.get("name", ""))
        if s is None:
            unknown += 1
            continue
        st, last = s.get("state") or {}, s.get("lastState") or {}
        if "running" in st:
            if not s.get("started"):
                pending_init += 1
            running += 1
        elif "terminated" in st:
            pass
        elif "waiting" in st:
            if not last.get("terminated"):
                pending_init += 1
                waiting += 1
        else:
            pending_init += 1
            unknown += 1
    for c in spec.get("containers") or []:
        s = _find(statuses, c.get("name", ""))
        if s is None:
            unknown += 1
            continue
        st, last = s.get("state") or {}, s.get("lastState") or {}
        if "running" in st:
            running += 1
        elif "terminated" in st:
            stopped += 1
            if st["terminated"].get("exitCode", 0) == 0:
                succeeded += 1
        elif "waiting" in st:
            if last.get("terminated"):
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    if failed_init > 0 and restart_policy == "Never":
        return "Failed"
    if (pending_init > 0 and not _has_any_regular_started(pod, statuses)) or waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if pod_is_terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


# --- conditions ----------------------------------------------------------------------------------------------


def _cond(type_: str, status: bool, reason: str = "", message: str = "") -> dict[str, Any]:
    c: dict[str, Any] = {"type": type_, "status": "True" if status else "False"}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _containers_ready(pod: Mapping[str, Any], statuses: list[Mapping[str, Any]], phase: str) -> dict[str, Any]:
    spec = _spec(pod)
    unknown: list[str] = []
    unready: list[str] = []
    relevant = [c for c in spec.get("initContainers") or [] if is_restartable_init(c)]
    relevant += list(spec.get("containers") or [])
    for c in relevant:
        s = _find(statuses, c.get("name", ""))
        if s is None:
            unknown.append(c.get("name", ""))
        elif not s.get("ready"):
            unready.append(c.get("name", ""))
    if phase == "Succeeded" and not unknown:
        return _cond("ContainersReady", False, "PodCompleted")
    if phase == "Failed":
        return _cond("ContainersReady", False, "PodFailed")
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {_go_list(unready)}")
    if messages:
        return _cond("ContainersReady", False, "ContainersNotReady", ", ".join(messages))
    return _cond("ContainersReady", True)


def _pod_ready(pod: Mapping[str, Any], conditions: list[Mapping[str, Any]], statuses: list[Mapping[str, Any]],
               phase: str) -> dict[str, Any]:
    cr = _containers_ready(pod, statuses, phase)
    if cr["status"] != "True":
        return {**cr, "type": "Ready"}
    messages = []
    for gate in _spec(pod).get("readinessGates") or []:
        ctype = gate.get("conditionType", "")
        c = next((c for c in conditions if c.get("type") == ctype), None)
        if c is None:
            messages.append(f'corresponding condition of pod readiness gate "{ctype}" does not exist.')
        elif c.get("status") != "True":
            messages.append(f'the status of pod readiness gate "{ctype}" is not "True", but {c.get("status")}')
    if messages:
        return _cond("Ready", False, "ReadinessGatesNotReady", ", ".join(messages))
    return _cond("Ready", True)


def _initialized(pod: Mapping[str, Any], statuses: list[Mapping[str, Any]], phase: str) -> dict[str, Any]:
    inits = _spec(pod).get("initContainers") or []
    unknown: list[str] = []
    incomplete: list[str] = []
    for c in inits:
        s = _find(statuses, c.get("name", ""))
        if s is None:
            unknown.append(c.get("name", ""))
            continue
        done = bool(s.get("started")) if is_restartable_init(c) else bool(s.get("ready"))
        if not done:
            incomplete.append(c.get("name", ""))
    if phase == "Succeeded" and not unknown and inits:
        return _cond("Initialized", True, "PodCompleted")
    if _has_any_regular_started(pod, statuses):
        return _cond("Initialized", True)
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {_go_list(incomplete)}")
    if messages:
        return _cond("Initialized", False, "ContainersNotInitialized", ", ".join(messages))
    return _cond("Initialized", True)


def conditions_for(pod: Mapping[str, Any], statuses: list[Mapping[str, Any]], phase: str,
                   sandbox_ready: bool) -> list[dict[str, Any]]:
    """The kubelet-owned conditions in the order generateAPIPodStatus appends them (times not yet set);
    conditions other components own (DisruptionTarget, readiness-gate types) are kept in front."""
    kept = [copy.deepcopy(dict(c)) for c in (pod.get("status") or {}).get("conditions") or []
            if c.get("type") not in KUBELET_CONDITIONS]
    out = kept + [_cond("PodReadyToStartContainers", sandbox_ready), _initialized(pod, statuses, phase)]
    out.append(_pod_ready(pod, out, statuses, phase))
    out.append(_containers_ready(pod, statuses, phase))
    out.append(_cond("PodScheduled", True))
    return out


_CONDITION_ORDER = ("type", "observedGeneration", "status", "lastProbeTime", "lastTransitionTime", "reason",
                    "message")


def merge_conditions(old: Iterable[Mapping[str, Any]] | None, new: list[dict[str, Any]], now: str
                     ) -> list[dict[str, Any]]:
    """The status manager's ``updateLastTransitionTime``: a condition keeps its time while its status holds."""
    previous = {c.get("type"): c for c in old or []}
    out = []
    for c in new:
        c = dict(c)
        prev = previous.get(c["type"])
        c.setdefault("lastProbeTime", None)
        if "lastTransitionTime" not in c or c.get("type") in KUBELET_CONDITIONS:
            c["lastTransitionTime"] = (prev.get("lastTransitionTime") if prev is not None
                                       and prev.get("status") == c["status"] and prev.get("lastTransitionTime")
                                       else now)
        out.append({k: c[k] for k in sorted(c, key=lambda k: _CONDITION_ORDER.index(k)
                                             if k in _CONDITION_ORDER else 99)})
    return out


# --- QoS -----------------------------------------------------------------------------------------------------


def qos_class(spec: Mapping[str, Any]) -> str:
    """``qos.GetPodQOS`` over cpu and memory of all containers (requests default to limits by then)."""
    requests: set[str] = set()
    limits: set[str] = set()
    guaranteed = True
    for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
        res = c.get("resources") or {}
        req = {k: v for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")}
        lim = {k: v for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")}
        requests |= {k for k, v in req.items() if str(v) not in ("0", "")}
        limits |= {k for k, v in lim.items() if str(v) not in ("0", "")}
        if set(lim) != {"cpu", "memory"} or any(req.get(k, lim[k]) != lim[k] for k in lim):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and limits == {"cpu", "memory"}:
        return "Guaranteed"
    return "Burstable"


# --- the whole status ----------------------------------------------------------------------------------------


def generate_pod_status(pod: Mapping[str, Any], runtime: PodRuntime, reasons: Mapping[str, tuple[str, str]],
                        *, now: str, host_ip: str, pod_is_terminal: bool = False) -> dict[str, Any]:
    """``generateAPIPodStatus`` + the status manager's normalisation, in PodStatus field order."""
    old = dict(pod.get("status") or {})
    init_statuses = container_statuses(pod, runtime, reasons, old.get("initContainerStatuses"), init=True)
    statuses = container_statuses(pod, runtime, reasons, old.get("containerStatuses"), init=False)
    if pod_is_terminal:
        # TerminatePod: once initialized, a container without a final state counts as failed; init containers
        # are only marked when they had started.
        terminate_statuses([s for s in init_statuses if "running" in s["state"]])
        if all("terminated" in s["state"] for s, c in zip(init_statuses, _spec(pod).get("initContainers") or [],
                                                          strict=False) if not is_restartable_init(c)):
            terminate_statuses(statuses)
    phase = pod_phase(pod, statuses + init_statuses, pod_is_terminal)
    old_phase = old.get("phase")
    if phase not in ("Succeeded", "Failed") and old_phase in ("Succeeded", "Failed"):
        phase = old_phase  # pods never leave a terminal phase
    if pod_is_terminal and phase in ("Pending", "Running"):
        phase = "Failed"  # TerminatePod: a terminated pod always ends in a terminal phase
    conditions = merge_conditions(old.get("conditions"),
                                  conditions_for(pod, init_statuses + statuses, phase,
                                                 runtime.sandbox_ready and not pod_is_terminal
                                                 and phase not in ("Succeeded", "Failed")), now)
    status: dict[str, Any] = {"phase": phase, "conditions": conditions}
    if phase == old_phase:
        for k in ("message", "reason"):
            if old.get(k):
                status[k] = old[k]
    if old.get("nominatedNodeName"):
        status["nominatedNodeName"] = old["nominatedNodeName"]
    status["hostIP"] = host_ip
    status["hostIPs"] = [{"ip": host_ip}]
    pod_ip = runtime.pod_ip or old.get("podIP", "")
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    status["startTime"] = old.get("startTime") or now
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    status["qosClass"] = old.get("qosClass") or qos_class(_spec(pod))
    return status
