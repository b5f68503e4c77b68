"""The sandbox clock: wall time that can run N times faster and be fast-forwarded, so 12-hour token expiry,
5-minute back-offs and CronJob schedules can be shown in a lesson.

Sandbox time is ``wall time + offset``; the offset grows when the clock runs faster than real time (``speed``)
and jumps on :meth:`SandboxClock.advance`. What expires or waits is judged on it (token expiry, back-offs,
schedules, deadlines); object and event timestamps stay on the wall clock, since kubectl counts ``describe``'s
ages on the user's clock. It must never go backwards: the offset is saved in the state directory
(``clock.json``, beside ``state.db``) and a restart, at any speed, resumes from it. It survives ``labctl sandbox
down``/``up`` like the objects do; ``reset`` wipes it with them.

Waiting on the clock goes through :meth:`SandboxClock.sleep`, which converts sandbox seconds to real ones and
wakes at once when the clock is advanced past the deadline; :meth:`SandboxClock.subscribe` tells plain callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .goduration import go_quote_duration, parse_duration_ns

__all__ = ["CLOCK_FILE", "SandboxClock", "go_quote_duration", "parse_duration", "rfc3339"]

log = logging.getLogger("labhelpers.sandbox.clock")

CLOCK_FILE = "clock.json"
PERSIST_SECONDS = 2.0  # real seconds between saves while the clock drifts from the wall clock (speed != 1)



def parse_duration(value: str | float | int) -> float:
    """Seconds from a Go duration string (``"12h"``, ``"1h30m"``, ``"45s"``) or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"a duration must be a string such as \"12h\" or a number of seconds, not {value}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"a duration must be a finite number of seconds, not {value}")
        return float(value)
    if isinstance(value, str):
        return parse_duration_ns(value) / 1e9
    raise ValueError(f"a duration must be a string such as \"12h\" or a number of seconds, not {type(value).__name__}")


def rfc3339(ts: float) -> str:
    """``time.RFC3339`` in UTC, whole seconds (how metav1.Time is written)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the clock -----------------------------------------------------------------------------------------------


class SandboxClock:
    """Sandbox seconds since the epoch: ``speed`` times real time, ``offset`` ahead of the wall clock at start.

    ``path`` is where the offset is saved (``<state>/clock.json``); without it nothing is persisted (tests).
    """

    def __init__(self, speed: float = 1.0, offset: float = 0.0, *, path: Path | None = None,
                 wall: Callable[[], float] = time.time, mono: Callable[[], float] = time.monotonic) -> None:
        if not (isinstance(speed, int | float) and math.isfinite(speed) and speed > 0):
            raise ValueError(f"the clock speed must be a positive number, not {speed!r}")
        self.speed = float(speed)
        self.path = Path(path) if path is not None else None
        self._wall = wall
        self._mono = mono
        self._anchor = (wall() + offset, mono())  # (sandbox time, monotonic time) replaced as one tuple
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self._listeners: list[Callable[[float], None]] = []
        self.advanced = 0.0  # sandbox seconds added by advance() since this process started

    # --- persistence ---

    @classmethod
    def load(cls, state_dir: Path | str, speed: float = 1.0, **kwargs: Any) -> SandboxClock:
        """The clock of a sandbox state directory: resumes where the last run left it, never earlier."""
        path = Path(state_dir) / CLOCK_FILE
        wall = kwargs.get("wall", time.time)
        offset = 0.0
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            saved = json.loads(path.read_text())
            offset = float(saved.get("offsetSeconds") or 0.0)
            # a crash may have stamped times up to the promised "notBefore": start there at the earliest
            offset = max(offset, float(saved.get("notBefore") or 0.0) - wall())
            if not math.isfinite(offset):
                offset = 0.0
        clock = cls(speed, offset, path=path, **kwargs)
        clock.save()
        return clock

    def save(self, lease: float = 0.0) -> None:
        """Write the offset (and a promise that sandbox time will not restart before ``now + lease`` real
        seconds' worth of sandbox time), atomically."""
        if self.path is None:
            return
        now = self.now()
        data = {"offsetSeconds": now - self._wall(), "notBefore": now + lease * self.speed, "speed": self.speed,
                "savedAt": rfc3339(now)}
        with self._lock:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2))
            tmp.replace(self.path)

    async def persist_forever(self, interval: float = PERSIST_SECONDS) -> None:
        """Keep the saved offset current while it drifts (speed != 1); cancel the task to stop."""
        if self.path is None or self.speed == 1.0:
            return
        while True:
            try:
                await asyncio.to_thread(self.save, 2 * interval)
            except OSError as e:  # state dir removed under us: nothing left to protect
                log.debug("clock not saved: %s", e)
                return
            await asyncio.sleep(interval)

    # --- reading ---

    def now(self) -> float:
        """Sandbox seconds since the epoch."""
        base, mono = self._anchor
        return base + (self._mono() - mono) * self.speed

    @property
    def offset(self) -> float:
        """How far sandbox time is ahead of the wall clock (seconds)."""
        return self.now() - self._wall()

    def real_seconds(self, sandbox_seconds: float) -> float:
        """How long to really wait for a sandbox duration to pass (unless the clock is advanced meanwhile)."""
        return sandbox_seconds / self.speed

    def state(self) -> dict[str, Any]:
        """What ``GET /lab/clock`` answers."""
        now = self.now()
        return {"now": rfc3339(now), "speed": self.speed, "offsetSeconds": round(now - self._wall(), 3)}

    # --- fast-forward ---

    def advance(self, seconds: float) -> float:
        """Move sandbox time forward by ``seconds`` (> 0): waiters and subscribers are woken. Returns the new
        sandbox time. The clock never goes back, so zero, negative and non-finite amounts are refused."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) \
                or seconds <= 0:
            raise ValueError(f"the sandbox clock only moves forward: advance by a positive duration, "
                             f"not {seconds!r} seconds")
        with self._lock:
            base, mono = self._anchor
            self._anchor = (base + seconds, mono)
            self.advanced += seconds
            waiters, self._waiters = self._waiters, set()
            listeners = list(self._listeners)
        self.save()
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_resolve, fut)
        for fn in listeners:
            try:
                fn(seconds)
            except Exception:
                log.exception("clock listener %r failed", fn)
        return self.now()

    def subscribe(self, fn: Callable[[float], None]) -> Callable[[], None]:
        """Call ``fn(seconds)`` after every advance (in the advancing thread); returns the unsubscribe."""
        with self._lock:
            self._listeners.append(fn)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(fn)

        return unsubscribe

    # --- waiting ---

    def _next_advance(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiters.add((loop, fut))
        return fut

    def _forget(self, fut: asyncio.Future[None]) -> None:
        with self._lock:
            self._waiters.discard((fut.get_loop(), fut))

    async def wait_advanced(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` real seconds for the next advance; whether one happened."""
        fut = self._next_advance()
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._forget(fut)

    async def sleep_until(self, deadline: float, wake: asyncio.Event | None = None) -> bool:
        """Wait until sandbox time reaches ``deadline`` (``inf``: forever) or ``wake`` is set. Returns True when
        the deadline was reached, False when woken. An advance past the deadline ends the wait at once."""
        while True:
            remaining = deadline - self.now()
            if remaining <= 0:
                return True
            if wake is not None and wake.is_set():
                return False
            fut = self._next_advance()
            pending: set[asyncio.Future[Any]] = {fut}
            waker = asyncio.ensure_future(wake.wait()) if wake is not None else None
            if waker is not None:
                pending.add(waker)
            try:
                await asyncio.wait(pending, timeout=None if math.isinf(remaining) else self.real_seconds(remaining),
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._forget(fut)
                fut.cancel()
                if waker is not None:
                    waker.cancel()

    async def sleep(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """:meth:`sleep_until` ``now + seconds`` (sandbox seconds)."""
        return await self.sleep_until(self.now() + seconds, wake)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
