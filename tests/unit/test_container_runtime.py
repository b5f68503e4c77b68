"""The emulated container runtime's pure parts: what a container executes, its environment, the pod network's
``.curlrc``, CRI log files and the kubelet/apiserver rules and texts around logs and exec."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from labhelpers.sandbox.apiserver import podstreams
from labhelpers.sandbox.apiserver.errors import ApiError
from labhelpers.sandbox.kubelet import commands, crilog, podnet, runtime
from labhelpers.sandbox.kubelet.streaming import KubeletError, validate_container_log_status
from labhelpers.sandbox.registries.catalog import HOSTS

CURL = commands.PROFILES["docker.io/curlimages/curl"]
BUSYBOX = commands.PROFILES["docker.io/library/busybox"]


# --- which images run, and what ------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "repository"), [
    ("curlimages/curl:latest", "docker.io/curlimages/curl"),
    ("docker.io/curlimages/curl:8.11.1", "docker.io/curlimages/curl"),
    ("curlimages/curl", "docker.io/curlimages/curl"),
    ("busybox", "docker.io/library/busybox"),
    ("index.docker.io/library/busybox:1.36", "docker.io/library/busybox"),
    ("nginx", None), ("alpine", None), ("docker.io/youruser/app:v1.0", None), ("ghcr.io/curlimages/curl", None),
    ("Not An Image", None),
])
def test_profiles_by_repository(image: str, repository: str | None) -> None:
    profile = commands.profile_for(image)
    assert (profile.repository if profile else None) == repository


@pytest.mark.parametrize(("command", "args", "expected"), [
    (None, None, ["/entrypoint.sh", "curl"]),  # ENTRYPOINT + CMD
    (None, ["sh"], ["/entrypoint.sh", "sh"]),  # kubectl run ... -- sh: args replace CMD only
    (["sh", "-c"], None, ["sh", "-c"]),  # command replaces ENTRYPOINT and drops CMD
    (["sh", "-c"], ["echo hi"], ["sh", "-c", "echo hi"]),
])
def test_effective_argv_follows_kubernetes_command_and_args(command, args, expected) -> None:
    assert commands.effective_argv(CURL.entrypoint, CURL.cmd, command, args) == expected


@pytest.mark.parametrize(("argv", "runs"), [
    (["/entrypoint.sh"], ("curl",)),
    (["/entrypoint.sh", "curl"], ("curl",)),
    (["/entrypoint.sh", "sh"], ("sh",)),
    (["/entrypoint.sh", "-sv", "https://index.docker.io/v2/"], ("curl", "-sv", "https://index.docker.io/v2/")),
    (["/entrypoint.sh", "https://index.docker.io/v2/"], ("curl", "https://index.docker.io/v2/")),
    (["/entrypoint.sh", "nosuch"], ("curl", "nosuch")),  # not a command in the image: handed to curl
    (["/bin/sh", "-c", "exit 3"], ("/bin/sh", "-c", "exit 3")),
])
def test_curl_image_entrypoint_script(argv: list[str], runs: tuple[str, ...]) -> None:
    launch = commands.resolve(CURL, argv)
    assert launch.argv == runs
    assert Path(launch.program).is_absolute() and Path(launch.program).exists()


@pytest.mark.parametrize(("profile", "argv", "message"), [
    (BUSYBOX, ["bash"], 'exec: "bash": executable file not found in $PATH'),
    (BUSYBOX, ["curl", "-v"], 'exec: "curl": executable file not found in $PATH'),  # busybox has no curl
    (BUSYBOX, ["/bin/bash"], 'exec: "/bin/bash": stat /bin/bash: no such file or directory'),
    (CURL, ["/usr/lib/nothing"], 'exec: "/usr/lib/nothing": stat /usr/lib/nothing: no such file or directory'),
    (CURL, ["./run.sh"], 'exec: "./run.sh": stat ./run.sh: no such file or directory'),
])
def test_programs_the_image_does_not_have(profile, argv: list[str], message: str) -> None:
    with pytest.raises(commands.ExecNotFound) as e:
        commands.resolve(profile, argv)
    assert str(e.value) == message


def test_containerd_error_texts() -> None:
    err = commands.ExecNotFound('exec: "x": executable file not found in $PATH')
    assert runtime.start_error_message(err) == (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create "
        'failed: unable to start container process: exec: "x": executable file not found in $PATH: unknown')
    text = runtime.exec_error_message(err)
    assert re.fullmatch(r'failed to exec in container: failed to start exec "[0-9a-f]{64}": OCI runtime exec '
                        r'failed: exec failed: unable to start container process: exec: "x": executable file not '
                        r"found in \$PATH: unknown", text)
    assert runtime.exit_code_of(-9) == 137 and runtime.exit_code_of(-15) == 143 and runtime.exit_code_of(3) == 3


# --- environment ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expanded"), [
    ("$(A)/x", "1/x"), ("$(MISSING)", "$(MISSING)"), ("$$(A)", "$(A)"), ("$(A", "$(A"), ("a$", "a$"),
    ("$A", "$A"), ("$(A)$(B)", "12"),
])
def test_dependent_variable_expansion(text: str, expanded: str) -> None:
    assert commands.expand(text, {"A": "1", "B": "2"}) == expanded


def test_container_environment() -> None:
    pod = {"metadata": {"name": "registry-debug", "namespace": "lab", "uid": "u-1", "labels": {"app": "dbg"}},
           "spec": {"nodeName": "lab-node", "serviceAccountName": "default"}}
    container = {"name": "c", "tty": True,
                 "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
                 "env": [{"name": "REGISTRY", "value": "index.docker.io"},
                         {"name": "URL", "value": "https://$(REGISTRY)/v2/"},
                         {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                         {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                         {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]}
    objects = {("configmap", "cfg"): {"data": {"MODE": "debug"}},
               ("secret", "creds"): {"data": {"password": base64.b64encode(b"s3cret").decode()}}}
    env = commands.container_env(pod, container, CURL, lambda kind, name: objects.get((kind, name)),
                                 pod_ip="10.244.0.7", extra={"HOME": "/work/c1"})
    assert env == {"PATH": commands.IMAGE_PATH, "CURL_CA_BUNDLE": "/cacert.pem", "HOSTNAME": "registry-debug",
                   "TERM": "xterm", "CFG_MODE": "debug", "REGISTRY": "index.docker.io",
                   "URL": "https://index.docker.io/v2/", "POD": "registry-debug", "APP": "dbg", "IP": "10.244.0.7",
                   "PASS": "s3cret", "HOME": "/work/c1"}


def test_plan_only_for_runnable_images(tmp_path: Path) -> None:
    rt = runtime.ContainerRuntime(tmp_path, curl_home=tmp_path / "net")
    pod = {"metadata": {"name": "p"}, "spec": {}}

    def lookup(kind: str, name: str) -> None:
        return None

    assert rt.plan(pod, {"name": "web", "image": "nginx"}, lookup) is None
    plan = rt.plan(pod, {"name": "c", "image": "curlimages/curl:latest", "args": ["sh"], "stdin": True,
                         "stdinOnce": True, "tty": True}, lookup)
    assert plan is not None and plan.argv == ["/entrypoint.sh", "sh"]
    assert (plan.tty, plan.stdin, plan.stdin_once) == (True, True, True)
    plan = rt.plan(pod, {"name": "b", "image": "busybox", "command": ["echo", "$(WHO)"],
                         "env": [{"name": "WHO", "value": "world"}]}, lookup)
    assert plan is not None and plan.argv == ["echo", "world"]


# --- the pod network's .curlrc -------------------------------------------------------------------------------


def test_curlrc_maps_every_lab_name_to_the_front(tmp_path: Path) -> None:
    fleet = SimpleNamespace(specs=HOSTS)
    names = podnet.lab_names(fleet)
    for expected in ("docker.io", "index.docker.io", "registry-1.docker.io", "auth.docker.io", "ghcr.io",
                     "registry.lab.local:5000", "myregistry.azurecr.io"):
        assert expected in names
    assert len(names) == len(set(names))
    text = podnet.render_curlrc(names, 41234, tmp_path / "ca.crt")
    lines = text.splitlines()
    assert f'cacert = "{tmp_path / "ca.crt"}"' in lines
    assert 'connect-to = "index.docker.io:443:127.0.0.1:41234"' in lines
    assert 'connect-to = "auth.docker.io:443:127.0.0.1:41234"' in lines
    assert 'connect-to = "registry.lab.local:5000:127.0.0.1:41234"' in lines
    assert sum(1 for line in lines if line.startswith("connect-to")) == len(names)


# --- CRI log files -------------------------------------------------------------------------------------------


def _clock(start: int = 1_700_000_000_000_000_000, step: int = 1_000_000_000):
    t = [start - step]

    def now() -> int:
        t[0] += step
        return t[0]

    return now


def test_timestamps_are_go_rfc3339nano() -> None:
    assert crilog.format_ts(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert crilog.format_ts(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert crilog.parse_ts("2023-11-14T22:13:20.12Z") == 1_700_000_000_120_000_000
    assert crilog.parse_ts("2023-11-14T23:13:20+01:00") == 1_700_000_000_000_000_000


def test_writer_splits_streams_into_full_and_partial_lines(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    w = crilog.CriLogWriter(path, clock=_clock())
    w.write("stdout", b"one\ntw")
    w.write("stderr", b"err\n")
    w.write("stdout", b"o\nlast")
    w.write("stdout", b"x" * (crilog.MAX_LINE + 5))
    w.close()
    lines = path.read_bytes().split(b"\n")[:-1]
    assert lines[:3] == [b"2023-11-14T22:13:20Z stdout F one", b"2023-11-14T22:13:21Z stderr F err",
                         b"2023-11-14T22:13:22Z stdout F two"]
    assert lines[3].split(b" ", 3)[2] == b"P" and len(lines[3].split(b" ", 3)[3]) == crilog.MAX_LINE
    assert lines[4].endswith(b" stdout F " + b"x" * 9)  # the unterminated rest is a full line at the end
    assert crilog.read_log(path, crilog.LogOptions()) == (b"one\nerr\ntwo\nlast" + b"x" * (crilog.MAX_LINE + 5)
                                                          + b"\n")


def test_log_options(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    w = crilog.CriLogWriter(path, clock=_clock())
    for i in range(5):
        w.write("stdout", f"line {i}\n".encode())
    w.close()
    read = crilog.read_log
    assert read(path, crilog.LogOptions(tail_lines=2)) == b"line 3\nline 4\n"
    assert read(path, crilog.LogOptions(tail_lines=0)) == b""
    assert read(path, crilog.LogOptions(tail_lines=1, timestamps=True)) == b"2023-11-14T22:13:24Z line 4\n"
    assert read(path, crilog.LogOptions(limit_bytes=10)) == b"line 0\nlin"
    assert read(path, crilog.LogOptions(since=1_700_000_003_000_000_000)) == b"line 3\nline 4\n"
    assert read(tmp_path / "missing.log", crilog.LogOptions()) == b""
    assert read(None, crilog.LogOptions()) == b""


def test_follow_reads_until_the_container_exits(tmp_path: Path) -> None:
    asyncio.run(_follow(tmp_path))


async def _follow(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    w = crilog.CriLogWriter(path)
    w.write("stdout", b"a\nb\n")
    alive = [True]
    chunks: list[bytes] = []

    async def consume() -> None:
        async for chunk in crilog.follow_log(path, crilog.LogOptions(tail_lines=1, follow=True), lambda: alive[0]):
            chunks.append(chunk)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    w.write("stdout", b"c\n")
    await asyncio.sleep(0.15)
    w.write("stdout", b"d\n")
    w.close()
    alive[0] = False
    await asyncio.wait_for(task, 2)
    assert b"".join(chunks) == b"b\nc\nd\n"


# --- which container instance a log request reads ------------------------------------------------------------


def _pod(**status) -> dict:
    return {"metadata": {"name": "p"}, "status": {"containerStatuses": [{"name": "c", **status}]}}


@pytest.mark.parametrize(("status", "previous", "expected"), [
    ({"state": {"running": {}}, "containerID": "containerd://r"}, False, "containerd://r"),
    ({"state": {"terminated": {"containerID": "containerd://t"}}}, False, "containerd://t"),
    ({"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {
        "containerID": "containerd://old"}}}, False, "containerd://old"),
    ({"state": {"running": {}}, "lastState": {"terminated": {"containerID": "containerd://old"}}}, True,
     "containerd://old"),
])
def test_log_container_choice(status: dict, previous: bool, expected: str) -> None:
    assert validate_container_log_status(_pod(**status), "c", previous) == expected


@pytest.mark.parametrize(("status", "container", "previous", "message"), [
    ({"state": {"waiting": {"reason": "ContainerCreating"}}}, "c", False,
     'container "c" in pod "p" is waiting to start: ContainerCreating'),
    ({"state": {"waiting": {"reason": "ImagePullBackOff"}}}, "c", False,
     'container "c" in pod "p" is waiting to start: trying and failing to pull image'),
    ({"state": {"waiting": {"reason": "ErrImagePull"}}}, "c", False,
     'container "c" in pod "p" is waiting to start: image can\'t be pulled'),
    ({"state": {"running": {}}, "containerID": "containerd://r"}, "c", True,
     'previous terminated container "c" in pod "p" not found'),
    ({"state": {"running": {}}}, "other", False, 'container "other" in pod "p" is not available'),
    ({"state": {}}, "c", False, 'container "c" in pod "p" is waiting to start - no logs yet'),
])
def test_log_refusals_are_the_kubelets(status: dict, container: str, previous: bool, message: str) -> None:
    with pytest.raises(KubeletError) as e:
        validate_container_log_status(_pod(**status), container, previous)
    assert str(e.value) == message


def test_apiserver_container_checks_and_log_options() -> None:
    two = {"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i"}],
                                                "containers": [{"name": "a"}, {"name": "b"}]}}
    with pytest.raises(ApiError) as e:
        podstreams.validate_container(two, "")
    assert (e.value.code, e.value.message) == (400, "a container name must be specified for pod p, choose one of: "
                                                    "[i a b]")
    with pytest.raises(ApiError) as e:
        podstreams.validate_container(two, "zz")
    assert e.value.message == "container zz is not valid for pod p"
    assert podstreams.validate_container(two, "i") == "i"
    assert podstreams.validate_container({"spec": {"containers": [{"name": "only"}]}}, "") == "only"
    with pytest.raises(ApiError) as e:
        podstreams.log_options("p", {"tailLines": "-1", "limitBytes": "0"}, 0.0)
    assert (e.value.code, e.value.message) == (422, 'PodLogOptions "p" is invalid: [tailLines: Invalid value: -1: '
                                                    "must be greater than or equal to 0, limitBytes: Invalid value: "
                                                    "0: must be greater than 0]")
    with pytest.raises(ApiError) as e:
        podstreams.log_options("p", {"sinceSeconds": "5", "sinceTime": "2024-01-01T00:00:00Z"}, 0.0)
    assert e.value.message == ('PodLogOptions "p" is invalid: : Forbidden: at most one of `sinceTime` or '
                               "`sinceSeconds` may be specified")
    flags, opts = podstreams.log_options("p", {"sinceSeconds": "10", "timestamps": "true", "follow": "1"}, 100.0)
    assert opts.since == 90_000_000_000 and opts.timestamps and opts.follow and not flags["previous"]


def test_error_channel_statuses() -> None:
    assert json.dumps(podstreams.exit_status(0)) == '{"metadata": {}, "status": "Success"}'
    assert podstreams.exit_status(3) == {
        "metadata": {}, "status": "Failure",
        "message": "command terminated with non-zero exit code: command terminated with exit code 3",
        "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
    assert podstreams.internal_status("boom") == {
        "metadata": {}, "status": "Failure", "message": "Internal error occurred: boom", "reason": "InternalError",
        "details": {"causes": [{"message": "boom"}]}, "code": 500}
