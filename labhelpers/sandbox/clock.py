"""The sandbox clock: wall time that can run N times faster, so 12-hour token expiry and 5-minute back-offs
can be shown in a lesson. It starts at the real time and only its rate differs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class SandboxClock:
    speed: float = 1.0
    _origin_real: float = field(default_factory=time.time)
    _origin_mono: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        """Sandbox seconds since the epoch."""
        return self._origin_real + (time.monotonic() - self._origin_mono) * self.speed

    def real_seconds(self, sandbox_seconds: float) -> float:
        """How long to really wait for a sandbox duration to pass."""
        return sandbox_seconds / self.speed
