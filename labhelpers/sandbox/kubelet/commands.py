"""What a container would execute, decided the way containerd and runc decide it, for images the lab knows.

The sandbox's seeded images are tiny stand-ins (their config says ``cat /app/hello.txt``), so the runtime
cannot read what to run from them. For the real images the lab uses as tools (``curlimages/curl`` and
``busybox``) :data:`PROFILES` carries their real configuration: ENTRYPOINT, CMD, ENV, working
directory, user, and which programs their filesystem has. Every other image is *not runnable*: its containers
keep running without a process, as before.

Pure functions only: the process side is :mod:`.runtime`.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ...images import InvalidImageNameError, parse_image_name

__all__ = ["IMAGE_PATH", "PROFILES", "ExecNotFound", "ImageProfile", "Launch", "container_env", "effective_argv",
           "expand", "host_program", "profile_for", "resolve"]

IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_IMAGE_DIRS = tuple(IMAGE_PATH.split(":"))

# BusyBox applets of Alpine's busybox that the lab machine also has (the runtime runs the host's programs).
BUSYBOX_APPLETS = frozenset([
    "[", "ash", "awk", "base64", "basename", "cat", "chmod", "chown", "clear", "cp", "cut", "date", "df",
    "dirname", "du", "echo", "egrep", "env", "expr", "false", "fgrep", "find", "free", "grep", "gunzip",
    "gzip", "head", "hostname", "id", "kill", "less", "ln", "ls", "md5sum", "mkdir", "more", "mv", "nc",
    "nproc", "nslookup", "ping", "printenv", "printf", "ps", "pwd", "readlink", "realpath", "rm", "rmdir",
    "sed", "seq", "sh", "sha1sum", "sha256sum", "sleep", "sort", "stat", "stty", "tail", "tar", "tee",
    "test", "timeout", "top", "touch", "tr", "true", "tty", "uname", "uniq", "uptime", "vi", "watch",
    "wc", "wget", "which", "whoami", "xargs", "yes", "zcat",
])

# Image program -> host program when the names differ (BusyBox's ash is the lab machine's sh).
_HOST_ALIASES = {"ash": "sh"}


@dataclass(frozen=True)
class ImageProfile:
    """A real image's configuration and the programs on its PATH."""

    repository: str  # normalised: docker.io/curlimages/curl
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = (("PATH", IMAGE_PATH),)
    workdir: str = "/"
    user: str = "root"
    home: str = "/root"
    programs: frozenset[str] = BUSYBOX_APPLETS
    files: frozenset[str] = frozenset()  # other executables, by absolute path (/entrypoint.sh)

    def has_path(self, path: str) -> bool:
        """Whether the image's filesystem has this absolute executable path."""
        if path in self.files:
            return True
        directory, _, name = path.rpartition("/")
        return directory in _IMAGE_DIRS and name in self.programs


CURL = ImageProfile(
    "docker.io/curlimages/curl", entrypoint=("/entrypoint.sh",), cmd=("curl",),
    env=(("PATH", IMAGE_PATH), ("CURL_CA_BUNDLE", "/cacert.pem")), workdir="/home/curl_user", user="curl_user",
    home="/home/curl_user", programs=BUSYBOX_APPLETS | {"curl"}, files=frozenset({"/entrypoint.sh"}))
BUSYBOX = ImageProfile("docker.io/library/busybox", cmd=("sh",))

PROFILES: dict[str, ImageProfile] = {p.repository: p for p in (CURL, BUSYBOX)}


def profile_for(image: str) -> ImageProfile | None:
    """The profile of ``image`` (any tag or digest), or None when the sandbox cannot run it."""
    try:
        repository = parse_image_name(image)[0]
    except InvalidImageNameError:
        return None
    return PROFILES.get(repository)


# --- what runs -----------------------------------------------------------------------------------------------


class ExecNotFound(Exception):
    """runc could not find the program: ``str()`` is runc's text (``exec: "x": executable file not found in
    $PATH``); the caller wraps it as containerd does for a start or an exec."""


@dataclass(frozen=True)
class Launch:
    """A resolved command: ``argv`` as the container sees it, ``program`` the host file that runs it."""

    argv: tuple[str, ...]
    program: str


def effective_argv(entrypoint: Iterable[str], cmd: Iterable[str], command: Iterable[str] | None,
                   args: Iterable[str] | None) -> list[str]:
    """The process args: ``command`` replaces ENTRYPOINT (and drops CMD), ``args`` replaces CMD."""
    command, args = list(command or []), list(args or [])
    if command:
        return command + args
    return list(entrypoint) + (args if args else list(cmd))


def host_program(name: str) -> str | None:
    """The lab machine's file for an image program name (``sh`` -> ``/usr/bin/sh``)."""
    return shutil.which(_HOST_ALIASES.get(name, name), path=IMAGE_PATH)


def _look_path(profile: ImageProfile, name: str) -> str | None:
    """The image's program for ``name`` as Go's ``exec.LookPath`` would find it, mapped to the host."""
    if "/" in name:
        if not name.startswith("/") or not profile.has_path(name):
            return None
        return host_program(name.rsplit("/", 1)[1])
    return host_program(name) if name in profile.programs else None


def _not_found(name: str) -> ExecNotFound:
    if "/" in name:
        return ExecNotFound(f'exec: "{name}": stat {name}: no such file or directory')
    return ExecNotFound(f'exec: "{name}": executable file not found in $PATH')


def resolve(profile: ImageProfile, argv: list[str]) -> Launch:
    """What finally executes for ``argv`` in ``profile``'s image; :class:`ExecNotFound` when nothing can.

    ``/entrypoint.sh`` of curlimages/curl runs ``curl "$@"`` when its first argument starts with ``-`` or is
    not a command in the image, else execs its arguments; that decision is made here, so the process seen in
    the container is the one the script would have exec'd.
    """
    if not argv:
        raise ExecNotFound('exec: "": executable file not found in $PATH')
    if argv[0] == "/entrypoint.sh" and "/entrypoint.sh" in profile.files:
        rest = argv[1:]
        if not rest or rest[0].startswith("-") or _look_path(profile, rest[0]) is None:
            rest = ["curl", *rest]
        argv = rest
    program = _look_path(profile, argv[0])
    if program is None:
        raise _not_found(argv[0])
    return Launch(tuple(argv), program)


# --- environment ---------------------------------------------------------------------------------------------


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion (third_party/forked/golang/expansion): ``$$`` escapes, unknown
    references and incomplete ones stay as written."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2:end]
            out.append(mapping.get(name, f"$({name})"))
            i = end + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


Lookup = Callable[[str, str], Mapping[str, Any] | None]  # (kind "secret"|"configmap", name) -> object


def _source_data(obj: Mapping[str, Any] | None, kind: str) -> dict[str, str]:
    if obj is None:
        return {}
    if kind == "secret":
        return {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
    data = dict(obj.get("data") or {})
    data.update({k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("binaryData") or {}).items()})
    return data


def _field_ref(pod: Mapping[str, Any], path: str) -> str:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName"), "status.hostIP": status.get("hostIP"),
              "status.podIP": status.get("podIP"),
              "status.hostIPs": ",".join(i.get("ip", "") for i in status.get("hostIPs") or []),
              "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or [])}
    if path in simple:
        return str(simple[path] or "")
    for prefix, values in (("metadata.labels", meta.get("labels") or {}),
                           ("metadata.annotations", meta.get("annotations") or {})):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str(values.get(path[len(prefix) + 2:-2], ""))
    return ""


def container_env(pod: Mapping[str, Any], container: Mapping[str, Any], profile: ImageProfile,
                  lookup: Lookup, *, pod_ip: str = "", extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment: image ENV, then HOSTNAME, then envFrom and env in order (each value expanded
    against what came before, as ``makeEnvironmentVariables`` does), ``TERM=xterm`` for a TTY.

    ``extra`` is what the emulation adds (HOME of the per-container directory, CURL_HOME for the node's
    network view) and goes last so a pod cannot unset it by accident.
    """
    env: dict[str, str] = dict(profile.env)
    meta = pod.get("metadata") or {}
    env["HOSTNAME"] = (pod.get("spec") or {}).get("hostname") or meta.get("name", "")
    if container.get("tty"):
        env["TERM"] = "xterm"
    defined: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for key, kind in (("configMapRef", "configmap"), ("secretRef", "secret")):
            ref = source.get(key)
            if ref:
                for k, v in _source_data(lookup(kind, ref.get("name", "")), kind).items():
                    defined[prefix + k] = v
    pod_view = dict(pod)
    if pod_ip:
        pod_view = {**pod, "status": {**(pod.get("status") or {}), "podIP": pod_ip, "podIPs": [{"ip": pod_ip}]}}
    for item in container.get("env") or []:
        name = item.get("name", "")
        value_from = item.get("valueFrom") or {}
        if "value" in item or not value_from:
            defined[name] = expand(str(item.get("value") or ""), defined)
        elif "fieldRef" in value_from:
            defined[name] = _field_ref(pod_view, value_from["fieldRef"].get("fieldPath", ""))
        else:
            for key, kind in (("secretKeyRef", "secret"), ("configMapKeyRef", "configmap")):
                ref = value_from.get(key)
                if ref:
                    data = _source_data(lookup(kind, ref.get("name", "")), kind)
                    if ref.get("key") in data:
                        defined[name] = data[ref["key"]]
    env.update(defined)
    env.update(extra or {})
    return env
