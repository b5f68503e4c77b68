"""Run CNCF Distribution 2.8 (Debian's ``docker-registry``) as a foreground child process.

We never use the packaged systemd unit or ``/etc/docker/registry/config.yml`` (its ``htpasswd.path`` points at a
directory): each lab registry gets its own config, storage directory, log file and process group.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..processes import reap_stale, stale_pid

DEFAULT_BINARY = "/usr/bin/docker-registry"
API_VERSION_HEADER = "Docker-Distribution-Api-Version"


class RegistryStartError(RuntimeError):
    """The registry exited or never answered ``/v2/``; the message ends with the tail of its log."""


def registry_binary() -> str | None:
    """Path of the Distribution binary (``$LAB_DOCKER_REGISTRY`` overrides), or None if not installed."""
    env = os.environ.get("LAB_DOCKER_REGISTRY")
    if env:
        return env if os.access(env, os.X_OK) else None
    if os.access(DEFAULT_BINARY, os.X_OK):
        return DEFAULT_BINARY
    return shutil.which("docker-registry")


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just considered free. Racy by nature; :meth:`RegistryProcess.start` retries."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def reserve_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports. Sockets stay open until all are chosen: calling :func:`free_port`
    repeatedly can return the same port twice, because nothing has bound the first one yet."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _lost_port_race(log_tail: str) -> bool:
    return "address already in use" in log_tail


@dataclass(frozen=True)
class HtpasswdAuth:
    realm: str
    path: Path


@dataclass(frozen=True)
class TokenAuth:
    realm: str
    service: str
    issuer: str
    rootcertbundle: Path


def render_config(root: Path, port: int, auth: HtpasswdAuth | TokenAuth | None, *,
                  log_level: str = "info", secret: str = "lab-not-secret") -> str:
    """Distribution 2.8 config (``version: 0.1``) for a loopback-only, filesystem-backed registry."""
    cfg: dict = {
        "version": 0.1,
        "log": {"level": log_level, "formatter": "text", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(root)},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
            # The 8-minute upload purger is pointless for a lab and only adds log noise.
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": secret,
                 "headers": {"X-Content-Type-Options": ["nosniff"]}},
        "health": {"storagedriver": {"enabled": False}},
    }
    if isinstance(auth, HtpasswdAuth):
        cfg["auth"] = {"htpasswd": {"realm": auth.realm, "path": str(auth.path)}}
    elif isinstance(auth, TokenAuth):
        cfg["auth"] = {"token": {"realm": auth.realm, "service": auth.service, "issuer": auth.issuer,
                                 "rootcertbundle": str(auth.rootcertbundle)}}
    return yaml.safe_dump(cfg, sort_keys=False)


def _probe(port: int, timeout: float = 0.5) -> bool:
    """True once the port serves Distribution's API (any status, with its API-version header)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/v2/")
        resp = conn.getresponse()
        resp.read()
        return resp.getheader(API_VERSION_HEADER) == "registry/2.0"
    except OSError:
        return False
    finally:
        conn.close()


class RegistryProcess:
    """One ``docker-registry serve`` child in its own session (process group) with its own log file."""

    def __init__(self, name: str, state_dir: Path, auth: HtpasswdAuth | TokenAuth | None, *,
                 port: int | None = None, binary: str | None = None) -> None:
        self.name = name
        self.state_dir = Path(state_dir)
        self.auth = auth
        self.port = port
        self.binary = binary or registry_binary()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "config.yml"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "registry.log"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "registry.pid"

    def _stale_pid(self) -> int | None:
        """PID of a registry a previous, crashed session started on this state dir (if still running)."""
        return stale_pid(self.pid_path, self.config_path)

    def _reap_stale(self, timeout: float = 3.0) -> None:
        reap_stale(self.pid_path, self.config_path, timeout)

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"registry {self.name} has no port yet")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        """Write the config and start the process without waiting (so a fleet can start in parallel)."""
        if self.binary is None:
            raise RegistryStartError("docker-registry is not installed (apt-get install docker-registry)")
        if self.running:
            return
        if self.port is None:
            self.port = free_port()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        self._reap_stale()
        self.config_path.write_text(render_config(self.data_dir, self.port, self.auth))
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(
                [self.binary, "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                cwd=self.state_dir, start_new_session=True,
            )
        self.pid_path.write_text(f"{self.proc.pid}\n")

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        assert self.proc is not None and self.port is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RegistryStartError(
                    f"registry {self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if _probe(self.port):
                return
            time.sleep(0.005)
        raise RegistryStartError(f"registry {self.name} did not answer /v2/ within {timeout}s:\n{self.log_tail()}")

    def start(self, timeout: float = 10.0, attempts: int = 3) -> None:
        """Spawn and wait for ``/v2/``; on a lost port race pick another port and retry."""
        for attempt in range(attempts):
            self.spawn()
            try:
                self.wait_ready(timeout)
                return
            except RegistryStartError:
                lost_race = _lost_port_race(self.log_tail())
                self.stop()
                if not lost_race or attempt == attempts - 1:
                    raise
                self.port = free_port()

    def finish_start(self, timeout: float = 10.0) -> None:
        """Wait for a spawned process; if another program took its port meanwhile, move and retry."""
        try:
            self.wait_ready(timeout)
        except RegistryStartError:
            if not _lost_port_race(self.log_tail()):
                raise
            self.stop()
            self.port = free_port()
            self.start(timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def terminate(self) -> None:
        """Send SIGTERM without waiting (a fleet signals everyone first, then waits)."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)

    def stop(self, timeout: float = 3.0) -> None:
        """SIGTERM the process group, SIGKILL if it lingers; keeps the port so a restart reuses it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(timeout)
        self.proc = None
        self.pid_path.unlink(missing_ok=True)

    def kill(self) -> None:
        """Simulate a crash: SIGKILL, no graceful shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None
        self.pid_path.unlink(missing_ok=True)
