"""The ``lab-node`` Node object: registration, status and heartbeat, as a kubelet keeps them.

Registering the ``nodes`` kind lives here too, because only the sandbox kubelet gives nodes a meaning. Node
status reports the host's real CPU/memory/disk, the version the API server claims, and the node's image cache
(``status.images``), so ``kubectl describe node lab-node`` and ``kubectl get nodes -o wide`` look like a
one-node kind cluster's worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import os
import platform
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..apiserver import discovery, resources
from ..apiserver.errors import ApiError
from ..apiserver.objects import Registry
from ..apiserver.resources import PrinterColumn, ResourceType

__all__ = ["CONTAINER_RUNTIME_VERSION", "HOST_IP", "LEASE", "NODE", "NODE_NAME", "POD_CIDR", "NodeStatusReporter",
           "node_object"]

log = logging.getLogger("labhelpers.sandbox.kubelet")

NODE_NAME = "lab-node"
HOST_IP = "127.0.0.1"
POD_CIDR = "10.244.0.0/24"
CONTAINER_RUNTIME_VERSION = "containerd://1.7.24"
MAX_PODS = 110
KUBELET_PORT = 10250
STATUS_CHECK_SECONDS = 10.0  # nodeStatusUpdateFrequency: post when something changed ...
STATUS_REPORT_SECONDS = 300.0  # ... nodeStatusReportFrequency: and at least this often

# Columns of kube-apiserver's node printer. Status and Roles are computed cells upstream; as JSONPath
# columns, "Status" shows "Ready" while the Ready condition exists (the sandbox node is always ready) and
# "Roles" shows <none> (lab-node is a worker without node-role labels).
_PRINTER_COLUMNS = (
    PrinterColumn("Status", "string", '.status.conditions[?(@.type=="Ready")].type',
                  "The status of the node"),
    PrinterColumn("Roles", "string", ".metadata.labels.node-role\\.kubernetes\\.io/worker",
                  "The roles of the node"),
    PrinterColumn("Age", "date", ".metadata.creationTimestamp",
                  "CreationTimestamp is a timestamp representing the server time when this object was created."),
    PrinterColumn("Version", "string", ".status.nodeInfo.kubeletVersion", "Kubelet Version reported by the node."),
    PrinterColumn("Internal-IP", "string", '.status.addresses[?(@.type=="InternalIP")].address',
                  "List of addresses reachable to the node.", priority=1),
    PrinterColumn("External-IP", "string", '.status.addresses[?(@.type=="ExternalIP")].address',
                  "List of addresses reachable to the node.", priority=1),
    PrinterColumn("OS-Image", "string", ".status.nodeInfo.osImage",
                  "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                  priority=1),
    PrinterColumn("Kernel-Version", "string", ".status.nodeInfo.kernelVersion",
                  "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", priority=1),
    PrinterColumn("Container-Runtime", "string", ".status.nodeInfo.containerRuntimeVersion",
                  "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
                  "containerd://1.4.2).", priority=1),
)

NODE = resources.register(ResourceType("", "v1", "Node", "nodes", namespaced=False, short_names=("no",),
                                       subresources=("status",), printer_columns=_PRINTER_COLUMNS))
# The node heartbeat proper: a Lease in kube-node-lease renewed every 10 s (``kubectl describe node`` shows it).
LEASE = resources.register(ResourceType(
    "coordination.k8s.io", "v1", "Lease", "leases",
    printer_columns=(PrinterColumn("Holder", "string", ".spec.holderIdentity", "Holder identity of the lease"),
                     PrinterColumn("Age", "date", ".metadata.creationTimestamp",
                                   "CreationTimestamp is a timestamp representing the server time when this "
                                   "object was created."))))
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
LEASE_RENEW_SECONDS = 10.0

_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
_CONDITION_EVENTS = {"MemoryPressure": "NodeHasSufficientMemory", "DiskPressure": "NodeHasNoDiskPressure",
                     "PIDPressure": "NodeHasSufficientPID", "Ready": "NodeReady"}


def _os_image() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def _mem_kib() -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 8 * 1024 * 1024


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine or "amd64")


def _identity(state_dir: Path | None) -> dict[str, str]:
    """machine-id and system UUID stay the same across restarts (they describe the machine)."""
    path = state_dir / "node-identity.json" if state_dir else None
    if path is not None:
        with contextlib.suppress(OSError, ValueError):
            return json.loads(path.read_text())
    ident = {"machineID": uuid.uuid4().hex, "systemUUID": str(uuid.uuid4())}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(ident))
    return ident


def node_object(name: str = NODE_NAME, *, state_dir: Path | None = None) -> dict[str, Any]:
    """A fresh Node as the kubelet registers it (metadata and spec; status comes from the reporter)."""
    arch = _arch()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
                       "kubernetes.io/arch": arch, "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": {"podCIDR": POD_CIDR, "podCIDRs": [POD_CIDR]},
    }


class NodeStatusReporter:
    """Registers the node and keeps its status fresh (heartbeats, conditions, images)."""

    def __init__(self, registry: Registry, *, name: str = NODE_NAME, state_dir: Path | None = None,
                 images: Callable[[], list[dict[str, Any]]] = list, record_event: Callable[..., Any] | None = None,
                 check_seconds: float = STATUS_CHECK_SECONDS, report_seconds: float = STATUS_REPORT_SECONDS):
        self.registry = registry
        self.name = name
        self.state_dir = state_dir
        self.images = images
        self.record_event = record_event
        self.check_seconds = check_seconds
        self.report_seconds = report_seconds
        self.boot_id = str(uuid.uuid4())
        self._identity = _identity(state_dir)
        self._last_report = 0.0
        self._task: asyncio.Task[None] | None = None

    # --- status ---

    def _capacity(self) -> dict[str, str]:
        disk = shutil.disk_usage(self.state_dir if self.state_dir and self.state_dir.exists() else "/")
        return {"cpu": str(os.cpu_count() or 1), "ephemeral-storage": f"{disk.total // 1024}Ki",
                "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": f"{_mem_kib()}Ki", "pods": str(MAX_PODS)}

    def desired_status(self, old: dict[str, Any] | None) -> dict[str, Any]:
        now = self.registry.now()
        previous = {c.get("type"): c for c in (old or {}).get("conditions") or []}
        conditions = []
        for type_, status, reason, message in _CONDITIONS:
            prev = previous.get(type_)
            since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else now
            conditions.append({"type": type_, "status": status, "lastHeartbeatTime": now,
                               "lastTransitionTime": since or now, "reason": reason, "message": message})
        capacity = self._capacity()
        arch = _arch()
        return {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": HOST_IP}, {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "nodeInfo": {"machineID": self._identity["machineID"], "systemUUID": self._identity["systemUUID"],
                         "bootID": self.boot_id, "kernelVersion": platform.release(), "osImage": _os_image(),
                         "containerRuntimeVersion": CONTAINER_RUNTIME_VERSION,
                         "kubeletVersion": discovery.VERSION["gitVersion"], "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": arch},
            "images": self.images(),
        }

    def register(self) -> dict[str, Any]:
        """Create the Node if needed and post a full status; returns the stored Node."""
        node = self.registry.find(NODE, "", self.name)
        fresh = node is None
        if fresh:
            try:
                node = self.registry.create(NODE, None, node_object(self.name, state_dir=self.state_dir))
            except ApiError as e:
                if e.code != 409:
                    raise
                node = self.registry.get(NODE, "", self.name)
        assert node is not None
        old_status = node.get("status") or {}
        self._event("Normal", "Starting", "Starting kubelet.", node)
        node = self._post(node)
        self._event("Normal", "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods", node)
        self.renew_lease(node)
        before = {c.get("type"): c.get("status") for c in old_status.get("conditions") or []}
        for type_, status, _, _ in _CONDITIONS:
            if before.get(type_) != status:
                self._event("Normal", _CONDITION_EVENTS[type_],
                            f"Node {self.name} status is now: {_CONDITION_EVENTS[type_]}", node)
        return node

    def _event(self, type_: str, reason: str, message: str, node: dict[str, Any]) -> None:
        if self.record_event is not None:
            self.record_event(node, type_, reason, message)

    def _post(self, node: dict[str, Any]) -> dict[str, Any]:
        new = copy.deepcopy(node)
        new["status"] = self.desired_status(node.get("status"))
        self._last_report = time.monotonic()
        return self.registry.update(NODE, "", self.name, new, subresource="status")

    def sync(self, force: bool = False) -> None:
        """Post the status when it changed (other than heartbeat times) or the report interval has passed."""
        node = self.registry.find(NODE, "", self.name)
        if node is None:  # deleted by hand: a kubelet re-registers
            self.register()
            return
        old = node.get("status") or {}
        due = force or time.monotonic() - self._last_report >= self.report_seconds
        if not due and _without_heartbeats(old) == _without_heartbeats(self.desired_status(old)):
            return
        self._post(node)

    # --- the lease ---

    def renew_lease(self, node: dict[str, Any] | None = None) -> None:
        """Create or renew ``kube-node-lease/<node>`` (owned by the Node, as the kubelet's lease controller does)."""
        node = node or self.registry.find(NODE, "", self.name)
        if node is None:
            return
        now = datetime.fromtimestamp(self.registry.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lease = self.registry.find(LEASE, LEASE_NAMESPACE, self.name)
        try:
            if lease is None:
                owner = {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": node["metadata"]["uid"]}
                self.registry.create(LEASE, LEASE_NAMESPACE, {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE, "ownerReferences": [owner]},
                    "spec": {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                             "renewTime": now}})
            else:
                lease = copy.deepcopy(lease)
                lease.setdefault("spec", {})["renewTime"] = now
                self.registry.update(LEASE, LEASE_NAMESPACE, self.name, lease)
        except ApiError as e:  # e.g. kube-node-lease not created yet: the next renewal retries
            log.debug("node lease not renewed: %s", e.message)

    # --- the loop ---

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="kubelet-node-status")

    async def _run(self) -> None:
        next_lease = time.monotonic() + LEASE_RENEW_SECONDS
        while True:
            await asyncio.sleep(min(self.check_seconds, LEASE_RENEW_SECONDS))
            try:
                if time.monotonic() >= next_lease:
                    next_lease = time.monotonic() + LEASE_RENEW_SECONDS
                    self.renew_lease()
                self.sync()
            except Exception:
                log.exception("node status update failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _without_heartbeats(status: dict[str, Any]) -> dict[str, Any]:
    s = copy.deepcopy(status)
    for c in s.get("conditions") or []:
        c.pop("lastHeartbeatTime", None)
    return s
