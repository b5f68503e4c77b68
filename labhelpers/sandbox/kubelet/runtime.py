"""A tiny container runtime for the sandbox kubelet. THIS IS AN EMULATION: commands run as ordinary processes
on the lab machine, not in containers.

There is no image filesystem, no namespace and no cgroup: a container of an image the lab knows (see
:mod:`.commands`: ``curlimages/curl``, ``busybox``) runs the lab machine's own ``sh``, ``curl``,
``echo``... with the environment a real container would get, in a working directory of its own under the
kubelet's state directory. ``ls /`` shows the lab machine's files; ``curl`` sees the lab registries under their
public names through :class:`~.podnet.PodNetwork`. Containers of other images (nginx, the lab's app images)
are not run at all and keep the old behaviour: Running, no process, empty logs.

What is faithful is the contract around the process: argv from ENTRYPOINT/CMD and command/args; stdout and
stderr into a CRI log file (what ``kubectl logs`` reads); a pty for ``tty: true`` and a pipe for ``stdin:
true`` that ``kubectl attach`` connects to (``stdinOnce`` closes it after the first attach); ``exec`` of a
further process with the container's environment; exit codes (signals as 128+n); and killing: SIGTERM to the
container's process group, SIGKILL after the grace period. Every process is in a session of its own and is
SIGKILLed by the kernel if the sandbox dies; :meth:`ContainerRuntime.reap_orphans` removes leftovers of a
previous run by their working directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import struct
import sys
import termios
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .commands import (
    ExecNotFound,
    ImageProfile,
    Launch,
    container_env,
    effective_argv,
    expand,
    profile_for,
    resolve,
)
from .crilog import CriLogWriter

__all__ = ["DRAIN_SECONDS", "ContainerPlan", "ContainerProcess", "ContainerRuntime", "ExecNotFound",
           "exit_code_of", "start_error_message", "exec_error_message"]

log = logging.getLogger("labhelpers.sandbox.kubelet.runtime")

LAUNCHER = Path(__file__).with_name("launch.py")
DRAIN_SECONDS = 0.5  # how long output may still arrive after the process exited (a background child's)
_READ = 65536


def exit_code_of(returncode: int) -> int:
    """The CRI exit code: a process killed by signal N exits 128+N (137 for SIGKILL)."""
    return 128 - returncode if returncode < 0 else returncode


def start_error_message(err: ExecNotFound) -> str:
    """containerd 1.7's StartContainer error when runc cannot exec the container's process."""
    return ("failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create "
            f"failed: unable to start container process: {err}: unknown")


def exec_error_message(err: ExecNotFound) -> str:
    """containerd 1.7's ExecSync/Exec error for a program the container does not have."""
    return (f'failed to exec in container: failed to start exec "{secrets.token_hex(32)}": OCI runtime exec '
            f"failed: exec failed: unable to start container process: {err}: unknown")


@dataclass
class ContainerPlan:
    """How to run one container: its image profile, process args (before the entrypoint script), env, stdio."""

    profile: ImageProfile
    argv: list[str]
    env: dict[str, str]
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False


Output = Callable[[str, bytes], None]  # (stream "stdout"|"stderr", data)


@dataclass(eq=False)
class ContainerProcess:
    """A running process (a container's main process or an exec'd one) with its stdio and listeners."""

    container_id: str
    proc: asyncio.subprocess.Process
    tty: bool
    stdin_fd: int | None  # pty master or pipe write end; None when stdin is /dev/null
    stdin_once: bool = False
    log: CriLogWriter | None = None
    exit_code: int | None = None
    listeners: list[Output] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    _open_readers: int = 0
    _read_fds: list[int] = field(default_factory=list)
    _closed_stdin: bool = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.exit_code is None

    # --- output ---

    def _emit(self, stream: str, data: bytes) -> None:
        if self.log is not None:
            self.log.write(stream, data)
        for listener in list(self.listeners):
            try:
                listener(stream, data)
            except Exception:
                log.exception("output listener failed")

    def _watch(self, fd: int, stream: str) -> None:
        os.set_blocking(fd, False)
        self._read_fds.append(fd)
        self._open_readers += 1
        loop = asyncio.get_running_loop()

        def readable() -> None:
            try:
                data = os.read(fd, _READ)
            except BlockingIOError:
                return
            except OSError as e:  # EIO: the pty's other side is gone
                if e.errno not in (errno.EIO, errno.EBADF):
                    log.warning("reading %s of %s: %s", stream, self.container_id[:12], e)
                data = b""
            if data:
                self._emit(stream, data)
                return
            self._close_reader(fd)

        loop.add_reader(fd, readable)

    def _close_reader(self, fd: int) -> None:
        if fd not in self._read_fds:
            return
        self._read_fds.remove(fd)
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(fd)
        if not (self.tty and fd == self.stdin_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._open_readers -= 1

    # --- input ---

    def write_stdin(self, data: bytes) -> None:
        if self.stdin_fd is None or self._closed_stdin or not data:
            return
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.stdin_fd, view):]
        except BlockingIOError:
            log.debug("stdin of %s is full: input dropped", self.container_id[:12])
        except OSError:
            pass

    def close_stdin(self) -> None:
        """EOF on stdin: the pipe closes; on a pty the terminal's EOF character is sent."""
        if self.stdin_fd is None or self._closed_stdin:
            return
        if self.tty:
            self.write_stdin(b"\x04")
        else:
            with contextlib.suppress(OSError):
                os.close(self.stdin_fd)
        self._closed_stdin = True

    def resize(self, width: int, height: int) -> None:
        if self.tty and self.stdin_fd is not None and width > 0 and height > 0:
            with contextlib.suppress(OSError):
                fcntl.ioctl(self.stdin_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    # --- end ---

    def signal(self, sig: int) -> None:
        """Signal the process group (the process and everything it started)."""
        if not self.running:
            return
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:  # not yet in its own group (setsid pending) or already gone
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
        except PermissionError:
            pass

    async def _reap(self, on_exit: Callable[[int], None] | None) -> None:
        code = exit_code_of(await self.proc.wait())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_SECONDS
        while self._open_readers and loop.time() < deadline:
            await asyncio.sleep(0.01)
        if self._open_readers and not self.tty:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)  # a background child keeping the pipes open
        for fd in list(self._read_fds):
            self._close_reader(fd)
        if self.stdin_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.stdin_fd)
            self._closed_stdin = True
        if self.log is not None:
            self.log.close()
        self.exit_code = code
        self.done.set()
        if on_exit is not None:
            try:
                on_exit(code)
            except Exception:
                log.exception("exit callback failed")

    async def wait(self) -> int:
        await self.done.wait()
        assert self.exit_code is not None
        return self.exit_code

    async def terminate(self, grace: float) -> int:
        """SIGTERM, then SIGKILL once ``grace`` real seconds have passed."""
        if self.running:
            self.signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.done.wait()), max(grace, 0.0))
            if self.running:
                self.signal(signal.SIGKILL)
        return await self.wait()


class ContainerRuntime:
    """Processes of the node's containers, by container ID, in working directories under ``root``."""

    def __init__(self, root: Path, curl_home: Path | None = None) -> None:
        self.root = root
        self.curl_home = curl_home
        self.processes: dict[str, ContainerProcess] = {}
        self.before_start: Callable[[], None] | None = None  # e.g. refresh the pod network's view
        self._execs: set[ContainerProcess] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- planning ---

    def workdir(self, container_id: str) -> Path:
        return self.root / "containers" / container_id.rsplit("/", 1)[-1][:12]

    def plan(self, pod: Mapping[str, Any], container: Mapping[str, Any],
             lookup: Callable[[str, str], Mapping[str, Any] | None], *, pod_ip: str = "") -> ContainerPlan | None:
        """The plan for ``container``, or None when its image is not one the runtime can run."""
        profile = profile_for(str(container.get("image") or ""))
        if profile is None:
            return None
        env = container_env(pod, container, profile, lookup, pod_ip=pod_ip)
        argv = effective_argv(profile.entrypoint, profile.cmd, container.get("command"), container.get("args"))
        argv = [expand(a, env) for a in argv]
        return ContainerPlan(profile, argv, env, tty=bool(container.get("tty")), stdin=bool(container.get("stdin")),
                             stdin_once=bool(container.get("stdinOnce")))

    def _extra_env(self, home: Path) -> dict[str, str]:
        extra = {"HOME": str(home)}
        if self.curl_home is not None:
            extra["CURL_HOME"] = str(self.curl_home)
        return extra

    # --- processes ---

    async def _spawn(self, container_id: str, launch: Launch, env: Mapping[str, str], cwd: Path, *, tty: bool,
                     stdin: bool, log_path: Path | None) -> ContainerProcess:
        cwd.mkdir(parents=True, exist_ok=True)
        unset = [arg for name in ("LC_CTYPE",) if name not in env for arg in ("--unset", name)]
        args = [sys.executable, "-I", "-S", str(LAUNCHER), *(["--tty"] if tty else []), *unset, launch.program,
                *launch.argv]
        to_close: list[int] = []
        if tty:
            master, slave = os.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            stdio = {"stdin": slave, "stdout": slave, "stderr": slave}
            to_close.append(slave)
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            to_close += [out_w, err_w]
            stdio = {"stdout": out_w, "stderr": err_w}
            if stdin:
                in_r, in_w = os.pipe()
                stdio["stdin"] = in_r
                to_close.append(in_r)
            else:
                stdio["stdin"] = asyncio.subprocess.DEVNULL  # type: ignore[assignment]
        try:
            proc = await asyncio.create_subprocess_exec(*args, cwd=str(cwd), env=dict(env), close_fds=True,
                                                        **stdio)  # type: ignore[arg-type]
        finally:
            for fd in to_close:
                os.close(fd)
        if tty:
            cp = ContainerProcess(container_id, proc, True, master)
            cp._watch(master, "stdout")
        else:
            cp = ContainerProcess(container_id, proc, False, in_w if stdin else None)
            if stdin:
                os.set_blocking(in_w, False)
            cp._watch(out_r, "stdout")
            cp._watch(err_r, "stderr")
        if log_path is not None:
            cp.log = CriLogWriter(log_path)
        return cp

    async def start(self, container_id: str, plan: ContainerPlan, log_path: Path,
                    on_exit: Callable[[int], None]) -> ContainerProcess:
        """Create and start a container's process; :class:`ExecNotFound` when its program does not exist."""
        launch = resolve(plan.profile, plan.argv)
        if self.before_start is not None:
            self.before_start()
        home = self.workdir(container_id)
        env = {**plan.env, **self._extra_env(home)}
        cp = await self._spawn(container_id, launch, env, home, tty=plan.tty, stdin=plan.stdin or plan.tty,
                               log_path=log_path)
        cp.stdin_once = plan.stdin_once
        self.processes[container_id] = cp
        self._spawn_task(cp._reap(on_exit))
        return cp

    async def exec(self, container_id: str, plan: ContainerPlan, argv: list[str], *, tty: bool,
                   stdin: bool) -> ContainerProcess:
        """A further process in a running container (``kubectl exec``), with the container's environment."""
        launch = resolve(plan.profile, argv)
        home = self.workdir(container_id)
        env = {**plan.env, **self._extra_env(home)}
        if tty:
            env["TERM"] = "xterm"
        cp = await self._spawn(container_id, launch, env, home, tty=tty, stdin=stdin, log_path=None)
        self._execs.add(cp)
        self._spawn_task(cp._reap(lambda _code: self._execs.discard(cp)))
        return cp

    def get(self, container_id: str) -> ContainerProcess | None:
        return self.processes.get(container_id)

    def running(self, container_id: str) -> bool:
        cp = self.processes.get(container_id)
        return cp is not None and cp.running

    async def stop(self, container_id: str, grace: float) -> int | None:
        """Stop a container's process (and its exec'd ones); its exit code, None when it had none."""
        cp = self.processes.get(container_id)
        for ex in [e for e in self._execs if e.container_id == container_id]:
            ex.signal(signal.SIGKILL)
        if cp is None:
            return None
        return await cp.terminate(grace)

    def forget(self, container_id: str) -> None:
        """The container was removed: drop its process record and working directory."""
        cp = self.processes.pop(container_id, None)
        if cp is not None and cp.running:
            cp.signal(signal.SIGKILL)
        shutil.rmtree(self.workdir(container_id), ignore_errors=True)

    async def shutdown(self) -> None:
        """The node stops: kill every process now (no orphans), then sweep leftovers."""
        everything = [*self.processes.values(), *self._execs]
        for cp in everything:
            cp.signal(signal.SIGKILL)
        for cp in everything:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(cp.done.wait(), 2.0)
        for t in list(self._tasks):
            t.cancel()
        self.reap_orphans()

    def reap_orphans(self) -> int:
        """SIGKILL every process whose working directory is under ``root/containers`` (leftovers of a crashed
        sandbox: children that outlived their container's main process); returns how many."""
        base = str((self.root / "containers").resolve())
        killed = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if cwd == base or cwd.startswith(base + "/"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed += 1
        return killed

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def resize_message(payload: bytes) -> tuple[int, int] | None:
    """``{"Width":80,"Height":24}`` from the resize channel."""
    try:
        size = json.loads(payload)
        return int(size.get("Width", 0)), int(size.get("Height", 0))
    except (ValueError, TypeError, AttributeError):
        return None
