"""The lab's node: the registry fleet (the "internet" it pulls from) plus the kubelet that runs its pods.

The sandbox server starts one :class:`LabNode` beside the API server; ``labctl sandbox info -o json`` shows
:meth:`LabNode.info` (registry hosts with their demo accounts and images, and the node).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from .apiserver.objects import Registry
from .clock import SandboxClock
from .kubelet import Kubelet
from .registries import RegistryFleet

__all__ = ["LabNode"]

log = logging.getLogger("labhelpers.sandbox.node")

_REGISTRY_FIELDS = ("host", "aliases", "url", "auth", "endpoint", "description", "users", "images", "service",
                    "token_url", "token_realm", "anonymous", "basic_realm")


class LabNode:
    """Registries and kubelet for one sandbox.

    ``state_dir`` belongs to the node: registries keep their storage in ``state_dir/registries`` (images and
    pushed content survive restarts), the kubelet its image cache and machine identity in
    ``state_dir/kubelet``. A ``fleet`` passed in already started is used as is and left running by
    :meth:`stop` (tests share one across many nodes).
    """

    def __init__(self, *, fleet: RegistryFleet | None = None, worker_jitter: float | None = None) -> None:
        self.fleet = fleet or RegistryFleet()
        self._own_fleet = not self.fleet.started
        self._worker_jitter = worker_jitter
        self.kubelet: Kubelet | None = None
        self.state_dir: Path | None = None

    async def start(self, registry: Registry, state_dir: Path, clock: SandboxClock) -> None:
        """Start the registries (unless given running ones), then the kubelet; returns once the node is Ready."""
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self._own_fleet:
            await asyncio.to_thread(self.fleet.start, self.state_dir, clock.now)
        kwargs: dict[str, Any] = {} if self._worker_jitter is None else {"worker_jitter": self._worker_jitter}
        self.kubelet = Kubelet(registry, self.fleet, clock, state_dir=self.state_dir / "kubelet", **kwargs)
        try:
            await self.kubelet.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the kubelet (pods stay as they are in the API) and, if this node started them, the registries."""
        if self.kubelet is not None:
            with contextlib.suppress(Exception):
                await self.kubelet.stop()
            self.kubelet = None
        if self._own_fleet and self.fleet.started:
            await asyncio.to_thread(self.fleet.stop)

    def info(self) -> dict[str, Any]:
        """What ``labctl sandbox info -o json`` adds: ``registries`` (hosts, demo users, images) and ``node``."""
        registries = []
        if self.fleet.started:
            for entry in self.fleet.info():
                registries.append({k: entry[k] for k in _REGISTRY_FIELDS if k in entry})
        node = self.kubelet.info() if self.kubelet is not None else {}
        return {"registries": registries, "node": node}
