"""The sandbox kubelet: watches pods, schedules them onto its node and runs one worker per bound pod.

It plugs into the API server core in-process: a store listener (only queues, as store writes call listeners
synchronously), ``registry.pod_graceful_hook`` so that deleting a bound pod waits for the kubelet to stop its
containers, an :class:`EventRecorder` of its own with ``source: {component: kubelet, host: lab-node}``, and
its streaming side (logs, exec, attach) registered with :mod:`..apiserver.podstreams`. Containers of images
the emulated runtime knows run as processes (:mod:`.runtime`), with the pod network of :mod:`.podnet`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import pki
from ..apiserver import discovery, podstreams
from ..apiserver.errors import ApiError
from ..apiserver.objects import Registry
from ..apiserver.store import WatchEvent, rt_key
from ..clock import SandboxClock
from ..controllers.events import EventRecorder
from ..registries import RegistryFleet
from . import scheduler
from .backoff import IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX
from .image_manager import ImageManager
from .images import ImageService
from .node import CONTAINER_RUNTIME_VERSION, HOST_IP, NODE, NODE_NAME, POD_CIDR, NodeStatusReporter
from .podnet import PodNetwork
from .pods import POD, WORKER_BACKOFF_JITTER, PodIPs, PodWorker, WorkerContext, runtime_from_status
from .runtime import ContainerRuntime
from .streaming import KubeletStreaming

__all__ = ["COMPONENT", "Kubelet"]

log = logging.getLogger("labhelpers.sandbox.kubelet")

COMPONENT = "kubelet"
_POD_KEY = rt_key(POD)


def _fingerprint(pod: Mapping[str, Any]) -> str:
    """What makes the kubelet re-sync a pod: its spec and a deletion request (never its own status writes)."""
    meta = pod.get("metadata", {})
    return json.dumps([pod.get("spec"), meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds")],
                      sort_keys=True)


class Kubelet:
    """One node's kubelet (and the scheduler's job of binding pods to it)."""

    def __init__(self, registry: Registry, fleet: RegistryFleet, clock: SandboxClock, *,
                 state_dir: Path | None = None, node_name: str = NODE_NAME, recorder: EventRecorder | None = None,
                 worker_jitter: float = WORKER_BACKOFF_JITTER, rand: Callable[[], float] | None = None,
                 ca_dir: Path | None = None) -> None:
        self.registry = registry
        self.clock = clock
        self.node_name = node_name
        self.state_dir = state_dir
        self.recorder = recorder or EventRecorder(registry)
        self.image_service = ImageService(fleet, state_dir / "images.json" if state_dir else None)
        self.images = ImageManager(self.image_service, self._container_event, clock.now)
        self.ips = PodIPs(POD_CIDR)
        root = state_dir if state_dir is not None else Path(tempfile.mkdtemp(prefix="lab-kubelet-"))
        if ca_dir is None and state_dir is not None:
            sandbox_root = state_dir.parent.parent  # LabNode puts the kubelet at <sandbox>/node/kubelet
            if (sandbox_root / pki.CA_CERT).exists() and (sandbox_root / pki.CA_KEY).exists():
                ca_dir = sandbox_root
        self.network = PodNetwork(fleet, root / "network", ca_dir)
        self.processes = ContainerRuntime(root, curl_home=self.network.curl_home)
        self.processes.before_start = self.network.refresh
        self.streaming = KubeletStreaming(self)
        ctx_kwargs: dict[str, Any] = {"rand": rand} if rand is not None else {}
        self.ctx = WorkerContext(registry, self.images, self.ips, self._container_event, clock, node_name, HOST_IP,
                                 worker_jitter=worker_jitter, processes=self.processes, **ctx_kwargs)
        self.node = NodeStatusReporter(registry, name=node_name, state_dir=state_dir,
                                       images=self.image_service.node_images, record_event=self._node_event)
        self.workers: dict[str, PodWorker] = {}
        self._seen: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- events ---

    def _container_event(self, pod: Mapping[str, Any], type_: str, reason: str, message: str,
                         field_path: str = "") -> None:
        self.recorder.record(dict(pod), type_, reason, message, COMPONENT, field_path=field_path,
                             host=self.node_name)

    def _node_event(self, node: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        self.recorder.record(dict(node), type_, reason, message, COMPONENT, host=self.node_name)

    # --- lifecycle ---

    async def start(self) -> None:
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._running = True
        self.node.register()
        self.node.start()
        self.processes.reap_orphans()
        try:
            await self.network.start()
        except Exception:  # containers still run; curl just does not see the registries
            log.exception("pod network not started")
        podstreams.register(self.registry, self.streaming)
        self.image_service.on_change = self._images_changed
        self.registry.on_event(self._on_store_event)
        self.registry.pod_graceful_hook = self._graceful_hook
        for pod in self.registry.list(POD):
            self._handle(pod)

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        with contextlib.suppress(ValueError):
            self.registry.store.listeners.remove(self._on_store_event)
        if self.registry.pod_graceful_hook == self._graceful_hook:
            self.registry.pod_graceful_hook = None
        podstreams.unregister(self.registry, self.streaming)
        await self.node.stop()
        for w in list(self.workers.values()):
            await w.stop()
        self.workers.clear()
        await self.processes.shutdown()
        await self.network.stop()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    def _images_changed(self) -> None:
        """A pull changed the node's images: post the node status soon (as the next 10 s update would)."""
        if self._loop is not None and self._running:
            self._loop.call_soon_threadsafe(self._sync_node)

    def _sync_node(self) -> None:
        try:
            self.node.sync()
        except Exception:
            log.exception("node status update failed")

    # --- dispatch ---

    def _on_store_event(self, ev: WatchEvent) -> None:
        """Runs inside a store write: only queue the work."""
        if ev.rt_key != _POD_KEY or not self._running or self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._dispatch, ev)

    def _dispatch(self, ev: WatchEvent) -> None:
        if not self._running:
            return
        meta = ev.obj.get("metadata", {})
        uid = meta.get("uid", "")
        if ev.type == "DELETED":
            self._forget(uid)
            return
        try:
            self._handle(self.registry.find(POD, meta.get("namespace", ""), meta.get("name", "")))
        except Exception:
            log.exception("handling pod %s/%s failed", meta.get("namespace"), meta.get("name"))

    def _handle(self, pod: dict[str, Any] | None) -> None:
        if pod is None:
            return
        spec = pod.get("spec") or {}
        if not spec.get("nodeName"):
            if scheduler.schedulable(pod):
                node = self.registry.find(NODE, "", self.node_name)
                if node is not None:
                    scheduler.bind(self.registry, pod, node)  # the MODIFIED event brings it back here
            return
        if spec["nodeName"] != self.node_name:
            return
        uid = pod["metadata"].get("uid", "")
        fp = _fingerprint(pod)
        worker = self.workers.get(uid)
        if worker is None:
            runtime = runtime_from_status(pod)
            if runtime.pod_ip and runtime.sandbox_ready:
                self.ips.reserve(uid, runtime.pod_ip)
            worker = PodWorker(self.ctx, uid, pod["metadata"].get("namespace", ""), pod["metadata"]["name"],
                               runtime=runtime)
            self.workers[uid] = worker
            self._seen[uid] = fp
            worker.start()
        elif self._seen.get(uid) != fp:
            self._seen[uid] = fp
            worker.poke()

    def _forget(self, uid: str) -> None:
        worker = self.workers.pop(uid, None)
        self._seen.pop(uid, None)
        self.ips.release(uid)
        self.images.forget_pod(uid)
        if worker is not None:
            self._spawn(self._release(worker))

    @staticmethod
    async def _release(worker: PodWorker) -> None:
        await worker.stop()
        await worker.release()

    def _spawn(self, coro: Any) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _graceful_hook(self, pod: dict[str, Any]) -> None:
        """Called by ``Registry.delete`` for a bound pod: its worker notices the deletion through the store
        event; a pod bound to a node nobody runs is removed at once (what the pod GC does for lost nodes)."""
        if (pod.get("spec") or {}).get("nodeName") == self.node_name or self._loop is None:
            return
        meta = pod.get("metadata", {})

        def delete_now() -> None:
            with contextlib.suppress(ApiError):
                self.registry.delete(POD, meta.get("namespace", ""), meta.get("name", ""), grace_period=0,
                                     preconditions={"uid": meta.get("uid", "")})

        self._loop.call_soon_threadsafe(delete_now)

    # --- introspection ---

    def info(self) -> dict[str, Any]:
        """Facts that stay true while the node runs (the sandbox writes them to services.json once)."""
        return {"name": self.node_name, "internalIP": HOST_IP, "podCIDR": POD_CIDR,
                "kubeletVersion": discovery.VERSION["gitVersion"], "containerRuntimeVersion": CONTAINER_RUNTIME_VERSION,
                "imageBackOff": {"initialSeconds": IMAGE_BACKOFF_INITIAL, "maxSeconds": IMAGE_BACKOFF_MAX},
                "clockSpeed": self.clock.speed}
