"""Lifecycle of the sandbox: start it in the background, find it again, stop it, wipe it.

All state lives in one directory (default ``~/.local/state/labhelpers/sandbox``) so that several sandboxes can
coexist (tests, graders) and ``reset`` is just removing that directory.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import pki

DEFAULT_DIR = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "labhelpers" / "sandbox"
CONTEXT = "lab-sandbox"
USER = "lab-user"


class SandboxError(RuntimeError):
    pass


def default_dir() -> Path:
    """$LABHELPERS_SANDBOX_DIR, else the sandbox whose kubeconfig $KUBECONFIG names, else the default."""
    env = os.environ.get("LABHELPERS_SANDBOX_DIR")
    if env:
        return Path(env)
    kubeconfig = os.environ.get("KUBECONFIG", "")
    if kubeconfig and os.pathsep not in kubeconfig:
        parent = Path(kubeconfig).expanduser().parent
        if (parent / "token").exists() and (parent / "config.json").exists():
            return parent
    return DEFAULT_DIR


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@dataclass
class Sandbox:
    dir: Path

    def __init__(self, dir: Path | str | None = None):
        self.dir = Path(dir).expanduser().resolve() if dir else default_dir()

    # --- paths ---

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def log_file(self) -> Path:
        return self.dir / "sandbox.log"

    def _server_info(self) -> dict | None:
        try:
            return json.loads((self.dir / "server.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _config(self) -> dict:
        try:
            return json.loads((self.dir / "config.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    # --- state ---

    def running(self) -> dict | None:
        """The live server's info, or None; verifies the process answers, not just that a pid file exists."""
        info = self._server_info()
        if not info or not _pid_alive(info["pid"]):
            return None
        try:
            with urllib.request.urlopen(info["api_url"] + "/readyz", timeout=2,
                                        context=pki.client_context(self.dir)) as r:
                if r.status == 200:
                    return info
        except OSError:
            return None
        return None

    def up(self, clock_speed: float = 1.0, timeout: float = 30.0) -> dict:
        """Start the sandbox if it is not running (idempotent) and return its info."""
        info = self.running()
        if info:
            return self.info()
        self.dir.mkdir(parents=True, exist_ok=True)
        token_file = self.dir / "token"
        if not token_file.exists():
            token_file.write_text(secrets.token_urlsafe(32))
            token_file.chmod(0o600)
        pki.ensure(self.dir)
        cfg = self._config()
        port = cfg.get("port")
        if not port or not _port_free(port):
            port = _free_port()
        cfg.update(port=port, clock_speed=clock_speed)
        (self.dir / "config.json").write_text(json.dumps(cfg, indent=2))
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "server.json").unlink()
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "labhelpers.sandbox.server", "--dir", str(self.dir), "--port", str(port),
                 "--clock-speed", str(clock_speed)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SandboxError(f"the sandbox exited with code {proc.returncode}; see {self.log_file}:\n"
                                   + self._log_tail())
            if self.running():
                self._write_kubeconfig()
                return self.info()
            time.sleep(0.02)
        proc.terminate()
        raise SandboxError(f"the sandbox did not become ready in {timeout:.0f}s; see {self.log_file}")

    def _log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""

    def down(self, timeout: float = 10.0) -> bool:
        """Stop every process the sandbox started. Returns whether one was running."""
        info = self._server_info()
        if not info or not _pid_alive(info["pid"]):
            with contextlib.suppress(FileNotFoundError):
                (self.dir / "server.json").unlink()
            return False
        pid = info["pid"]
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.05)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        # The server's children (registries etc.) share its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "server.json").unlink()
        return True

    def reset(self) -> None:
        """Stop the sandbox and wipe its state (objects, registries, keys)."""
        self.down()
        if self.dir.exists():
            shutil.rmtree(self.dir)

    def status(self) -> dict:
        info = self.running()
        return {"running": bool(info), "dir": str(self.dir), **({"api_url": info["api_url"], "pid": info["pid"]}
                                                                 if info else {})}

    def env_line(self) -> str:
        return f"export KUBECONFIG={self.kubeconfig}"

    def info(self) -> dict:
        live = self.running()
        out: dict = {"dir": str(self.dir), "kubeconfig": str(self.kubeconfig), "running": bool(live),
                     "context": CONTEXT}
        if live:
            out["api_url"] = live["api_url"]
            out["pid"] = live["pid"]
            out["clock_speed"] = live.get("clock_speed", 1.0)
            extra = self.dir / "services.json"
            if extra.exists():
                out.update(json.loads(extra.read_text()))
        return out

    # --- the clock ---

    def clock(self) -> dict:
        """The running sandbox's clock: ``{"now": RFC3339, "speed": N, "offsetSeconds": S}`` (sandbox time is the
        wall clock plus ``offsetSeconds``)."""
        from .admin import clock_info

        return clock_info(self.dir)

    def advance_clock(self, duration: str | float) -> dict:
        """Fast-forward sandbox time by ``duration`` (a Go duration such as ``"12h"``, or seconds) and return the
        new clock state. Expiry, back-offs and schedules react at once; the sandbox time never goes back."""
        from .admin import advance_clock

        return advance_clock(self.dir, duration)

    def _write_kubeconfig(self) -> None:
        live = self._server_info()
        assert live
        token = (self.dir / "token").read_text().strip()
        # Keep the namespace a learner set with `kubectl config set-context --current --namespace=...`.
        namespace = None
        with contextlib.suppress(FileNotFoundError, yaml.YAMLError, KeyError, TypeError, IndexError):
            old = yaml.safe_load(self.kubeconfig.read_text())
            namespace = old["contexts"][0]["context"].get("namespace")
        ctx: dict = {"cluster": CONTEXT, "user": USER}
        if namespace:
            ctx["namespace"] = namespace
        kc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {
                "server": live["api_url"],
                "certificate-authority-data": base64.b64encode((self.dir / pki.CA_CERT).read_bytes()).decode()}}],
            "users": [{"name": USER, "user": {"token": token}}],
            "contexts": [{"name": CONTEXT, "context": ctx}],
            "current-context": CONTEXT,
            "preferences": {},
        }
        tmp = self.kubeconfig.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(kc, sort_keys=False))
        tmp.chmod(0o600)
        tmp.replace(self.kubeconfig)
