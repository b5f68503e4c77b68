"""client-go's ``flowcontrol.Backoff`` as the kubelet uses it for image pulls.

The kubelet keys one back-off entry per ``<podUID>_<image as written>``: the first failed pull opens a 10 s
window, every further failure doubles it up to 300 s, and an entry untouched for twice the maximum is forgotten
(so a pod that has been failing for an hour and then gets a fixed secret starts again at 10 s). Time is whatever
clock is injected: the sandbox clock, which can run N times faster than real time for demos and be fast-forwarded.
Windows are judged when a pod worker syncs, and workers sleep on that clock, so after a fast-forward past a window
the next pull happens at once (and a jump of more than twice the maximum starts the back-off over at 10 s).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["IMAGE_BACKOFF_INITIAL", "IMAGE_BACKOFF_MAX", "Backoff", "image_backoff_key", "jitter"]

IMAGE_BACKOFF_INITIAL = 10.0  # pkg/kubelet/kubelet.go imageBackOffPeriod
IMAGE_BACKOFF_MAX = 300.0  # MaxImageBackOff


def image_backoff_key(pod_uid: str, image: str) -> str:
    """``fmt.Sprintf("%s_%s", pod.UID, requestedImage)``: per pod and per image string as written."""
    return f"{pod_uid}_{image}"


def jitter(duration: float, max_factor: float, rand: Callable[[], float] = random.random) -> float:
    """``wait.Jitter``: a duration between ``duration`` and ``duration * (1 + max_factor)``."""
    if max_factor <= 0:
        max_factor = 1.0
    return duration + rand() * max_factor * duration


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    """Per-key exponential back-off windows measured on ``clock`` (seconds)."""

    def __init__(self, initial: float, maximum: float, clock: Callable[[], float], *,
                 max_jitter_factor: float = 0.0, rand: Callable[[], float] = random.random) -> None:
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self.max_jitter_factor = max_jitter_factor
        self._rand = rand
        self._entries: dict[str, _Entry] = {}

    def _jitter(self, delay: float) -> float:
        return self._rand() * self.max_jitter_factor * delay if self.max_jitter_factor > 0 else 0.0

    def _expired(self, event_time: float, last_update: float) -> bool:
        # "consider stable if it's ok for twice the maxDuration"
        return event_time - last_update > self.maximum * 2

    def get(self, key: str) -> float:
        """The current window length for ``key`` (0 when there is none)."""
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def next(self, key: str, event_time: float | None = None) -> None:
        """Record a failure: open the first window or double the current one (capped at the maximum)."""
        now = self.clock() if event_time is None else event_time
        entry = self._entries.get(key)
        if entry is None or self._expired(now, entry.last_update):
            entry = self._entries[key] = _Entry(self.initial, now)
            entry.backoff += self._jitter(entry.backoff)
        else:
            entry.backoff = min(entry.backoff * 2 + self._jitter(entry.backoff), self.maximum)
        entry.last_update = self.clock() if event_time is None else event_time

    def is_in_backoff_since_update(self, key: str, event_time: float | None = None) -> bool:
        """Whether ``event_time`` falls inside the window that started at the last failure."""
        now = self.clock() if event_time is None else event_time
        entry = self._entries.get(key)
        if entry is None or self._expired(now, entry.last_update):
            return False
        return now - entry.last_update < entry.backoff

    def remaining(self, key: str, event_time: float | None = None) -> float:
        """Seconds until the window for ``key`` closes (0 when not in back-off)."""
        now = self.clock() if event_time is None else event_time
        if not self.is_in_backoff_since_update(key, now):
            return 0.0
        entry = self._entries[key]
        return entry.last_update + entry.backoff - now

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def gc(self) -> None:
        """Forget entries that have been quiet for twice the maximum window (``Backoff.GC``)."""
        now = self.clock()
        for key in [k for k, e in self._entries.items() if self._expired(now, e.last_update)]:
            del self._entries[key]

    def __contains__(self, key: str) -> bool:
        return key in self._entries
