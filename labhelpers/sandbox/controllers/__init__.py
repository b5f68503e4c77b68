"""The sandbox's kube-controller-manager: namespaces, garbage collection, Deployments, ReplicaSets, Jobs,
CronJobs, and the event recorder they share.

Store writes call ``registry.on_event`` listeners synchronously, so the listener only queues the event; the
manager's loop turns events into per-controller work keys, reconciles each key on its own (an error is logged
and retried with exponential back-off, never fatal) and also wakes up for time-based work: a reconcile may
return "come back in N seconds" on the injected clock, which can run faster than real time. Given the
:class:`~labhelpers.sandbox.clock.SandboxClock` itself, the loop sleeps exactly until the next due key and
wakes at once when the clock is fast-forwarded (what a controller-manager does after a clock jump, without
waiting for its next resync).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Protocol

from ..apiserver.errors import ApiError
from ..apiserver.objects import Registry
from ..apiserver.store import WatchEvent
from ..clock import SandboxClock
from . import namespace
from .common import Context, Key
from .cronjob import CronJobController
from .deployment import DeploymentController
from .events import EventRecorder
from .garbagecollector import GarbageCollector
from .job import JobController
from .replicaset import PodControlError, ReplicaSetController

log = logging.getLogger("labhelpers.sandbox.controllers")

__all__ = ["ControllerManager", "EventRecorder"]

TICK_SECONDS = 0.5  # real seconds between checks for due (time-based) work
MIN_WAIT_SECONDS = 0.05  # ... and at least this long, so that a key due again at once cannot spin the loop
FULL_RESYNC_SECONDS = 30.0  # real seconds between re-listing everything (the informers' resync)
BACKOFF_BASE = 0.005  # workqueue.DefaultControllerRateLimiter: 5 ms doubling ...
BACKOFF_MAX = 1000.0  # ... up to 1000 s
_CLOCK_ADVANCED = WatchEvent("CLOCK", "", "", {}, 0)  # queued by a clock advance: only wakes the loop


class Controller(Protocol):
    name: str

    def keys_for(self, ev: WatchEvent) -> Iterable[Key]: ...

    def resync_keys(self) -> Iterable[Key]: ...

    def reconcile(self, key: Key) -> float | None: ...


class ControllerManager:
    def __init__(self, registry: Registry, clock: Callable[[], float] | SandboxClock = time.time, *,
                 root_ca_pem: str | None = None):
        """``clock``: a ``() -> seconds`` function, or the sandbox clock (then advances wake the loop).
        ``root_ca_pem``: the API server's CA certificate, published in every namespace as kube-root-ca.crt."""
        self.registry = registry
        self.sandbox_clock = clock if isinstance(clock, SandboxClock) else None
        clock = clock.now if isinstance(clock, SandboxClock) else clock
        self.clock = clock
        self.recorder = EventRecorder(registry)
        self.ctx = Context(registry, clock, self.recorder, root_ca_pem)
        self.controllers: list[Controller] = [
            namespace.NamespaceController(self.ctx),
            GarbageCollector(self.ctx),
            DeploymentController(self.ctx),
            ReplicaSetController(self.ctx),
            JobController(self.ctx),
            CronJobController(self.ctx),
        ]
        self._events: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self._dirty: dict[str, dict[Hashable, None]] = {c.name: {} for c in self.controllers}
        self._due: dict[tuple[str, Hashable], float] = {}
        self._failures: dict[tuple[str, Hashable], int] = {}
        self._stopped = False
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        registry.on_event(self._on_event)

    # --- feeding ---

    def _on_event(self, ev: WatchEvent) -> None:
        """Called inside store writes: queue only, never touch the store here."""
        if not self._stopped:
            self._events.put_nowait(ev)

    def _drain(self) -> None:
        while not self._events.empty():
            self._enqueue(self._events.get_nowait())

    def _enqueue(self, ev: WatchEvent) -> None:
        if ev is _CLOCK_ADVANCED:
            return
        for c in self.controllers:
            try:
                for key in c.keys_for(ev):
                    self._dirty[c.name][key] = None
            except Exception:
                log.exception("%s: mapping a %s event failed", c.name, ev.type)

    def resync(self) -> None:
        """Queue every object each controller owns (what an informer resync does)."""
        for c in self.controllers:
            try:
                for key in c.resync_keys():
                    self._dirty[c.name][key] = None
            except Exception:
                log.exception("%s: resync failed", c.name)

    def start(self) -> None:
        """Queue a full resync, which also creates the system namespaces (after a restart, everything is
        reconciled again)."""
        if not self._started:
            self._started = True
            self.resync()

    # --- processing ---

    def _take_work(self) -> list[tuple[Controller, Hashable]]:
        self._drain()
        now = self.clock()
        for (cname, key), due in list(self._due.items()):
            if due <= now:
                del self._due[(cname, key)]
                self._dirty[cname][key] = None
        work = []
        for c in self.controllers:
            keys = self._dirty[c.name]
            work.extend((c, k) for k in keys)
            keys.clear()
        return work

    def _reconcile(self, c: Controller, key: Hashable) -> None:
        item = (c.name, key)
        try:
            after = c.reconcile(key)  # type: ignore[arg-type]
        except Exception as e:
            n = self._failures.get(item, 0) + 1
            self._failures[item] = n
            if isinstance(e, ApiError | PodControlError):
                log.info("%s %s: %s (retry %d)", c.name, key, e, n)
            else:
                log.warning("%s %s failed (retry %d): %s", c.name, key, n, e,
                            exc_info=not isinstance(e, RuntimeError))
            self._schedule(item, min(BACKOFF_BASE * 2 ** (n - 1), BACKOFF_MAX))
            return
        self._failures.pop(item, None)
        if after is not None:
            self._schedule(item, max(after, 0.0))

    def _schedule(self, item: tuple[str, Hashable], after: float) -> None:
        due = self.clock() + after
        self._due[item] = min(due, self._due.get(item, due))

    def step(self) -> int:
        """One round: reconcile every queued and due key once. Returns how many were processed."""
        work = self._take_work()
        for c, key in work:
            self._reconcile(c, key)
        return len(work)

    def sync_until_idle(self, max_rounds: int = 200) -> None:
        """Run rounds until no work is queued (tests and one-shot tools); time-based work runs only when due."""
        for _ in range(max_rounds):
            if self.step() == 0 and self._events.empty():
                return
        raise RuntimeError(f"controllers did not settle within {max_rounds} rounds")

    def next_due(self) -> float | None:
        """Sandbox time of the earliest scheduled reconcile, if any."""
        return min(self._due.values(), default=None)

    def _wait_seconds(self) -> float:
        """Real seconds until the loop must look again: the next due key (on a known clock) or the tick."""
        due = self.next_due()
        if due is None or self.sandbox_clock is None:
            return TICK_SECONDS
        return min(TICK_SECONDS, max(self.sandbox_clock.real_seconds(due - self.clock()), MIN_WAIT_SECONDS))

    def _clock_advanced(self, _seconds: float) -> None:
        """Clock listener (any thread): due times are sandbox times, so just look at them again now."""
        if not self._stopped and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._events.put_nowait, _CLOCK_ADVANCED)

    async def run(self) -> None:
        self.start()
        self._loop = asyncio.get_running_loop()
        unsubscribe = self.sandbox_clock.subscribe(self._clock_advanced) if self.sandbox_clock else None
        try:
            await self._run()
        finally:
            if unsubscribe is not None:
                unsubscribe()

    async def _run(self) -> None:
        last_full = time.monotonic()
        while not self._stopped:
            try:
                ev = await asyncio.wait_for(self._events.get(), timeout=self._wait_seconds())
                if self._stopped:
                    break
                self._enqueue(ev)
            except TimeoutError:
                pass
            if self._stopped:
                break
            if time.monotonic() - last_full >= FULL_RESYNC_SECONDS:
                last_full = time.monotonic()
                self.resync()
            for c, key in self._take_work():
                self._reconcile(c, key)
                await asyncio.sleep(0)  # let API requests in between reconciles

    def stop(self) -> None:
        self._stopped = True
        with contextlib.suppress(ValueError):
            self.registry.store.listeners.remove(self._on_event)
        self._events.put_nowait(WatchEvent("STOP", "", "", {}, 0))
