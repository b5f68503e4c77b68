"""Run a real Notary v1 service (Debian's ``notary-server`` + ``notary-signer``) as foreground children.

The topology is the one Docker Hub ran behind ``notary.docker.io``: notary-server answers the TUF HTTP API
over HTTPS and asks notary-signer, over mutually authenticated gRPC, to create and use the timestamp and
snapshot keys it holds for every repository. ``signer="local"`` swaps the signer for the server's built-in
in-memory signer (ED25519 keys instead of ECDSA), which is how Notary's own quick-start runs.

Storage is ``memory`` in both processes: Debian's build has no sqlite3 driver and MySQL/PostgreSQL are out of
scope for a lab, so trust data lives as long as the processes do. Authentication is off.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from labhelpers.sandbox.registries.distribution import reserve_ports

from ...sandbox.processes import reap_stale, stale_pid
from .tls import NotaryPki, ensure_pki

__all__ = ["PUBLIC_NOTARY_URL", "NotaryService", "NotaryStartError", "notary_binaries"]

PUBLIC_NOTARY_URL = "https://notary.docker.io"
HEALTH_PATH = "/_notary_server/health"
SIGNER_ALIAS = "lab"  # notary-signer encrypts keys at rest with $NOTARY_SIGNER_LAB
SignerMode = Literal["remote", "local"]


class NotaryStartError(RuntimeError):
    """A Notary process exited or never became ready; the message ends with the tail of its log."""


def _binary(env: str, name: str) -> str | None:
    override = os.environ.get(env)
    if override:
        return override if os.access(override, os.X_OK) else None
    default = f"/usr/bin/{name}"
    return default if os.access(default, os.X_OK) else shutil.which(name)


def notary_binaries() -> dict[str, str | None]:
    """Paths of ``notary-server``, ``notary-signer`` and the ``notary`` client (None when missing).

    ``$LAB_NOTARY_SERVER``, ``$LAB_NOTARY_SIGNER`` and ``$LAB_NOTARY`` override the lookup.
    """
    return {"notary-server": _binary("LAB_NOTARY_SERVER", "notary-server"),
            "notary-signer": _binary("LAB_NOTARY_SIGNER", "notary-signer"),
            "notary": _binary("LAB_NOTARY", "notary")}


@dataclass
class _Child:
    """One Notary process in its own session, with a config file, a log file and a pidfile."""

    name: str
    binary: str
    config_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.config_path.with_suffix(".log")

    @property
    def pid_path(self) -> Path:
        return self.config_path.with_suffix(".pid")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _stale_pid(self) -> int | None:
        """A process a crashed session left behind on this config (pidfile *and* cmdline must match)."""
        return stale_pid(self.pid_path, self.config_path)

    def reap_stale(self, timeout: float = 3.0) -> None:
        reap_stale(self.pid_path, self.config_path, timeout)

    def spawn(self, config: dict[str, Any]) -> None:
        self.reap_stale()
        self.config_path.write_text(json.dumps(config, indent=2) + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARY_")} | self.env
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen([self.binary, "-config", str(self.config_path)],
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                         cwd=self.config_path.parent, env=env, start_new_session=True)
        self.pid_path.write_text(f"{self.proc.pid}\n")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise NotaryStartError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def _signal(self, sig: int) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 3.0, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(timeout)
        self.proc = None
        self.pid_path.unlink(missing_ok=True)


def _tcp_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _lost_port_race(child: _Child) -> bool:
    return "address already in use" in child.log_tail()


class NotaryService:
    """notary-server (+ notary-signer) on 127.0.0.1 with generated TLS; ``start`` -> ``.url`` -> ``stop``."""

    def __init__(self, *, signer: SignerMode = "remote", gun_prefixes: Sequence[str] | None = None,
                 log_level: str = "info") -> None:
        self.signer_mode: SignerMode = signer
        self.gun_prefixes = list(gun_prefixes) if gun_prefixes else None
        self.log_level = log_level
        self.state_dir: Path | None = None
        self.pki: NotaryPki | None = None
        self.port: int | None = None
        self.signer_port: int | None = None
        self._server: _Child | None = None
        self._signer: _Child | None = None
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------------------------ properties

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``: what a lab client passes as ``DOCKER_CONTENT_TRUST_SERVER``."""
        if self.port is None:
            raise RuntimeError("notary service is not started")
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The CA a client must trust (Docker: ``~/.docker/tls/<host>/ca.crt``; notary: ``--tlscacert``)."""
        if self.pki is None:
            raise RuntimeError("notary service is not started")
        return self.pki.ca_cert

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running and (
            self._signer is None or self._signer.running)

    @property
    def pids(self) -> dict[str, int]:
        return {c.name: c.proc.pid for c in (self._signer, self._server) if c is not None and c.proc is not None}

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    # ------------------------------------------------------------------------------------ lifecycle

    def start(self, state_dir: str | Path, *, timeout: float = 10.0, attempts: int = 3) -> NotaryService:
        """Generate TLS material and configs under ``state_dir`` and start both processes.

        A warm ``state_dir`` keeps its CA; restarting the same object keeps its URL. Trust data does not
        survive a restart (memory storage), but clients' caches do: the lab can show TOFU at work.
        """
        if self.running:
            raise RuntimeError("notary service already started")
        bins = notary_binaries()
        if bins["notary-server"] is None or (self.signer_mode == "remote" and bins["notary-signer"] is None):
            raise NotaryStartError("notary-server/notary-signer are not installed (apt-get install notary)")
        t0 = time.perf_counter()
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.pki = ensure_pki(self.state_dir / "tls")
        t1 = time.perf_counter()
        for attempt in range(attempts):
            if attempt or self.port is None or self.signer_port is None:
                self.port, self.signer_port = reserve_ports(2)  # a restart first tries its old ports
            try:
                self._spawn(bins, timeout)
                break
            except NotaryStartError:
                lost = any(c is not None and _lost_port_race(c) for c in (self._server, self._signer))
                self.stop()
                if not lost or attempt == attempts - 1:
                    raise
        self.timings = {"pki": t1 - t0, "processes": time.perf_counter() - t1, "total": time.perf_counter() - t0}
        atexit.register(self.stop)
        return self

    def _spawn(self, bins: dict[str, str | None], timeout: float) -> None:
        assert self.state_dir is not None and self.pki is not None and self.port and self.signer_port
        deadline = time.monotonic() + timeout
        if self.signer_mode == "remote":
            signer_bin = bins["notary-signer"]
            assert signer_bin is not None
            self._signer = _Child("notary-signer", signer_bin, self.state_dir / "signer.json",
                                  {f"NOTARY_SIGNER_{SIGNER_ALIAS.upper()}": secrets.token_urlsafe(24)})
            self._signer.spawn(self.signer_config())
            while not _tcp_open(self.signer_port):
                self._signer.check_alive()
                if time.monotonic() > deadline:
                    raise NotaryStartError(f"notary-signer did not listen within {timeout}s:\n"
                                           f"{self._signer.log_tail()}")
                time.sleep(0.005)
        server_bin = bins["notary-server"]
        assert server_bin is not None
        self._server = _Child("notary-server", server_bin, self.state_dir / "server.json")
        self._server.spawn(self.server_config())
        while not self.healthy():
            self._server.check_alive()
            if time.monotonic() > deadline:
                raise NotaryStartError(f"notary-server did not answer {HEALTH_PATH} within {timeout}s:\n"
                                       f"{self._server.log_tail()}")
            time.sleep(0.005)

    def stop(self) -> None:
        """SIGTERM both process groups (server first); safe to call twice."""
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        for child in (self._server, self._signer):
            if child is not None:
                child.stop()

    def kill(self) -> None:
        """Simulate a crash of the whole service (SIGKILL, no graceful shutdown)."""
        for child in (self._server, self._signer):
            if child is not None:
                child.stop(sig=signal.SIGKILL)

    def __enter__(self) -> NotaryService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------ configs

    def server_config(self) -> dict[str, Any]:
        """notary-server's JSON config (docs/reference/server-config.md); paths are absolute."""
        assert self.pki is not None and self.port is not None
        trust: dict[str, Any]
        if self.signer_mode == "remote":
            trust = {"type": "remote", "hostname": "127.0.0.1", "port": str(self.signer_port),
                     "key_algorithm": "ecdsa", "tls_ca_file": str(self.pki.ca_cert),
                     "tls_client_cert": str(self.pki.server_cert), "tls_client_key": str(self.pki.server_key)}
        else:
            trust = {"type": "local", "key_algorithm": "ecdsa"}
        cfg: dict[str, Any] = {
            "server": {"http_addr": f"127.0.0.1:{self.port}", "tls_cert_file": str(self.pki.server_cert),
                       "tls_key_file": str(self.pki.server_key)},
            "trust_service": trust,
            "storage": {"backend": "memory"},
            "logging": {"level": self.log_level},
        }
        if self.gun_prefixes:
            cfg["repositories"] = {"gun_prefixes": self.gun_prefixes}
        return cfg

    def signer_config(self) -> dict[str, Any]:
        """notary-signer's JSON config: gRPC on loopback, only clients with a cert from our CA."""
        assert self.pki is not None and self.signer_port is not None
        return {
            "server": {"grpc_addr": f"127.0.0.1:{self.signer_port}", "tls_cert_file": str(self.pki.signer_cert),
                       "tls_key_file": str(self.pki.signer_key), "client_ca_file": str(self.pki.ca_cert)},
            "logging": {"level": self.log_level},
            "storage": {"backend": "memory", "default_alias": SIGNER_ALIAS},
        }

    # ------------------------------------------------------------------------------------ queries

    def healthy(self, timeout: float = 0.5) -> bool:
        """True when ``GET /_notary_server/health`` answers 200 over TLS (it does not probe the signer)."""
        if self.port is None or self.pki is None:
            return False
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.ssl_context())
        try:
            conn.request("GET", HEALTH_PATH)
            resp = conn.getresponse()
            resp.read()
            return resp.status == 200
        except (OSError, ssl.SSLError):
            return False
        finally:
            conn.close()

    def log_tail(self, lines: int = 20) -> dict[str, str]:
        return {c.name: c.log_tail(lines) for c in (self._signer, self._server) if c is not None}

    def info(self) -> dict[str, Any]:
        """What ``labctl sandbox info`` shows under ``notary``."""
        assert self.state_dir is not None
        out: dict[str, Any] = {"url": self.url, "public_url": PUBLIC_NOTARY_URL, "ca": str(self.ca_file),
                               "signer": self.signer_mode, "storage": "memory", "auth": None,
                               "running": self.running, "pids": self.pids,
                               "logs": {c.name: str(c.log_path) for c in (self._signer, self._server)
                                        if c is not None}}
        if self.signer_port is not None and self.signer_mode == "remote":
            out["signer_grpc"] = f"127.0.0.1:{self.signer_port}"
        if self.gun_prefixes:
            out["gun_prefixes"] = self.gun_prefixes
        return out
