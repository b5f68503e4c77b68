"""Child servers left behind by a crashed session (registries, Notary): find them and stop them.

A pidfile alone could name a recycled PID, so a process only counts as ours while its command line still
names our config file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def stale_pid(pid_path: Path, config_path: Path) -> int | None:
    """The PID in ``pid_path`` if that process is still serving ``config_path``."""
    try:
        pid = int(pid_path.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(config_path).encode() in cmdline else None


def reap_stale(pid_path: Path, config_path: Path, timeout: float = 3.0) -> None:
    """Stop such a leftover: SIGTERM to its process group, SIGKILL if it outlives ``timeout``."""
    pid = stale_pid(pid_path, config_path)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while stale_pid(pid_path, config_path) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    if stale_pid(pid_path, config_path) is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
