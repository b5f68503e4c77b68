"""Pod workers: one asyncio task per pod bound to the node, running the kubelet's ``SyncPod`` loop.

Each sync does what ``Kubelet.SyncPod`` + ``kubeGenericRuntimeManager.SyncPod`` do, in that order: post the
status generated from the runtime and the *previous* sync's start errors (so, as on a real node, the status
lags one sync behind the events), read the pod's pull secrets afresh, create the sandbox, then start init
containers one at a time and the regular containers in spec order. What decides the next sync is what
decides it on a node: a runtime change (the PLEG) syncs again at once, a failed start retries after the pod
worker's 10 s back-off (jittered to 15 s), and a healthy pod is resynced every minute; all on the sandbox
clock. That reproduces ``kubectl get pods -w`` alternating ErrImagePull and ImagePullBackOff.

Containers of images the emulated runtime knows (:mod:`.runtime`) run their command as a process on the lab
machine: its exit becomes the container's termination (and, per ``restartPolicy``, a restart after the
crash-loop back-off, or the pod's ``Succeeded``/``Failed``). Containers of other images execute nothing: they
run until the pod is deleted, except in a pod controlled by a Job, whose containers exit 0 after
:data:`JOB_RUN_SECONDS` so that Job and CronJob lessons complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ipaddress
import logging
import math
import random
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ...images import apply_default_image_tag, image_pull_secret_names, missing_secrets_event_message
from ..apiserver import resources
from ..apiserver.errors import ApiError
from ..apiserver.objects import Registry
from ..clock import SandboxClock
from .backoff import Backoff, jitter
from .image_manager import ImageManager
from .images import go_duration
from .runtime import ContainerPlan, ContainerRuntime, ExecNotFound, start_error_message
from .status import ContainerRecord, PodRuntime, generate_pod_status, is_restartable_init, should_restart

__all__ = ["JOB_RUN_SECONDS", "RESYNC_SECONDS", "TERMINATION_SECONDS", "WORKER_BACKOFF_SECONDS", "PodIPs",
           "PodWorker", "WorkerContext", "container_config_error", "runtime_from_status"]

log = logging.getLogger("labhelpers.sandbox.kubelet")

POD = resources.lookup("", "v1", "pods")
SECRET = resources.lookup("", "v1", "secrets")
CONFIGMAP = resources.lookup("", "v1", "configmaps")

WORKER_BACKOFF_SECONDS = 10.0  # pod_workers.go backOffPeriod, jittered by up to 50 %
WORKER_BACKOFF_JITTER = 0.5
RESYNC_SECONDS = 60.0  # syncFrequency
JOB_RUN_SECONDS = 2.0  # how long a Job pod's containers "run" before exiting 0
TERMINATION_SECONDS = 0.5  # how long stopping a container without a process takes
CRASH_BACKOFF_INITIAL = 10.0  # kuberuntime: the container restart back-off starts at 10 s
CRASH_BACKOFF_MAX = 300.0  # MaxContainerBackOff
DEFAULT_GRACE_SECONDS = 30


class EventFn(Protocol):
    def __call__(self, pod: Mapping[str, Any], type_: str, reason: str, message: str,
                 field_path: str = "") -> None: ...


@dataclass
class WorkerContext:
    """What every pod worker shares: the API, the node's image manager and IPs, events and the clock."""

    registry: Registry
    images: ImageManager
    ips: PodIPs
    event: EventFn
    clock: SandboxClock
    node_name: str
    host_ip: str
    rand: Callable[[], float] = random.random
    # how much of the 50 % worker back-off jitter to use (tests set 0 for exact timing)
    worker_jitter: float = WORKER_BACKOFF_JITTER
    processes: ContainerRuntime | None = None  # the emulated runtime (None: nothing ever executes)


class PodIPs:
    """host-local IPAM over the node's pod CIDR: sequential addresses, reused after release."""

    def __init__(self, cidr: str) -> None:
        net = ipaddress.ip_network(cidr)
        self._pool = [str(ip) for ip in list(net.hosts())[1:]]  # .1 is the bridge
        self._by_uid: dict[str, str] = {}
        self._next = 0

    def reserve(self, uid: str, ip: str) -> None:
        if ip in self._pool and ip not in self._by_uid.values():
            self._by_uid[uid] = ip

    def allocate(self, uid: str) -> str:
        if uid in self._by_uid:
            return self._by_uid[uid]
        used = set(self._by_uid.values())
        for i in range(len(self._pool)):
            ip = self._pool[(self._next + i) % len(self._pool)]
            if ip not in used:
                self._next = (self._next + i + 1) % len(self._pool)
                self._by_uid[uid] = ip
                return ip
        raise RuntimeError("pod CIDR exhausted")

    def release(self, uid: str) -> None:
        self._by_uid.pop(uid, None)


# --- helpers -------------------------------------------------------------------------------------------------


def _field_path(kind: str, name: str) -> str:
    return f"spec.{kind}{{{name}}}"


def _is_job_pod(pod: Mapping[str, Any]) -> bool:
    return any(r.get("kind") == "Job" and r.get("controller") and (r.get("apiVersion") or "").startswith("batch/")
               for r in pod.get("metadata", {}).get("ownerReferences") or [])


def _mounts(container: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Container status volumeMounts (RecursiveReadOnlyMounts is on by default since v1.31)."""
    out = []
    for m in container.get("volumeMounts") or []:
        entry: dict[str, Any] = {"name": m.get("name", ""), "mountPath": m.get("mountPath", "")}
        if m.get("readOnly"):
            entry["readOnly"] = True
            entry["recursiveReadOnly"] = "Enabled" if m.get("recursiveReadOnly") == "Enabled" else "Disabled"
        out.append(entry)
    return out


def container_config_error(registry: Registry, namespace: str, container: Mapping[str, Any]) -> str | None:
    """``CreateContainerConfigError``: the env / envFrom references the kubelet cannot resolve."""
    def source(rt: Any, kind: str, name: str) -> dict[str, Any] | None:
        return registry.find(rt, namespace, name) if name else None

    for env_from in container.get("envFrom") or []:
        for key, rt, kind in (("secretRef", SECRET, "secret"), ("configMapRef", CONFIGMAP, "configmap")):
            ref = env_from.get(key)
            if ref and not ref.get("optional") and source(rt, kind, ref.get("name", "")) is None:
                return f'{kind} "{ref.get("name", "")}" not found'
    for env in container.get("env") or []:
        value_from = env.get("valueFrom") or {}
        for key, rt, kind, what in (("secretKeyRef", SECRET, "secret", "Secret"),
                                    ("configMapKeyRef", CONFIGMAP, "configmap", "ConfigMap")):
            ref = value_from.get(key)
            if not ref or ref.get("optional"):
                continue
            obj = source(rt, kind, ref.get("name", ""))
            if obj is None:
                return f'{kind} "{ref.get("name", "")}" not found'
            data = {**(obj.get("data") or {}), **(obj.get("binaryData") or {})}
            if ref.get("key") not in data:
                return f"couldn't find key {ref.get('key')} in {what} {namespace}/{ref.get('name')}"
    return None


def runtime_from_status(pod: Mapping[str, Any]) -> PodRuntime:
    """Rebuild the runtime's view after a sandbox restart: containers the status shows kept running."""
    status = pod.get("status") or {}
    rt = PodRuntime(sandbox_ready=any(c.get("type") == "PodReadyToStartContainers" and c.get("status") == "True"
                                      for c in status.get("conditions") or []),
                    pod_ip=status.get("podIP", ""))
    spec = pod.get("spec") or {}
    spec_images = {c.get("name"): c.get("image", "") for c in
                   list(spec.get("initContainers") or []) + list(spec.get("containers") or [])}
    for cs in list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        live = state.get("running") or state.get("terminated")
        if not live or not cs.get("containerID"):
            continue
        name = cs.get("name", "")
        for _ in range(int(cs.get("restartCount") or 0)):
            last = (cs.get("lastState") or {}).get("terminated") or {}
            old = ContainerRecord(name, last.get("containerID", ""), cs.get("image", ""), cs.get("imageID", ""),
                                  spec_images.get(name, ""), last.get("startedAt") or "",
                                  last.get("startedAt") or "", last.get("finishedAt") or "", "exited",
                                  int(last.get("exitCode") or 0), last.get("reason", ""))
            rt.add(old)
        rec = ContainerRecord(name, cs["containerID"], cs.get("image", ""), cs.get("imageID", ""),
                              spec_images.get(name, ""), live.get("startedAt") or "", live.get("startedAt") or "",
                              mounts=copy.deepcopy(cs.get("volumeMounts") or []))
        if "terminated" in state:
            rec.exit(live.get("finishedAt") or "", int(live.get("exitCode") or 0), live.get("reason", ""))
        else:
            rec.state = "running"
        rt.add(rec)
    return rt


@dataclass
class _SyncOutcome:
    changed: bool = False  # the runtime changed: the PLEG triggers another sync at once
    error: bool = False  # a container failed to start: retry after the worker back-off
    wake_in: float | None = None  # sandbox seconds until a runtime event (a Job container exiting)


# --- the worker ----------------------------------------------------------------------------------------------


@dataclass
class PodWorker:
    ctx: WorkerContext
    uid: str
    namespace: str
    name: str
    runtime: PodRuntime = field(default_factory=PodRuntime)
    reasons: dict[str, tuple[str, str]] = field(default_factory=dict)  # reasonCache: last start error per container
    syncs: int = 0
    done: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _run_until: dict[str, float] = field(default_factory=dict)
    _terminating: bool = False
    _finished: dict[str, float] = field(default_factory=dict)  # sandbox time of each container's last exit
    _crash: Backoff | None = None
    _crash_last: dict[str, float] = field(default_factory=dict)

    # --- lifecycle ---

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"pod-{self.namespace}-{self.name}")

    def poke(self) -> None:
        """Sync as soon as possible (a spec change, a deletion, a runtime event)."""
        self._wake.set()

    async def stop(self) -> None:
        self.done = True
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _loop(self) -> None:
        delay = 0.0
        while not self.done:
            if delay > 0:  # sandbox seconds: a poke or a clock advance past the delay ends the wait early
                await self.ctx.clock.sleep(delay, self._wake)
            self._wake.clear()
            try:
                delay = await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync of pod %s/%s failed", self.namespace, self.name)
                delay = WORKER_BACKOFF_SECONDS

    # --- SyncPod ---

    def _pod(self) -> dict[str, Any] | None:
        pod = self.ctx.registry.find(POD, self.namespace, self.name)
        if pod is None or pod["metadata"].get("uid") != self.uid:
            return None
        return pod

    async def sync(self) -> float:
        """One pass; returns sandbox seconds until the next one (inf: only when poked)."""
        pod = self._pod()
        if pod is None:
            self.done = True
            return math.inf
        self.syncs += 1
        if pod["metadata"].get("deletionTimestamp"):
            await self.terminate(pod)
            return math.inf
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") and not self.runtime.running():
            self._teardown()
            return math.inf
        pod = self.write_status(pod)
        if pod is None:
            return math.inf
        if pod["status"].get("phase") in ("Succeeded", "Failed"):
            self._teardown()
            self.write_status(pod)
            return math.inf
        pull_secrets = self.pull_secrets(pod)
        outcome = await self.sync_containers(pod, pull_secrets)
        if outcome.changed:
            return 0.0
        if outcome.error:
            return jitter(WORKER_BACKOFF_SECONDS, self.ctx.worker_jitter, self.ctx.rand) \
                if self.ctx.worker_jitter > 0 else WORKER_BACKOFF_SECONDS
        return min(RESYNC_SECONDS, outcome.wake_in if outcome.wake_in is not None else math.inf)

    def write_status(self, pod: dict[str, Any], *, terminal: bool = False) -> dict[str, Any] | None:
        """Post the status the runtime and the reason cache imply (no write when nothing changed)."""
        status = generate_pod_status(pod, self.runtime, self.reasons, now=self.ctx.registry.now(),
                                     host_ip=self.ctx.host_ip, pod_is_terminal=terminal)
        if status == pod.get("status"):
            return pod
        new = copy.deepcopy(pod)
        new["status"] = status
        try:
            return self.ctx.registry.update(POD, self.namespace, self.name, new, subresource="status")
        except ApiError as e:
            if e.code == 404:
                return None
            log.warning("status update of %s/%s failed: %s", self.namespace, self.name, e.message)
            return pod

    def pull_secrets(self, pod: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``getPullSecretsForPod``: the referenced secrets that exist, plus one event naming the missing ones."""
        found, missing = [], []
        for name in image_pull_secret_names(pod):
            secret = self.ctx.registry.find(SECRET, self.namespace, name)
            if secret is None:
                missing.append(name)
            else:
                found.append(secret)
        if missing:
            self.ctx.event(pod, "Warning", "FailedToRetrieveImagePullSecret", missing_secrets_event_message(missing))
        return found

    async def sync_containers(self, pod: dict[str, Any], pull_secrets: list[dict[str, Any]]) -> _SyncOutcome:
        """``computePodActions`` + ``SyncPod`` of the runtime manager."""
        out = _SyncOutcome()
        rt = self.runtime
        spec = pod.get("spec") or {}
        now = self.ctx.clock.now()
        self._finish_jobs(now, out)
        self._lost_processes(pod, out)
        if not rt.sandbox_ready:
            rt.sandbox_ready = True
            # host-network pods share the node's address; the others get one from the pod CIDR
            rt.pod_ip = self.ctx.host_ip if spec.get("hostNetwork") else self.ctx.ips.allocate(self.uid)
            out.changed = True
        for kind in ("initContainers", "containers"):
            for c in spec.get(kind) or []:
                rec = rt.latest(c.get("name", ""))
                if rec is not None and rec.state == "running" and rec.spec_image != c.get("image"):
                    self.ctx.event(pod, "Normal", "Killing",
                                   f"Container {c.get('name')} definition changed, will be restarted",
                                   _field_path(kind, c.get("name", "")))
                    await self._kill(rec, self._grace(pod))
                    out.changed = True
        for c in spec.get("initContainers") or []:
            name = c.get("name", "")
            rec = rt.latest(name)
            if is_restartable_init(c):
                if rec is not None and rec.state == "running":
                    continue
            elif rec is not None:
                if rec.state == "exited" and rec.exit_code == 0:
                    continue
                if rec.state == "running":
                    return out  # still initialising
                if rec.state == "exited" and not should_restart(c, pod, rt):
                    return out  # failed for good: the pod is Failed
            if self._in_crash_backoff(pod, c, "initContainers"):
                out.error = True
                return out
            if not await self.start_container(pod, c, "initContainers", pull_secrets):
                out.error = True
                return out
            out.changed = True
            if not is_restartable_init(c):
                started = rt.latest(name)
                if started is not None and not self._has_process(started):
                    # nothing executes: a regular init container completes as soon as it starts
                    started.exit(self.ctx.registry.now(), 0)
                return out
        for c in spec.get("containers") or []:
            name = c.get("name", "")
            rec = rt.latest(name)
            if rec is not None and (rec.state == "running" or not should_restart(c, pod, rt)):
                continue
            if self._in_crash_backoff(pod, c, "containers"):
                out.error = True
                continue
            if await self.start_container(pod, c, "containers", pull_secrets):
                out.changed = True
                started = rt.latest(name)
                if _is_job_pod(pod) and started is not None and not self._has_process(started):
                    self._run_until[name] = self.ctx.clock.now() + JOB_RUN_SECONDS
            else:
                out.error = True
        if self._run_until:
            out.wake_in = max(min(self._run_until.values()) - self.ctx.clock.now(), 0.0)
        return out

    def _finish_jobs(self, now: float, out: _SyncOutcome) -> None:
        for name, until in list(self._run_until.items()):
            if now >= until:
                rec = self.runtime.latest(name)
                if rec is not None and rec.state == "running":
                    rec.exit(self.ctx.registry.now(), 0)
                    out.changed = True
                del self._run_until[name]

    # --- processes ---

    def _plan(self, pod: Mapping[str, Any], container: Mapping[str, Any]) -> ContainerPlan | None:
        if self.ctx.processes is None:
            return None

        def lookup(kind: str, name: str) -> Mapping[str, Any] | None:
            return self.ctx.registry.find(SECRET if kind == "secret" else CONFIGMAP, self.namespace, name)

        return self.ctx.processes.plan(pod, container, lookup, pod_ip=self.runtime.pod_ip)

    def plan_of(self, container: str) -> ContainerPlan | None:
        """How the named container runs (None: its image is not runnable, or the pod is gone)."""
        pod = self._pod()
        if pod is None:
            return None
        spec = pod.get("spec") or {}
        for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            if c.get("name") == container:
                return self._plan(pod, c)
        return None

    def _has_process(self, rec: ContainerRecord) -> bool:
        return self.ctx.processes is not None and self.ctx.processes.get(rec.container_id) is not None

    def log_dir(self) -> Path | None:
        """``/var/log/pods/<namespace>_<name>_<uid>``."""
        if self.ctx.processes is None:
            return None
        return self.ctx.processes.root / "pods" / f"{self.namespace}_{self.name}_{self.uid}"

    def log_path(self, container: str, index: int) -> Path | None:
        d = self.log_dir()
        return d / container / f"{index}.log" if d is not None else None

    def log_path_of(self, container: str, container_id: str) -> Path | None:
        """The log file of one container instance (None when it never had one)."""
        for index, rec in enumerate(self.runtime.containers.get(container, [])):
            if rec.container_id == container_id:
                path = self.log_path(container, index)
                return path if path is not None and path.exists() else None
        return None

    def _exited(self, name: str, container_id: str, code: int) -> None:
        """The runtime saw a container's process end: the PLEG's ContainerDied."""
        for rec in self.runtime.containers.get(name, []):
            if rec.container_id == container_id and rec.state in ("running", "created"):
                rec.exit(self.ctx.registry.now(), code)
                self._finished[name] = self.ctx.clock.now()
                self.poke()

    def _lost_processes(self, pod: Mapping[str, Any], out: _SyncOutcome) -> None:
        """After a sandbox restart, a runnable container's process died with the old sandbox: it has exited."""
        if self.ctx.processes is None:
            return
        spec = pod.get("spec") or {}
        for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            rec = self.runtime.latest(c.get("name", ""))
            if (rec is not None and rec.state == "running" and not self._has_process(rec)
                    and self._plan(pod, c) is not None):
                rec.exit(self.ctx.registry.now(), 255, "Unknown")
                self._finished[rec.name] = self.ctx.clock.now()
                out.changed = True

    def _in_crash_backoff(self, pod: Mapping[str, Any], container: Mapping[str, Any], kind: str) -> bool:
        """``doBackOff``: a container that exited restarts at once the first time, then only after a window
        of 10 s doubling up to 5 min counted from its last exit (``CrashLoopBackOff`` meanwhile)."""
        name = container.get("name", "")
        rec = self.runtime.latest(name)
        finished = self._finished.get(name)
        if rec is None or rec.state != "exited" or finished is None:
            return False
        if self._crash is None:
            self._crash = Backoff(CRASH_BACKOFF_INITIAL, CRASH_BACKOFF_MAX, self.ctx.clock.now)
        key = f"{self.name}_{self.namespace}_{self.uid}_{name}"
        last = self._crash_last.get(key)
        window = self._crash.get(key)
        if last is not None and finished - last <= 2 * CRASH_BACKOFF_MAX and self.ctx.clock.now() - finished < window:
            pod_ref = f"{self.name}_{self.namespace}({self.uid})"
            self.ctx.event(pod, "Warning", "BackOff", f"Back-off restarting failed container {name} in pod {pod_ref}",
                           _field_path(kind, name))
            self.reasons[name] = ("CrashLoopBackOff",
                                  f"back-off {go_duration(window)} restarting failed container={name} pod={pod_ref}")
            return True
        self._crash.next(key, finished)
        self._crash_last[key] = finished
        return False

    def _grace(self, pod: Mapping[str, Any]) -> float:
        """The kill grace period in sandbox seconds (the kubelet never uses less than 2 s)."""
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        return max(float(grace or 0), 2.0)

    async def _kill(self, rec: ContainerRecord, grace: float) -> None:
        """``killContainer``: the process gets SIGTERM, then SIGKILL after ``grace``; a container without a
        process just stops."""
        if self._has_process(rec):
            assert self.ctx.processes is not None
            code = await self.ctx.processes.stop(rec.container_id, self.ctx.clock.real_seconds(grace))
            if rec.state == "running":
                rec.exit(self.ctx.registry.now(), code if code is not None else 137)
        elif rec.state == "running":
            rec.exit(self.ctx.registry.now(), 0)

    async def release(self) -> None:
        """The pod is gone: kill what is left and remove its logs and working directories."""
        procs = self.ctx.processes
        if procs is None:
            return
        recs = [r for records in self.runtime.containers.values() for r in records]
        await asyncio.gather(*(procs.stop(r.container_id, self.ctx.clock.real_seconds(2.0)) for r in recs
                               if procs.running(r.container_id)), return_exceptions=True)
        for r in recs:
            procs.forget(r.container_id)
        log_dir = self.log_dir()
        if log_dir is not None:
            shutil.rmtree(log_dir, ignore_errors=True)

    async def start_container(self, pod: Mapping[str, Any], container: Mapping[str, Any], kind: str,
                              pull_secrets: list[dict[str, Any]]) -> bool:
        """``startContainer``: ensure the image, then create and start (events Created/Started)."""
        name = container.get("name", "")
        field_path = _field_path(kind, name)
        result = await self.ctx.images.ensure_image_exists(pod, container, field_path, pull_secrets)
        if not result.ok:
            self.ctx.event(pod, "Warning", "Failed", f"Error: {result.error}", field_path)
            self.reasons[name] = (str(result.error), result.message)
            return False
        config_error = container_config_error(self.ctx.registry, self.namespace, container)
        if config_error:
            self.ctx.event(pod, "Warning", "Failed", f"Error: {config_error}", field_path)
            self.reasons[name] = ("CreateContainerConfigError", config_error)
            return False
        image = apply_default_image_tag(str(container.get("image") or ""))
        stored = self.ctx.images.images.image_status(image)
        runtime_image = stored.repo_tags[0] if stored is not None and stored.repo_tags else image
        now = self.ctx.registry.now()
        rec = ContainerRecord(name, f"containerd://{secrets.token_hex(32)}", runtime_image,
                              stored.ref if stored is not None else result.image_ref,
                              str(container.get("image") or ""), now, mounts=_mounts(container))
        self.ctx.event(pod, "Normal", "Created", f"Created container: {name}", field_path)
        plan = self._plan(pod, container)
        if plan is not None and self.ctx.processes is not None:
            index = len(self.runtime.containers.get(name, []))
            log_path = self.log_path(name, index)
            assert log_path is not None
            self.runtime.add(rec)
            try:
                await self.ctx.processes.start(rec.container_id, plan, log_path,
                                               on_exit=lambda code: self._exited(name, rec.container_id, code))
            except ExecNotFound as e:
                message = start_error_message(e)
                rec.started_at = "1970-01-01T00:00:00Z"
                rec.exit(self.ctx.registry.now(), 128, "StartError")
                rec.message = message
                self._finished[name] = self.ctx.clock.now()
                self.ctx.event(pod, "Warning", "Failed", f"Error: {message}", field_path)
                self.reasons[name] = ("RunContainerError", message)
                return False
            rec.start(self.ctx.registry.now())
        else:
            rec.start(self.ctx.registry.now())
            self.runtime.add(rec)
        self.ctx.event(pod, "Normal", "Started", f"Started container {name}", field_path)
        self.reasons.pop(name, None)
        return True

    def _teardown(self) -> None:
        """The pod is finished: its sandbox goes (the IP is released; the status keeps showing it)."""
        self.runtime.sandbox_ready = False
        self.ctx.ips.release(self.uid)
        self._run_until.clear()

    # --- termination ---

    async def terminate(self, pod: dict[str, Any]) -> None:
        """Graceful deletion: stop the containers (Killing events), post the final status, then delete."""
        if self._terminating:
            return
        self._terminating = True
        running = [(kind, c.get("name", "")) for kind in ("initContainers", "containers")
                   for c in (pod.get("spec") or {}).get(kind) or []
                   if (r := self.runtime.latest(c.get("name", ""))) is not None and r.state == "running"]
        for kind, name in running:
            self.ctx.event(pod, "Normal", "Killing", f"Stopping container {name}", _field_path(kind, name))
        records = [r for _, name in running if (r := self.runtime.latest(name)) is not None]
        waits: list[Any] = [self._kill(r, self._grace(pod)) for r in records if self._has_process(r)]
        if any(not self._has_process(r) for r in records):
            waits.append(asyncio.sleep(self.ctx.clock.real_seconds(TERMINATION_SECONDS)))
        await asyncio.gather(*waits)
        for _, name in running:
            rec = self.runtime.latest(name)
            if rec is not None and rec.state == "running":
                rec.exit(self.ctx.registry.now(), 0)
        self._teardown()
        current = self._pod()
        if current is not None and (current.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            self.write_status(current, terminal=True)
        current = self._pod()
        if current is not None:
            try:
                self.ctx.registry.delete(POD, self.namespace, self.name, grace_period=0,
                                         preconditions={"uid": self.uid})
            except ApiError as e:
                if e.code not in (404, 409):
                    log.warning("deleting %s/%s failed: %s", self.namespace, self.name, e.message)
        self.done = True
