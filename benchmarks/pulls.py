"""Sandbox kubelet latency: pod create -> Ready, and pod create -> first ErrImagePull / ImagePullBackOff.

Builds the API core in-process with a LabNode on a real-time sandbox clock and real registries, creates pods
and timestamps the store events that change their status (no polling). Targets (2-core machine): every
median < 1 s. Back-off windows are not measured: "ImagePullBackOff" here is the first BackOff event, which a
real kubelet records on the sync right after the failed pull. Prints figures; asserts nothing.
Run: .venv/bin/python benchmarks/pulls.py
"""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path

from labhelpers.sandbox.apiserver import admission, resources
from labhelpers.sandbox.apiserver.objects import Registry
from labhelpers.sandbox.apiserver.store import Store, WatchEvent, rt_key
from labhelpers.sandbox.clock import SandboxClock
from labhelpers.sandbox.node import LabNode
from labhelpers.sandbox.registries import RegistryFleet

ROUNDS = 5
NS = "bench"
POD = resources.lookup("", "v1", "pods")
EVENT = resources.lookup("", "v1", "events")

CASES = [
    # (label, image, pull secret auths, pull policy, what we wait for)
    ("public image, cold pull (docker.io token auth)", "nginx", None, "Always", "ready"),
    ("cached image, IfNotPresent", "docker.io/library/nginx:latest", None, "IfNotPresent", "ready"),
    ("private, Basic auth + secret (myregistry.com)", "myregistry.com/app3:v1.0",
     {"myregistry.com": ("user3", "pass3")}, "Always", "ready"),
    ("private, token auth + secret (docker.io)", "docker.io/youruser/private-app:v1.0",
     {"docker.io": ("your-username", "your-password")}, "Always", "ready"),
    ("private, no secret -> ErrImagePull", "registry.lab.local:5000/team/app:v1", None, "Always", "ErrImagePull"),
    ("private, no secret -> ImagePullBackOff (event)", "registry.lab.local:5000/team/app:v1", None, "Always",
     "BackOff"),
]


class Stopwatch:
    """Timestamps, per pod name, the first store event showing each milestone."""

    def __init__(self) -> None:
        self.created: dict[str, float] = {}
        self.seen: dict[tuple[str, str], float] = {}

    def __call__(self, ev: WatchEvent) -> None:
        now = time.perf_counter()
        if ev.rt_key == rt_key(POD):
            name = ev.obj["metadata"]["name"]
            status = ev.obj.get("status") or {}
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []):
                self.seen.setdefault((name, "ready"), now)
            for cs in status.get("containerStatuses") or []:
                reason = (cs.get("state") or {}).get("waiting", {}).get("reason")
                if reason:
                    self.seen.setdefault((name, reason), now)
        elif ev.rt_key == rt_key(EVENT) and ev.obj.get("reason") == "BackOff":
            self.seen.setdefault((ev.obj["involvedObject"].get("name", ""), "BackOff"), now)


async def measure(registry: Registry, watch: Stopwatch, label: str, image: str, auths: dict | None, policy: str,
                  milestone: str, index: int) -> list[float]:
    out = []
    for r in range(ROUNDS):
        name = f"p{index}-{r}"
        spec: dict = {"containers": [{"name": "app", "image": image, "imagePullPolicy": policy}]}
        if auths:
            spec["imagePullSecrets"] = [{"name": "regcred"}]
        watch.created[name] = time.perf_counter()
        registry.create(POD, NS, {"metadata": {"name": name}, "spec": spec})
        deadline = time.monotonic() + 10
        while (name, milestone) not in watch.seen and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        if (name, milestone) not in watch.seen:
            raise RuntimeError(f"{label}: {name} never reached {milestone}")
        out.append(watch.seen[(name, milestone)] - watch.created[name])
    return out


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        fleet = RegistryFleet()
        t0 = time.perf_counter()
        await asyncio.to_thread(fleet.start, d / "fleet")
        fleet_start = time.perf_counter() - t0
        store = Store(d / "state.db")
        registry = Registry(store)
        admission.install(registry)
        watch = Stopwatch()
        registry.on_event(watch)
        registry.create(resources.lookup("", "v1", "namespaces"), None, {"metadata": {"name": NS}})
        registry.create(resources.lookup("", "v1", "serviceaccounts"), NS, {"metadata": {"name": "default"}})
        node = LabNode(fleet=fleet)
        t0 = time.perf_counter()
        await node.start(registry, d / "node", SandboxClock(speed=1.0))
        print(f"registry fleet start: {fleet_start:.3f} s   kubelet start: {time.perf_counter() - t0:.3f} s")
        print(f"{'case':52} {'median':>8} {'max':>8}   ({ROUNDS} pods each)")
        try:
            for i, (label, image, auths, policy, milestone) in enumerate(CASES):
                secret = resources.lookup("", "v1", "secrets")
                if registry.find(secret, NS, "regcred") is not None:
                    registry.delete(secret, NS, "regcred")
                if auths:
                    cfg = {"auths": {h: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
                                     for h, (u, p) in auths.items()}}
                    registry.create(secret, NS, {"metadata": {"name": "regcred"},
                                                 "type": "kubernetes.io/dockerconfigjson",
                                                 "data": {".dockerconfigjson": base64.b64encode(
                                                     json.dumps(cfg).encode()).decode()}})
                times = await measure(registry, watch, label, image, auths, policy, milestone, i)
                print(f"{label:52} {statistics.median(times) * 1000:7.1f}ms {max(times) * 1000:7.1f}ms")
        finally:
            await node.stop()
            store.close()
            await asyncio.to_thread(fleet.stop)


if __name__ == "__main__":
    asyncio.run(main())
