"""``pods/log``, ``pods/exec`` and ``pods/attach``: the API server's checks, then the node's kubelet.

kube-apiserver validates the options (``PodLogOptions`` errors are 422 Invalid), the pod and the container
name (``validateContainer``: 400 BadRequest), then proxies to the kubelet of the pod's node; a kubelet refusal
of a log request comes back as 400 BadRequest with the kubelet's text. For exec and attach, kubectl 1.30+ asks
for a WebSocket with the ``v5.channel.k8s.io`` subprotocol (client-go's ``NewWebSocketExecutor`` offers only
v5; it falls back to SPDY only when the upgrade itself fails, which it never does here, so SPDY is not
served). The API server's stream translator then speaks to the kubelet and reports the outcome on the error
channel as a metav1.Status: ``Success``, ``NonZeroExitCode`` with the exit code as an ``ExitCode`` cause, or
an InternalError wrapping the kubelet's own InternalError (hence kubectl's doubled *Internal error occurred:
Internal error occurred: error executing command in container: ...*).

Channels: each binary message starts with the channel byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize
``{"Width":w,"Height":h}``); in v5, ``[255, n]`` closes channel n (the client's stdin EOF). Older clients may
ask for ``v4``..``v1``/``channel.k8s.io`` or ``base64.channel.k8s.io`` (the kubelet's own WebSocket server):
before v4 the error channel carries plain text.

The node registers itself with :func:`register` (what the Node object's kubelet endpoint is on a cluster).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from . import codec, resources
from .errors import ApiError, FieldError
from .objects import Registry

__all__ = ["PROTOCOLS", "NodeError", "NodeStreaming", "pod_exec_or_attach", "pod_log", "register", "unregister"]

POD = resources.lookup("", "v1", "pods")
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
BASE64 = "base64.channel.k8s.io"
PROTOCOLS = (V5, V4, "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io", BASE64)
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


class NodeError(Exception):
    """The kubelet refused; ``str()`` is its text. ``before_upgrade``: it refused the stream itself (an HTTP
    error the translator reports as ``unable to upgrade connection: ...``), rather than reporting a failed
    exec on the stream's error channel (its own InternalError)."""

    def __init__(self, message: str, *, before_upgrade: bool = False) -> None:
        super().__init__(message)
        self.before_upgrade = before_upgrade


class Process(Protocol):
    tty: bool
    stdin_once: bool
    listeners: list[Callable[[str, bytes], None]]
    done: asyncio.Event

    def write_stdin(self, data: bytes) -> None: ...
    def close_stdin(self) -> None: ...
    def resize(self, width: int, height: int) -> None: ...
    async def wait(self) -> int: ...


class NodeStreaming(Protocol):
    def log_source(self, pod: Mapping[str, Any], container: str, previous: bool
                   ) -> tuple[Path | None, Callable[[], bool]]: ...

    async def exec(self, pod: Mapping[str, Any], container: str, argv: list[str], *, tty: bool,
                   stdin: bool) -> Process: ...

    def attach(self, pod: Mapping[str, Any], container: str) -> Process | None: ...


_NODES: weakref.WeakKeyDictionary[Registry, NodeStreaming] = weakref.WeakKeyDictionary()


def register(registry: Registry, node: NodeStreaming) -> None:
    _NODES[registry] = node


def unregister(registry: Registry, node: NodeStreaming) -> None:
    if _NODES.get(registry) is node:
        del _NODES[registry]


# --- shared checks -------------------------------------------------------------------------------------------


def validate_container(pod: Mapping[str, Any], container: str) -> str:
    """``validateContainer`` of pkg/registry/core/pod: the container to use, or 400 BadRequest."""
    spec = pod.get("spec") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    if not container:
        containers = spec.get("containers") or []
        if len(containers) == 1:
            return containers[0].get("name", "")
        if not containers:
            raise ApiError.bad_request(f"a container name must be specified for pod {name}")
        every = [c.get("name", "") for key in ("initContainers", "containers", "ephemeralContainers")
                 for c in spec.get(key) or []]
        raise ApiError.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                   f"[{' '.join(every)}]")
    if not any(c.get("name") == container for key in ("initContainers", "containers", "ephemeralContainers")
               for c in spec.get(key) or []):
        raise ApiError.bad_request(f"container {container} is not valid for pod {name}")
    return container


def _int(q: Mapping[str, str], key: str) -> int | None:
    if key not in q or q[key] == "":
        return None
    try:
        return int(q[key])
    except ValueError:
        raise ApiError.bad_request(f'strconv.ParseInt: parsing "{q[key]}": invalid syntax') from None


# --- logs ----------------------------------------------------------------------------------------------------


def log_options(name: str, q: Mapping[str, str], now: float) -> tuple[dict[str, Any], Any]:
    """The query as ``PodLogOptions`` (422 Invalid as ``ValidatePodLogOptions`` words it)."""
    from ..kubelet.crilog import LogOptions, parse_ts

    tail, limit, since_s = _int(q, "tailLines"), _int(q, "limitBytes"), _int(q, "sinceSeconds")
    since_time = q.get("sinceTime") or None
    errs: list[FieldError] = []
    if tail is not None and tail < 0:
        errs.append(FieldError.invalid("tailLines", tail, "must be greater than or equal to 0"))
    if limit is not None and limit < 1:
        errs.append(FieldError.invalid("limitBytes", limit, "must be greater than 0"))
    if since_s is not None and since_time is not None:
        errs.append(FieldError.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif since_s is not None and since_s < 1:
        errs.append(FieldError.invalid("sinceSeconds", since_s, "must be greater than 0"))
    if errs:
        raise ApiError.invalid("", "PodLogOptions", name, errs)
    since: int | None = None
    if since_s is not None:
        since = int((now - since_s) * 1_000_000_000)
    elif since_time is not None:
        try:
            since = parse_ts(since_time)
        except ValueError:
            raise ApiError.bad_request(f'parsing time "{since_time}" as "2006-01-02T15:04:05Z07:00": cannot '
                                       "parse") from None
    flags = {k: codec.parse_bool(q.get(k)) for k in ("follow", "previous", "timestamps")}
    return flags, LogOptions(tail_lines=tail, since=since, timestamps=flags["timestamps"], limit_bytes=limit,
                             follow=flags["follow"])


async def pod_log(registry: Registry, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
    """GET .../pods/{name}/log."""
    from ..kubelet.crilog import follow_log, read_log

    q = request.query
    flags, opts = log_options(name, q, time.time())
    pod = registry.get(POD, namespace, name)
    container = validate_container(pod, q.get("container", ""))
    node = _NODES.get(registry)
    if not (pod.get("spec") or {}).get("nodeName") or node is None:
        return web.Response(body=b"", content_type="text/plain")
    try:
        path, running = node.log_source(pod, container, flags["previous"])
    except NodeError as e:
        raise ApiError.bad_request(str(e)) from None
    if not opts.follow:
        return web.Response(body=read_log(path, opts), content_type="text/plain")
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        async for chunk in follow_log(path, opts, running):
            await resp.write(chunk)
        await resp.write_eof()
    return resp


# --- exec and attach -----------------------------------------------------------------------------------------


def _status(status: str, message: str = "", reason: str = "", details: dict | None = None,
            code: int | None = None) -> dict[str, Any]:
    """A metav1.Status as ``json.Marshal`` writes it on the error channel (no kind/apiVersion)."""
    out: dict[str, Any] = {"metadata": {}, "status": status}
    if message:
        out["message"] = message
    if reason:
        out["reason"] = reason
    if details:
        out["details"] = details
    if code:
        out["code"] = code
    return out


def exit_status(code: int) -> dict[str, Any]:
    if code == 0:
        return _status("Success")
    return _status("Failure", f"command terminated with non-zero exit code: command terminated with exit code "
                              f"{code}", "NonZeroExitCode", {"causes": [{"reason": "ExitCode", "message": str(code)}]})


def internal_status(err: str) -> dict[str, Any]:
    """``apierrors.NewInternalError``."""
    return _status("Failure", f"Internal error occurred: {err}", "InternalError", {"causes": [{"message": err}]},
                   500)


class _Session:
    """One WebSocket stream session: ordered sends, the client's messages dispatched to callbacks."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.protocol = ws.ws_protocol or ""
        self.queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self.on_stdin: Callable[[bytes], None] = lambda _d: None
        self.on_stdin_close: Callable[[], None] = lambda: None
        self.on_resize: Callable[[int, int], None] = lambda _w, _h: None
        self.client_gone = asyncio.Event()

    def send(self, channel: int, data: bytes) -> None:
        if data:
            self.queue.put_nowait((channel, data))

    async def pump(self) -> None:
        while (item := await self.queue.get()) is not None:
            channel, data = item
            with contextlib.suppress(ConnectionResetError, RuntimeError):
                if self.protocol == BASE64:
                    await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
                else:
                    await self.ws.send_bytes(bytes([channel]) + data)

    async def read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                if not data:
                    continue
                channel, payload = data[0], data[1:]
                if self.protocol == BASE64:
                    channel -= ord("0")
                    payload = base64.b64decode(payload)
                if channel == CLOSE and self.protocol == V5:
                    if payload[:1] == bytes([STDIN]):
                        self.on_stdin_close()
                elif channel == STDIN:
                    self.on_stdin(payload)
                elif channel == RESIZE:
                    with contextlib.suppress(ValueError, TypeError, AttributeError):
                        size = json.loads(payload)
                        self.on_resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
        finally:
            self.client_gone.set()

    async def finish(self, status: dict[str, Any], pump: asyncio.Task[None]) -> None:
        """Report the outcome on the error channel and close (the client's readers then see EOF)."""
        if self.protocol in (V5, V4):
            self.send(ERROR, json.dumps(status, separators=(",", ":")).encode())
        elif status.get("status") != "Success":
            self.send(ERROR, status.get("message", "").encode())
        self.queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await self.ws.close()


def _stream_options(q: Any, exec_: bool) -> dict[str, Any]:
    flags = {k: codec.parse_bool(q.get(k)) for k in ("stdin", "stdout", "stderr", "tty")}
    if exec_:
        flags["command"] = q.getall("command", [])
        if not flags["command"]:
            raise ApiError.bad_request("you must specify at least 1 command")
    if not (flags["stdin"] or flags["stdout"] or flags["stderr"]):
        raise ApiError.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    return flags


async def pod_exec_or_attach(registry: Registry, request: web.Request, namespace: str, name: str,
                             subresource: str) -> web.StreamResponse:
    """GET/POST .../pods/{name}/exec and .../attach over WebSocket."""
    exec_ = subresource == "exec"
    opts = _stream_options(request.query, exec_)
    pod = registry.get(POD, namespace, name)
    container = validate_container(pod, request.query.get("container", ""))
    if not (pod.get("spec") or {}).get("nodeName"):
        raise ApiError.bad_request(f"pod {name} does not have a host assigned")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=0, compress=False)
    if not ws.can_prepare(request).ok:
        raise ApiError.bad_request("Upgrade request required")
    await ws.prepare(request)
    session = _Session(ws)
    pump = asyncio.get_running_loop().create_task(session.pump())
    reader = asyncio.get_running_loop().create_task(session.read())
    try:
        node = _NODES.get(registry)
        try:
            if node is None:
                raise NodeError(f'container not found ("{container}")', before_upgrade=True)
            if exec_:
                proc: Process | None = await node.exec(pod, container, opts["command"], tty=opts["tty"],
                                                       stdin=opts["stdin"])
            else:
                proc = node.attach(pod, container)
        except NodeError as e:
            inner = f"unable to upgrade connection: {e}" if e.before_upgrade else internal_status(str(e))["message"]
            await session.finish(internal_status(inner), pump)
            return ws
        status = await _stream(session, proc, opts, exec_)
        if status is not None:
            await session.finish(status, pump)
        else:
            session.queue.put_nowait(None)
            await pump
    except Exception as e:  # the connection is a WebSocket now: report on the error channel, never as HTTP
        logging.getLogger("labhelpers.apiserver").exception("%s of %s/%s failed", subresource, namespace, name)
        if not pump.done():
            await session.finish(internal_status(f"{type(e).__name__}: {e}"), pump)
    finally:
        for task in (reader, pump):
            task.cancel()
        for task in (reader, pump):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    return ws


async def _stream(session: _Session, proc: Process | None, opts: dict[str, Any], exec_: bool
                  ) -> dict[str, Any] | None:
    """Connect the session to the process until it exits (a Status) or, for attach, the client leaves (None)."""
    if proc is None:  # attach to a container without a process: nothing to show until the client leaves
        await session.client_gone.wait()
        return None

    def output(stream: str, data: bytes) -> None:
        if proc.tty or stream == "stdout":
            if opts["stdout"] or (proc.tty and opts["stderr"]):
                session.send(STDOUT, data)
        elif opts["stderr"]:
            session.send(STDERR, data)

    proc.listeners.append(output)
    if opts["stdin"]:
        session.on_stdin = proc.write_stdin
        session.on_stdin_close = proc.close_stdin
    session.on_resize = proc.resize
    done = asyncio.ensure_future(proc.done.wait())
    gone = asyncio.ensure_future(session.client_gone.wait())
    try:
        await asyncio.wait({done, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for f in (done, gone):
            f.cancel()
        with contextlib.suppress(ValueError):
            proc.listeners.remove(output)
        if not proc.done.is_set() and opts["stdin"] and (exec_ or proc.stdin_once):
            proc.close_stdin()  # the client left: its stdin ends (stdinOnce: for good)
    if proc.done.is_set():
        return exit_status(await proc.wait()) if exec_ else _status("Success")
    return None
