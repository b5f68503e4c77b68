"""Instructor endpoints on the sandbox API server (mounted under ``/lab/``) and their tiny client.

``GET /lab/registries`` lists the lab registries (:meth:`RegistryFleet.info`). ``POST /lab/registries``
with ``{"host", "username", "password"}`` adds a login to a lab registry, or, for a host the sandbox does
not know yet, starts a new real Distribution registry (htpasswd Basic auth) for it, so a course can use
its own registry names (``labctl sandbox registry add HOST --user U --password P``). Added logins are
saved in the fleet's state directory and replayed by :func:`restore_registries` after a restart.

``POST /lab/kyverno`` installs Kyverno (``labctl install kyverno``): until then the sandbox serves no Kyverno kinds
and runs no Kyverno admission, as a cluster without it; the installation is remembered across restarts
(:class:`KyvernoInstaller`). ``GET /lab/kyverno`` says whether it is installed.

``GET /lab/clock`` answers the sandbox clock, ``{"now": RFC3339, "speed": N, "offsetSeconds": S}``;
``POST /lab/clock`` with ``{"advance": "12h"}`` (a Go duration) or ``{"advance": 43200}`` (seconds)
fast-forwards it and answers the new state (``labctl sandbox clock advance 12h``). Only a sandbox can do this.

Errors are metav1 ``Status`` bodies like every other answer of the sandbox API.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from .apiserver.errors import ApiError, FieldError
from .registries.auth import Account
from .registries.catalog import HostSpec
from .registries.hosts import SEEDER, RegistryFleet, UnknownHostError, normalize_host

if TYPE_CHECKING:
    from .admission.kyverno.plugin import KyvernoPlugin
    from .apiserver.objects import Registry
    from .clock import SandboxClock

log = logging.getLogger(__name__)

ADDED_FILE = "lab-added-registries.json"
KIND, GROUP = "Registry", "lab.sandbox"
ADDED_NOTE = "added with labctl sandbox registry add"

# A registry host as image references spell it (distribution/reference's domain grammar), optional port.
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?$")

# What services.json needs per registry for the probe and `labctl sandbox info` (no users, no passwords).
ENDPOINT_FIELDS = ("host", "aliases", "url", "auth", "endpoint", "token_url", "token_realm", "service",
                   "basic_realm")


def registry_endpoints(fleet: RegistryFleet) -> list[dict[str, Any]]:
    """The password-free part of :meth:`RegistryFleet.info`: what ``services.json["registries"]`` holds."""
    return [{k: e[k] for k in ENDPOINT_FIELDS if k in e} for e in fleet.info()]


# ------------------------------------------------------------------------------------------ adding


def _validate(body: Any) -> tuple[str, str, str]:
    if not isinstance(body, dict):
        raise ApiError.bad_request('the body must be a JSON object {"host", "username", "password"}')
    raw_host = body.get("host")
    name = str(raw_host or "")
    errs: list[FieldError] = []
    for key in ("host", "username", "password"):
        if not isinstance(body.get(key), str) or not body.get(key):
            errs.append(FieldError.required(key))
    host = normalize_host(name) if name else ""
    if host and not _HOST_RE.match(host):
        errs.append(FieldError.invalid("host", name, "must be a registry host name with an optional port, "
                                                     "e.g. registry.example.com:5000"))
    user = body.get("username")
    if isinstance(user, str) and user and (":" in user or "\n" in user):
        errs.append(FieldError.invalid("username", user, "must not contain ':' or newlines"))
    if user == SEEDER:
        errs.append(FieldError.forbidden("username", f"{SEEDER!r} is reserved for the sandbox"))
    if errs:
        raise ApiError.invalid(GROUP, KIND, host or name, errs)
    return host, str(user), str(body["password"])


def add_login(fleet: RegistryFleet, host: str, username: str, password: str) -> bool:
    """Make ``username:password`` valid on ``host`` (replacing that user's permanent password); start a new
    registry when the host is unknown. Returns whether a registry was started. Blocking (bcrypt, spawn)."""
    try:
        existing = [a for a in fleet.users(host).accounts() if a.username == username and a.expires_at is None]
    except UnknownHostError:
        account = Account(username, password, note=ADDED_NOTE)
        fleet.add_host(HostSpec(host=host, auth="htpasswd", basic_realm=host.split(":")[0], accounts=(account,),
                                description="A registry added by the instructor"))
        return True
    if any(a.password == password for a in existing):
        return False
    for a in existing:
        fleet.remove(host, username, a.password)
    fleet.add(host, username, password)
    return False


def _saved_path(fleet: RegistryFleet) -> Path | None:
    return fleet.state_dir / ADDED_FILE if fleet.state_dir is not None else None


def _save(fleet: RegistryFleet, host: str, username: str, password: str) -> None:
    path = _saved_path(fleet)
    if path is None:
        return
    entries = [e for e in _load(path) if (e["host"], e["username"]) != (host, username)]
    entries.append({"host": host, "username": username, "password": password})
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, prefix=".added-") as f:
        json.dump(entries, f, indent=2)
    Path(f.name).chmod(0o600)
    Path(f.name).replace(path)


def _load(path: Path) -> list[dict[str, str]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [e for e in data if isinstance(e, dict) and {"host", "username", "password"} <= e.keys()] \
        if isinstance(data, list) else []


def restore_registries(fleet: RegistryFleet) -> list[str]:
    """Replay the logins and hosts added in earlier sessions (call after ``fleet.start``); returns hosts."""
    path = _saved_path(fleet)
    done = []
    for e in _load(path) if path else []:
        try:
            add_login(fleet, e["host"], e["username"], e["password"])
            done.append(e["host"])
        except Exception:  # one broken entry must not keep the sandbox from starting
            log.exception("could not restore registry login %s@%s", e["username"], e["host"])
    return done


# ------------------------------------------------------------------------------------------ Kyverno

KYVERNO_FILE = "kyverno.json"
KYVERNO_POD_LABEL = ("app.kubernetes.io/name", "kyverno")


class KyvernoInstaller:
    """Kyverno in the sandbox process: off until :meth:`install`, then on for good (``state/kyverno.json``).

    Installing serves the Kyverno kinds, puts the admission plug-ins (with cosign image verification against
    the lab registries) on the API, starts the policy-report controller and creates what ``install.yaml`` leaves
    behind (namespace, ConfigMap, the admission-controller Deployment, whose Pod the kubelet then runs).
    """

    def __init__(self, registry: Registry, fleet: RegistryFleet, state_dir: Path) -> None:
        self.registry = registry
        self.fleet = fleet
        self.path = Path(state_dir) / KYVERNO_FILE
        self.plugin: KyvernoPlugin | None = None
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    @property
    def installed(self) -> bool:
        return self.plugin is not None

    def info(self) -> dict[str, Any]:
        from .admission.kyverno.plugin import KYVERNO_VERSION, NAMESPACE

        return {"installed": self.installed, "version": KYVERNO_VERSION, "namespace": NAMESPACE}

    def _activate(self) -> None:
        """Kinds, plug-ins and the report task (needs the running loop); idempotent."""
        if self.plugin is not None:
            return
        from .admission.kyverno import plugin as kyverno
        from .admission.kyverno.verify_adapter import make_validate_images_check, make_verify_images_hook

        self.plugin = kyverno.install(self.registry, verify_images=make_verify_images_hook(self.fleet, self.registry))
        self.registry.validators.append(make_validate_images_check(self.plugin))
        self._task = asyncio.get_running_loop().create_task(self.plugin.run(), name="kyverno-reports")

    def restore(self) -> bool:
        """Re-enable Kyverno after a restart if it was installed before (its objects are in the store)."""
        if self.path.exists():
            self._activate()
        return self.installed

    async def install(self, wait: float = 20.0) -> dict[str, Any]:
        """Install (idempotent); returns once the admission-controller Pod exists (up to ``wait`` seconds)."""
        from .admission.kyverno.plugin import KYVERNO_VERSION, install_kyverno_objects

        async with self._lock:
            created = not self.installed
            self._activate()
            install_kyverno_objects(self.registry)
            if created:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"version": KYVERNO_VERSION, "installed_at": time.time()}))
                tmp.replace(self.path)
        deadline = time.monotonic() + wait
        while not self._pods() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return {**self.info(), "created": created}

    def _pods(self) -> list[dict[str, Any]]:
        from .admission.kyverno.plugin import NAMESPACE
        from .apiserver import resources as res

        pod_rt = res.lookup("", "v1", "pods")
        assert pod_rt is not None
        key, value = KYVERNO_POD_LABEL
        return [p for p in self.registry.list(pod_rt, NAMESPACE)
                if (p.get("metadata", {}).get("labels") or {}).get(key) == value]

    async def stop(self) -> None:
        if self.plugin is not None:
            self.plugin.reports.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def _kyverno_version(body: Any) -> str | None:
    from .admission.kyverno.plugin import KYVERNO_VERSION

    version = body.get("version") if isinstance(body, dict) else None
    if version and str(version).lstrip("v") != KYVERNO_VERSION.lstrip("v"):
        raise ApiError.invalid(GROUP, "Kyverno", "kyverno", [FieldError.not_supported(
            "version", version, [KYVERNO_VERSION])])
    return version


# ------------------------------------------------------------------------------------------ clock

_ADVANCE_HELP = 'use a Go duration such as "12h", "90m", "1h30m" or "45s", or a number of seconds'


def advance_seconds(body: Any) -> float:
    """The positive number of seconds a ``POST /lab/clock`` body asks for; :class:`ApiError` 400 otherwise."""
    from .clock import parse_duration

    if not isinstance(body, dict) or "advance" not in body:
        raise ApiError.bad_request(f'the body must be a JSON object {{"advance": "12h"}}: {_ADVANCE_HELP}')
    value = body["advance"]
    shown = json.dumps(value)
    try:
        seconds = parse_duration(value)
    except ValueError as e:
        raise ApiError.bad_request(f"invalid advance {shown}: {e} ({_ADVANCE_HELP})") from None
    if seconds <= 0:
        raise ApiError.bad_request(f"invalid advance {shown}: the sandbox clock only moves forward, so the "
                                   "duration must be positive")
    return seconds


# ------------------------------------------------------------------------------------------ HTTP


def _status(err: ApiError) -> web.Response:
    return web.json_response(err.status(), status=err.code, headers=err.headers)


def build_admin_app(fleet: RegistryFleet, *, on_change: Callable[[], None] | None = None,
                    kyverno: KyvernoInstaller | None = None, clock: SandboxClock | None = None) -> web.Application:
    """``/registries`` (and, given ``kyverno``, ``/kyverno``; given ``clock``, ``/clock``) routes, to mount
    with ``app.add_subapp("/lab", build_admin_app(fleet))``.

    ``on_change`` runs after a successful registry POST (the server rewrites services.json there).
    """
    lock = asyncio.Lock()

    async def list_registries(request: web.Request) -> web.Response:
        return web.json_response({"registries": fleet.info()})

    async def add_registry(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _status(ApiError.bad_request("the body is not valid JSON"))
        try:
            host, username, password = _validate(body)
        except ApiError as e:
            return _status(e)
        loop = asyncio.get_running_loop()
        async with lock:  # two adds of the same new host must not start two registries
            try:
                created = await loop.run_in_executor(None, add_login, fleet, host, username, password)
                await loop.run_in_executor(None, _save, fleet, host, username, password)
            except Exception as e:  # e.g. RegistryStartError: the registry process did not come up
                log.exception("adding registry %s failed", host)
                return _status(ApiError.internal(f"{type(e).__name__}: {e}"))
        if on_change is not None:
            on_change()
        entry = next(e for e in fleet.info() if e["host"] == fleet.host_of(host))
        return web.json_response({"host": entry["host"], "username": username, "created": created,
                                  "registry": entry}, status=201 if created else 200)

    async def kyverno_info(request: web.Request) -> web.Response:
        assert kyverno is not None
        return web.json_response(kyverno.info())

    async def install_kyverno(request: web.Request) -> web.Response:
        assert kyverno is not None
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            return _status(ApiError.bad_request("the body is not valid JSON"))
        try:
            _kyverno_version(body)
            result = await kyverno.install()
        except ApiError as e:
            return _status(e)
        except Exception as e:
            log.exception("installing Kyverno failed")
            return _status(ApiError.internal(f"{type(e).__name__}: {e}"))
        return web.json_response(result, status=201 if result["created"] else 200)

    async def clock_info(request: web.Request) -> web.Response:
        assert clock is not None
        return web.json_response(clock.state())

    async def advance_clock(request: web.Request) -> web.Response:
        assert clock is not None
        try:
            body = await request.json()
        except ValueError:
            return _status(ApiError.bad_request("the body is not valid JSON"))
        try:
            seconds = advance_seconds(body)
        except ApiError as e:
            return _status(e)
        clock.advance(seconds)
        log.info("sandbox clock advanced by %ss", seconds)
        return web.json_response({**clock.state(), "advancedSeconds": seconds})

    app = web.Application()
    app.router.add_get("/registries", list_registries)
    app.router.add_post("/registries", add_registry)
    if kyverno is not None:
        app.router.add_get("/kyverno", kyverno_info)
        app.router.add_post("/kyverno", install_kyverno)
    if clock is not None:
        app.router.add_get("/clock", clock_info)
        app.router.add_post("/clock", advance_clock)
    return app


# ------------------------------------------------------------------------------------------ client


class AdminError(RuntimeError):
    """The sandbox API refused the request; ``code`` is the HTTP status, the message the Status message."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def _connection(sandbox_dir: str | Path | None) -> tuple[str, str, ssl.SSLContext]:
    """Server URL, bearer token and TLS context from the sandbox's kubeconfig."""
    from .manager import Sandbox, SandboxError

    sb = Sandbox(sandbox_dir)
    if not sb.running():
        raise SandboxError(f"the sandbox in {sb.dir} is not running; start it with `labctl sandbox up`")
    kc = yaml.safe_load(sb.kubeconfig.read_text())
    cluster = kc["clusters"][0]["cluster"]
    token = kc["users"][0]["user"]["token"]
    ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    return cluster["server"].rstrip("/"), token, ctx


def _call(sandbox_dir: str | Path | None, method: str, path: str, body: Any = None,
          timeout: float = 60.0) -> dict[str, Any]:
    server, token, ctx = _connection(sandbox_dir)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            message = json.loads(raw).get("message") or raw.decode()
        except (ValueError, AttributeError):
            message = raw.decode(errors="replace") or str(e)
        if e.code == 404:
            message = f"this sandbox has no {path.partition('?')[0]} endpoint (is it an older version?)"
        raise AdminError(message, e.code) from None


def add_registry(sandbox_dir: str | Path | None, host: str, user: str, password: str) -> dict[str, Any]:
    """Add ``user:password`` to registry ``host`` of the running sandbox (starting the registry if new)."""
    return _call(sandbox_dir, "POST", "/lab/registries", {"host": host, "username": user, "password": password})


def list_registries(sandbox_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """The running sandbox's registries (``RegistryFleet.info()``)."""
    return _call(sandbox_dir, "GET", "/lab/registries")["registries"]


def install_kyverno(sandbox_dir: str | Path | None = None, version: str | None = None) -> dict[str, Any]:
    """Install Kyverno in the running sandbox (idempotent): ``{"installed", "created", "version", "namespace"}``."""
    return _call(sandbox_dir, "POST", "/lab/kyverno", {"version": version} if version else {})


def clock_info(sandbox_dir: str | Path | None = None) -> dict[str, Any]:
    """The running sandbox's clock: ``{"now", "speed", "offsetSeconds"}``."""
    return _call(sandbox_dir, "GET", "/lab/clock")


def advance_clock(sandbox_dir: str | Path | None, duration: str | float) -> dict[str, Any]:
    """Fast-forward the running sandbox's clock by ``duration`` (``"12h"`` or seconds); the new clock state.
    Raises :class:`AdminError` (code 400) for a bad or non-positive duration."""
    return _call(sandbox_dir, "POST", "/lab/clock", {"advance": duration})


def kyverno_info(sandbox_dir: str | Path | None = None) -> dict[str, Any]:
    """Whether Kyverno is installed in the running sandbox, and which version it emulates."""
    return _call(sandbox_dir, "GET", "/lab/kyverno")
