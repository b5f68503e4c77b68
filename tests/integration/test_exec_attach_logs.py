"""Pods that run their command: kubectl run -it --rm, logs, exec and attach against a real sandbox.

kubectl runs as a real subprocess; the interactive session gets a pseudo-terminal (stdlib ``pty``), as a
JupyterLab terminal gives it one. The seed's Exercise 16 is the headline: ``kubectl run registry-debug
--image=curlimages/curl:latest --rm -it --restart=Never -- sh``, then curl reaching the sandbox's Docker Hub.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

from labhelpers.sandbox import Sandbox
from labhelpers.sandbox.registries.distribution import registry_binary
from labhelpers.tools import kubectl as kubectl_tool

from .conftest import Result, kubectl_binary, make_runner

pytestmark = [pytest.mark.integration, pytest.mark.kubectl,
              pytest.mark.skipif(registry_binary() is None, reason="docker-registry is not installed")]

NS = "exec-lab"
CHALLENGE = 'WWW-Authenticate: Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'
EXEC_NOT_FOUND = re.compile(
    r'error: Internal error occurred: Internal error occurred: error executing command in container: failed to exec '
    r'in container: failed to start exec "[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable to start '
    r'container process: exec: "(?P<prog>[^"]+)": executable file not found in \$PATH: unknown\n')


def _kubectl_versions() -> list[str]:
    versions = ["1.33"]
    versions += [v for v in ("1.32", "1.37") if kubectl_tool.installed(v) is not None]
    return versions


def _binary(version: str) -> str:
    path = kubectl_tool.installed(version) if version != "1.33" else None
    return str(path) if path is not None else kubectl_binary()


@pytest.fixture(scope="module")
def core(api: client.ApiClient) -> client.CoreV1Api:
    v1 = client.CoreV1Api(api)
    try:
        v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    except ApiException as e:
        if e.status != 409:
            raise
    return v1


@pytest.fixture
def kubectl_v(sandbox: Sandbox, tmp_path: Path) -> Callable[[str], Callable[..., Result]]:
    """A kubectl runner of a given minor version, with its own HOME and kubeconfig copy."""

    def make(version: str) -> Callable[..., Result]:
        kc = tmp_path / f"kubeconfig-{version}"
        shutil.copy(sandbox.kubeconfig, kc)
        home = tmp_path / f"home-{version}"
        home.mkdir(exist_ok=True)
        return make_runner(_binary(version), kc, home)

    return make


def wait_for(what: str, check: Callable[[], object], timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def phase(core: client.CoreV1Api, name: str) -> str:
    return core.read_namespaced_pod(name, NS).status.phase


def running_pod(core: client.CoreV1Api, name: str, image: str, command: list[str] | None = None,
                restart: str = "Always") -> client.V1Pod:
    core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": {
        "restartPolicy": restart, "containers": [{"name": name, "image": image,
                                                  **({"command": command} if command else {})}]}})
    wait_for(f"{name} running", lambda: phase(core, name) == "Running")
    return core.read_namespaced_pod(name, NS)


def container_processes(sandbox: Sandbox, container_id: str | None = None) -> list[int]:
    """PIDs running in a container's working directory (all containers' when no ID is given)."""
    base = sandbox.dir / "node" / "kubelet" / "containers"
    base = (base / container_id.rsplit("/", 1)[-1][:12]) if container_id else base
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if cwd == str(base) or cwd.startswith(f"{base}/"):
                pids.append(int(entry.name))
    return pids


class Terminal:
    """A program on a pseudo-terminal: what ``kubectl run -it`` needs to see on its stdin."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import fcntl
        import struct
        import termios

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.master = master
        self.output = ""

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return False
        if not data:
            return False
        self.output += data.decode(errors="replace")
        return True

    def expect(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline or not self._read(min(0.2, max(deadline - time.monotonic(), 0))):
                raise AssertionError(f"{text!r} not seen; output so far:\n{self.output}")

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        while self._read(0.05) and self.proc.poll() is not None and select.select([self.master], [], [], 0)[0]:
            pass
        os.close(self.master)
        return self.proc.wait(timeout=5)


@pytest.mark.parametrize("version", _kubectl_versions())
def test_seed_exercise16_interactive_debug_pod(sandbox: Sandbox, core: client.CoreV1Api, tmp_path: Path,
                                               version: str) -> None:
    kc = tmp_path / "kubeconfig"
    shutil.copy(sandbox.kubeconfig, kc)
    env = {**os.environ, "KUBECONFIG": str(kc), "HOME": str(tmp_path), "TERM": "xterm"}
    term = Terminal([_binary(version), "run", "registry-debug", "--image=curlimages/curl:latest", "--rm", "-it",
                     "--restart=Never", "-n", NS, "--", "sh"], env)
    term.expect("If you don't see a command prompt, try pressing enter.")
    term.send("curl -sv https://index.docker.io/v2/\r")
    term.expect("authentication required")
    assert "< HTTP/1.1 401 Unauthorized" in term.output and f"< {CHALLENGE}" in term.output
    assert "subjectAltName: host \"index.docker.io\" matched cert's \"index.docker.io\"" in term.output
    term.send("echo host=$HOSTNAME\r")
    term.expect("host=registry-debug")
    term.send("exit\r")
    assert term.wait() == 0, term.output
    assert re.search(r'pod "registry-debug" deleted( from exec-lab namespace)?\r?\n', term.output), term.output
    # kubectl run --rm does not wait for the deletion; the kubelet finishes it within moments
    wait_for("registry-debug gone", lambda: not any(p.metadata.name == "registry-debug"
                                                    for p in core.list_namespaced_pod(NS).items), timeout=10)


def test_noninteractive_curl_pod_and_logs(core: client.CoreV1Api, kubectl: Callable[..., Result]) -> None:
    r = kubectl("run", "curl-ok", "--image=curlimages/curl:latest", "--restart=Never", "-n", NS, "--",
                "curl", "-sv", "https://index.docker.io/v2/")
    assert r.rc == 0, r.err
    r = kubectl("run", "curl-fail", "--image=curlimages/curl:latest", "--restart=Never", "-n", NS, "--",
                "-sSf", "https://index.docker.io/v2/")  # args only: the image's entrypoint runs curl with them
    assert r.rc == 0, r.err
    wait_for("curl-ok done", lambda: phase(core, "curl-ok") in ("Succeeded", "Failed"))
    wait_for("curl-fail done", lambda: phase(core, "curl-fail") in ("Succeeded", "Failed"))
    assert phase(core, "curl-ok") == "Succeeded"  # curl exits 0 on a 401 without -f
    assert phase(core, "curl-fail") == "Failed"
    term = core.read_namespaced_pod("curl-fail", NS).status.container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (22, "Error")

    logs = kubectl("logs", "curl-ok", "-n", NS)
    assert logs.rc == 0
    assert "< HTTP/1.1 401 Unauthorized" in logs.out and f"< {CHALLENGE}" in logs.out
    assert logs.out.rstrip().endswith('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required",'
                                      '"detail":null}]}')
    assert kubectl("logs", "curl-fail", "-n", NS).out == "curl: (22) The requested URL returned error: 401\n"
    tail = kubectl("logs", "curl-ok", "-n", NS, "--tail=1", "--timestamps").out
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z \{\"errors\".*\n", tail)
    assert kubectl("get", "pod", "curl-fail", "-n", NS).out.split("\n")[1].split()[2] == "Error"


def test_log_errors(core: client.CoreV1Api, kubectl: Callable[..., Result], api: client.ApiClient) -> None:
    core.create_namespaced_pod(NS, {"metadata": {"name": "pull-fails"}, "spec": {"containers": [
        {"name": "app", "image": "docker.io/private/image:v1.0"}]}})
    wait_for("pull failure", lambda: (core.read_namespaced_pod("pull-fails", NS).status.container_statuses or [None])[0]
             and core.read_namespaced_pod("pull-fails", NS).status.container_statuses[0].state.waiting
             and core.read_namespaced_pod("pull-fails", NS).status.container_statuses[0].state.waiting.reason
             in ("ErrImagePull", "ImagePullBackOff"))
    r = kubectl("logs", "pull-fails", "-n", NS)
    assert r.rc == 1
    assert r.err in ('Error from server (BadRequest): container "app" in pod "pull-fails" is waiting to start: '
                     "image can't be pulled\n",
                     'Error from server (BadRequest): container "app" in pod "pull-fails" is waiting to start: '
                     "trying and failing to pull image\n")
    core.create_namespaced_pod(NS, {"metadata": {"name": "two"}, "spec": {"containers": [
        {"name": "a", "image": "busybox", "command": ["sh", "-c", "echo one; echo two; sleep 3600"]},
        {"name": "b", "image": "nginx"}]}})
    wait_for("two running", lambda: phase(core, "two") == "Running")
    r = kubectl("get", "--raw", f"/api/v1/namespaces/{NS}/pods/two/log")
    assert r.err == ("Error from server (BadRequest): a container name must be specified for pod two, choose one "
                     "of: [a b]\n")
    wait_for("a's output", lambda: kubectl("logs", "two", "-c", "a", "-n", NS).out == "one\ntwo\n")
    assert kubectl("logs", "two", "-c", "a", "-n", NS, "--tail=1").out == "two\n"
    assert kubectl("logs", "two", "-c", "b", "-n", NS).out == ""  # nginx is not run: no output
    r = kubectl("logs", "two", "-c", "a", "-n", NS, "--previous")
    assert r.err == 'Error from server (BadRequest): previous terminated container "a" in pod "two" not found\n'
    assert core.read_namespaced_pod_log("two", NS, container="a", limit_bytes=5) == "one\nt"


@pytest.mark.parametrize("version", _kubectl_versions())
def test_exec(sandbox: Sandbox, core: client.CoreV1Api, kubectl_v, version: str) -> None:
    kubectl = kubectl_v(version)
    name = f"sleeper-{version.replace('.', '')}"
    running_pod(core, name, "busybox", ["sleep", "3600"])
    r = kubectl("exec", name, "-n", NS, "--", "echo", "hi")
    assert (r.rc, r.out, r.err) == (0, "hi\n", "")
    r = kubectl("exec", name, "-n", NS, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.rc, r.out) == (3, "out\n")
    assert r.err == "err\ncommand terminated with exit code 3\n"
    r = kubectl("exec", name, "-n", NS, "--", "printenv", "HOSTNAME")
    assert r.out == f"{name}\n"
    r = kubectl("exec", "-i", name, "-n", NS, "--", "cat", input="piped stdin\n")
    assert (r.rc, r.out) == (0, "piped stdin\n")
    r = kubectl("exec", name, "-n", NS, "--", "bash")
    assert r.rc == 1 and (m := EXEC_NOT_FOUND.fullmatch(r.err)) and m["prog"] == "bash", r.err

    web = f"web-{version.replace('.', '')}"
    running_pod(core, web, "nginx")  # an image the sandbox cannot run: nothing exists inside
    r = kubectl("exec", web, "-n", NS, "--", "ls")
    assert r.rc == 1 and (m := EXEC_NOT_FOUND.fullmatch(r.err)) and m["prog"] == "ls", r.err


def test_official_python_client_exec(core: client.CoreV1Api) -> None:
    running_pod(core, "py-exec", "busybox", ["sleep", "3600"])
    out = stream(core.connect_get_namespaced_pod_exec, "py-exec", NS, command=["sh", "-c", "echo hello; echo oops >&2"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "hello\noops\n"
    resp = stream(core.connect_get_namespaced_pod_exec, "py-exec", NS, command=["sh", "-c", "read x; echo got $x; exit 4"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    resp.write_stdin("42\n")
    resp.run_forever(timeout=20)
    assert resp.read_stdout() == "got 42\n" and resp.returncode == 4
    resp.close()


def test_deleted_pod_leaves_no_process(sandbox: Sandbox, core: client.CoreV1Api) -> None:
    pod = running_pod(core, "doomed", "busybox", ["sh", "-c", "sleep 1000 & sleep 2000"])
    cid = pod.status.container_statuses[0].container_id
    assert len(wait_for("both sleeps", lambda: len(container_processes(sandbox, cid)) >= 3 and
                        container_processes(sandbox, cid))) >= 3  # sh and its two sleeps
    core.delete_namespaced_pod("doomed", NS)
    wait_for("pod gone", lambda: not any(p.metadata.name == "doomed" for p in core.list_namespaced_pod(NS).items))
    wait_for("processes gone", lambda: not container_processes(sandbox, cid), timeout=10)


def test_crash_loop_back_off(core: client.CoreV1Api, kubectl: Callable[..., Result]) -> None:
    core.create_namespaced_pod(NS, {"metadata": {"name": "crasher"}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo bye; exit 1"]}]}})

    def backing_off() -> bool:
        cs = core.read_namespaced_pod("crasher", NS).status.container_statuses
        return bool(cs and cs[0].state.waiting and cs[0].state.waiting.reason == "CrashLoopBackOff")

    wait_for("CrashLoopBackOff", backing_off, timeout=90)
    cs = core.read_namespaced_pod("crasher", NS).status.container_statuses[0]
    assert cs.restart_count >= 1 and cs.last_state.terminated.exit_code == 1
    assert re.fullmatch(r"back-off \d+s restarting failed container=c pod=crasher_exec-lab\([0-9a-f-]+\)",
                        cs.state.waiting.message)
    assert kubectl("logs", "crasher", "-n", NS, "--previous").out == "bye\n"


def test_sandbox_down_leaves_no_process(tmp_path: Path) -> None:
    sb = Sandbox(tmp_path / "sb")
    sb.up()
    try:
        kubectl = make_runner(kubectl_binary(), sb.kubeconfig, tmp_path)
        assert kubectl("run", "bg", "--image=busybox", "--", "sh", "-c", "sleep 1000 & sleep 2000").rc == 0
        wait_for("processes", lambda: len(container_processes(sb)) >= 3)
    finally:
        sb.down()
    wait_for("no processes", lambda: not container_processes(sb), timeout=10)
