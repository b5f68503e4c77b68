"""The running lab registries and the sandbox's "DNS" for them.

:class:`RegistryFleet` starts one real Distribution process per lab host (``docker.io``, ``ghcr.io``, ...,
each on its own loopback port), an in-process token server for every Bearer-auth host, a Basic-auth gateway
in front of every ``auth="basic"`` host (ECR), and seeds each registry with the catalog's images. Everything
else in the sandbox finds a registry through :meth:`RegistryFleet.resolve`, and turns loopback URLs back into
the public names with :meth:`RegistryFleet.public_url` when it prints messages.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import dataclasses
import json
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from . import oci
from ._loop import LoopThread, shared_loop
from .auth import (
    FULL_ACCESS,
    Account,
    Clock,
    Grant,
    HtpasswdCache,
    TokenRealm,
    TokenServer,
    TokenSigner,
    UserTable,
    write_htpasswd,
)
from .catalog import ECR_HOST, HOSTS, HostSpec, ImageSpec, TemporaryLogin
from .client import Credentials, RegistryClient, SyncRegistryClient
from .distribution import (
    HtpasswdAuth,
    RegistryProcess,
    RegistryStartError,
    TokenAuth,
    registry_binary,
    reserve_ports,
)
from .gateway import BasicAuthGateway, GatedRegistry

__all__ = ["HOSTS", "HostSpec", "ImageSpec", "RegistryFleet", "UnknownHostError", "normalize_host"]

TOKEN_ISSUER = "lab-token-issuer"
SEEDER = "lab-seeder"
CREDENTIAL_SYNC_INTERVAL = 0.2  # seconds of real time between expiry checks of htpasswd users


class UnknownHostError(LookupError):
    """A registry host the sandbox DNS does not know (what ``no such host`` is in the real world)."""

    def __init__(self, host: str) -> None:
        super().__init__(f"lookup {host}: no such host")
        self.host = host


def normalize_host(name: str) -> str:
    """``https://index.docker.io/v1/`` -> ``index.docker.io``: the host[:port] part, lower-cased."""
    text = name.strip()
    if "://" in text:
        text = urlsplit(text).netloc
    return text.split("/", 1)[0].lower()


@dataclass
class _Host:
    spec: HostSpec
    users: UserTable
    process: RegistryProcess  # the Distribution process itself
    token: TokenServer | None = None
    htpasswd: HtpasswdCache | None = None
    rendered: frozenset[tuple[str, str]] | None = None
    gated: GatedRegistry | None = None  # process plus its Basic-auth gateway (auth="basic" hosts)

    @property
    def front(self) -> RegistryProcess | GatedRegistry:
        """What clients dial: the gateway when there is one, else Distribution itself."""
        return self.gated or self.process

    @property
    def gateway(self) -> BasicAuthGateway | None:
        return self.gated.gateway if self.gated is not None else None

    @property
    def htpasswd_path(self) -> Path:
        return self.process.state_dir / "htpasswd"


def _dirname(host: str) -> str:
    return host.replace(":", "_")


def _mint_password(style: Literal["ecr", "oauth2", "acr"], expires_at: float) -> str:
    """A fresh credential shaped like the real one (ECR: base64 JSON envelope; GCP: ``ya29.``...)."""
    if style == "ecr":
        envelope = {"payload": base64.b64encode(secrets.token_bytes(96)).decode(),
                    "datakey": base64.b64encode(secrets.token_bytes(48)).decode(),
                    "version": "2", "type": "DATA_KEY", "expiration": int(expires_at)}
        return base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()
    if style == "oauth2":
        return "ya29.lab_" + secrets.token_urlsafe(48)
    return "lab-acr-token." + secrets.token_urlsafe(40)


class RegistryFleet:
    """All lab registries: ``start`` them, ask them things, ``stop`` them.

    ``clock`` is the sandbox clock (seconds, possibly running faster than real time); it decides when
    temporary credentials (ECR 12 h, OAuth 1 h, ACR 3 h) expire.
    """

    def __init__(self, hosts: Sequence[HostSpec] = HOSTS, *, binary: str | None = None,
                 loop: LoopThread | None = None) -> None:
        self.specs = tuple(hosts)
        self.binary = binary
        self._loop = loop
        self._hosts: dict[str, _Host] = {}
        self._names: dict[str, _Host] = {}
        self._images: dict[tuple[str, str, str], oci.OciImage] = {}
        self._sync_lock = threading.Lock()
        self._add_lock = threading.Lock()
        self._sync_task: asyncio.Task[None] | None = None
        self._seeder_password = ""
        self._signer: TokenSigner | None = None
        self._binary: str | None = None
        self.clock: Clock = time.time
        self.state_dir: Path | None = None
        self.timings: dict[str, float] = {}
        self.seeded: list[str] = []  # references pushed by the last start (empty on a warm state dir)

    # ------------------------------------------------------------------------------------ lifecycle

    @property
    def loop(self) -> LoopThread:
        if self._loop is None:
            self._loop = shared_loop()
        return self._loop

    @property
    def started(self) -> bool:
        return bool(self._hosts)

    def start(self, state_dir: str | Path, clock: Clock = time.time) -> RegistryFleet:
        """Start token servers, gateways and registries, seed missing images; idempotent on a warm
        ``state_dir``."""
        if self._hosts:
            raise RuntimeError("registry fleet already started")
        binary = self.binary or registry_binary()
        if binary is None:
            raise RegistryStartError("docker-registry is not installed (apt-get install docker-registry)")
        t0 = time.perf_counter()
        self.clock = clock
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._signer = TokenSigner.load_or_create(self.state_dir / "token-auth")
        self._binary = binary
        self._seeder_password = secrets.token_urlsafe(24)
        try:
            for spec in self.specs:
                self._register(self._build_host(spec))
            hosts = list(self._hosts.values())
            self.loop.run(self._start_servers(hosts))
            t1 = time.perf_counter()
            self.sync_credentials()
            for h, port in zip(hosts, reserve_ports(len(hosts)), strict=True):
                h.process.port = port
                h.process.spawn()
            for h in hosts:
                h.process.finish_start()
            t2 = time.perf_counter()
            self.seeded = self.loop.run(self._seed(hosts), timeout=120)
            t3 = time.perf_counter()
            self._sync_task = self.loop.run(self._start_sync_task())
        except BaseException:
            self.stop()
            raise
        self.timings = {"token_servers": t1 - t0, "registries": t2 - t1, "seed": t3 - t2,
                        "total": time.perf_counter() - t0}
        atexit.register(self.stop)
        return self

    def add_host(self, spec: HostSpec) -> None:
        """Start one more registry host on the running fleet: its process, token server or gateway, accounts
        and images, then make its names resolve (instructor-added registries, ``labctl sandbox registry add``).

        Blocking (process start, seeding): call it from a worker thread, never from an event loop. Raises
        ``ValueError`` when one of its names is already served and :class:`RegistryStartError` when the
        registry does not come up (nothing of the host is left running then).
        """
        with self._add_lock:
            if not self._hosts:
                raise RuntimeError("registry fleet is not started")
            taken = [n.lower() for n in spec.names if n.lower() in self._names]
            if taken:
                raise ValueError(f"registry host {taken[0]} already exists")
            h = self._build_host(spec)
            try:
                self.loop.run(self._start_servers([h]))
                with self._sync_lock:
                    self._render_htpasswd(h)  # before the process starts: it would invent a user otherwise
                h.process.start()
                self.loop.run(self._seed([h]), timeout=120)
            except BaseException:
                h.process.stop()
                if self.loop.alive:
                    with contextlib.suppress(Exception):
                        self.loop.run(self._stop_servers([h]), timeout=10)
                raise
            self._register(h)
            self.specs = (*self.specs, spec)

    def _build_host(self, spec: HostSpec) -> _Host:
        """Users, auth config and (not yet started) process for ``spec``."""
        assert self.state_dir is not None and self._signer is not None
        users = UserTable(spec.accounts, self.clock)
        users.add(Account(SEEDER, self._seeder_password, FULL_ACCESS, hidden=True, note="fleet seeding"))
        for tmp in spec.temporary:
            users.add(self._mint(tmp))
        hdir = self.state_dir / "registries" / _dirname(spec.host)
        token: TokenServer | None = None
        auth: HtpasswdAuth | TokenAuth | None = None
        if spec.auth == "token":
            realm = TokenRealm(spec.service, users, spec.public_repositories, spec.anonymous, TOKEN_ISSUER)
            token = TokenServer(realm, self._signer, path=spec.token_path)
            auth = TokenAuth("", spec.service, TOKEN_ISSUER, self._signer.ca_bundle or Path())  # realm set later
        elif spec.auth == "htpasswd":
            auth = HtpasswdAuth(spec.basic_realm or spec.host, hdir / "htpasswd")
        process = RegistryProcess(spec.host, hdir, auth, binary=self._binary)
        gated: GatedRegistry | None = None
        if spec.auth == "basic":  # Distribution without auth, reachable only through the gateway
            gateway = BasicAuthGateway(users, lambda: process.url, realm=spec.basic_realm or spec.host,
                                       service=spec.service)
            gated = GatedRegistry(process, gateway, self.loop)
        htpasswd = HtpasswdCache() if spec.auth == "htpasswd" else None
        return _Host(spec, users, process, token, htpasswd, gated=gated)

    def _register(self, h: _Host) -> None:
        self._hosts[h.spec.host] = h
        for name in h.spec.names:
            self._names[name.lower()] = h

    @staticmethod
    async def _start_servers(hosts: Iterable[_Host]) -> None:
        """Token servers (their URL goes into the registry config) and gateways of ``hosts``."""
        for h in hosts:
            if h.token is not None:
                url = await h.token.start()
                assert isinstance(h.process.auth, TokenAuth)
                h.process.auth = dataclasses.replace(h.process.auth, realm=url)
            if h.gateway is not None:
                await h.gateway.start()

    @staticmethod
    async def _stop_servers(hosts: Iterable[_Host]) -> None:
        for h in hosts:
            if h.token is not None:
                await h.token.stop()
            if h.gateway is not None:
                await h.gateway.stop()

    async def _start_sync_task(self) -> asyncio.Task[None]:
        async def sync_forever() -> None:
            while True:
                await asyncio.sleep(CREDENTIAL_SYNC_INTERVAL)
                try:
                    self.sync_credentials()
                except OSError:  # state dir removed under us: nothing left to protect
                    return

        return asyncio.get_running_loop().create_task(sync_forever())

    def stop(self) -> None:
        """Stop every registry process, token server and gateway; safe to call twice."""
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if self._sync_task is not None:
            self.loop.loop.call_soon_threadsafe(self._sync_task.cancel)
            self._sync_task = None
        hosts = list(self._hosts.values())
        for h in hosts:
            h.process.terminate()
        for h in hosts:
            h.process.stop()
        if self._loop is not None and self._loop.alive:
            with contextlib.suppress(Exception):
                self.loop.run(self._stop_servers(hosts), timeout=10)
        self._hosts.clear()
        self._names.clear()

    def __enter__(self) -> RegistryFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------ images

    def image(self, host: str, repository: str, tag: str) -> oci.OciImage:
        """The deterministic image the fleet serves (or would serve) at ``host/repository:tag``."""
        return self._image(self._spec(host).host, repository, tag)

    def _image(self, canonical_host: str, repository: str, tag: str) -> oci.OciImage:
        key = (canonical_host, repository, tag)
        if key not in self._images:
            self._images[key] = oci.build_image(f"{canonical_host}/{repository}:{tag}")
        return self._images[key]

    def _tag_link(self, h: _Host, img: ImageSpec) -> Path:
        return (h.process.data_dir / "docker/registry/v2/repositories" / img.repository / "_manifests/tags"
                / img.tag / "current/link")

    async def _seed(self, hosts: Iterable[_Host]) -> list[str]:
        """Push the catalog images that the storage does not already hold at the expected digest.

        The check reads the filesystem driver's tag link, so a warm start costs no HTTP or bcrypt. Pushes go
        through the host's front door (gateway or Distribution's own auth) as the hidden seeding account.
        """
        async def seed_host(h: _Host) -> list[str]:
            todo = []
            for img in h.spec.images:
                want = self._image(h.spec.host, img.repository, img.tag).digest
                link = self._tag_link(h, img)
                if not (link.is_file() and link.read_text().strip() == want):
                    todo.append(img)
            if not todo:
                return []
            async with RegistryClient(h.front.url, Credentials(SEEDER, self._seeder_password)) as c:
                for img in todo:
                    await c.push_image(img.repository, img.tag, self._image(h.spec.host, img.repository, img.tag))
            return [img.reference(h.spec.host) for img in todo]

        results = await asyncio.gather(*(seed_host(h) for h in hosts))
        return [ref for refs in results for ref in refs]

    # ------------------------------------------------------------------------------------ users

    def _mint(self, tmp: TemporaryLogin) -> Account:
        expires = self.clock() + tmp.ttl
        return Account(tmp.username, _mint_password(tmp.style, expires), tmp.grants, expires_at=expires,
                       note=tmp.note)

    def add(self, host: str, username: str, password: str, *, grants: tuple[Grant, ...] = FULL_ACCESS,
            expires_at: float | None = None, password_format: Literal["text", "json"] = "text") -> Account:
        """Create a registry account (a ``docker login``-able user); ``expires_at`` is sandbox-clock time.

        On htpasswd registries ``grants`` cannot be enforced: Distribution lets every valid user do anything.
        """
        h = self._host(host)
        account = Account(username, password, grants, expires_at, password_format)
        h.users.add(account)
        self.sync_credentials()
        return account

    def remove(self, host: str, username: str, password: str | None = None) -> int:
        """Delete an account (all its passwords, or just ``password``); returns how many entries went."""
        h = self._host(host)
        if username == SEEDER:
            raise ValueError("the seeding account is internal")
        n = h.users.remove(username, password)
        self.sync_credentials()
        return n

    def issue_login(self, host: str, username: str | None = None) -> Account:
        """Mint a temporary credential (``aws ecr get-login-password`` and friends) valid from now."""
        h = self._host(host)
        for tmp in h.spec.temporary:
            if username is None or tmp.username == username:
                account = self._mint(tmp)
                h.users.add(account)
                self.sync_credentials()
                return account
        raise KeyError(f"{h.spec.host} issues no temporary credentials for {username or 'any user'}")

    def ecr_login_password(self, host: str | None = None) -> str:
        """What ``aws ecr get-login-password`` prints: a fresh 12-hour password for user ``AWS``."""
        return self.issue_login(host or ECR_HOST, "AWS").password

    def sync_credentials(self) -> None:
        """Rewrite htpasswd files whose set of unexpired users changed (Distribution re-reads on change).

        Token servers and gateways read the user table live and need no sync.
        """
        with self._sync_lock:
            for h in list(self._hosts.values()):
                self._render_htpasswd(h)

    def clock_advanced(self, _seconds: float = 0.0) -> None:
        """The sandbox clock was fast-forwarded: drop expired htpasswd users now, not at the next poll (a
        clock listener; token servers and gateways check expiry on every request anyway)."""
        if self._sync_task is not None and self.loop.alive:
            self.loop.loop.call_soon_threadsafe(self._sync_quietly)

    def _sync_quietly(self) -> None:
        with contextlib.suppress(OSError):
            self.sync_credentials()

    @staticmethod
    def _render_htpasswd(h: _Host) -> None:
        if h.htpasswd is None:
            return
        valid = h.users.valid()
        key = frozenset((a.username, a.password) for a in valid)
        if key == h.rendered:
            return
        h.process.state_dir.mkdir(parents=True, exist_ok=True)
        write_htpasswd(h.htpasswd_path, [h.htpasswd.line(a.username, a.password) for a in valid])
        h.rendered = key

    # ------------------------------------------------------------------------------------ lookups

    def _spec(self, host: str) -> HostSpec:
        name = normalize_host(host)
        if name in self._names:
            return self._names[name].spec
        for spec in self.specs:
            if name in (n.lower() for n in spec.names):
                return spec
        raise UnknownHostError(name)

    def _host(self, host: str) -> _Host:
        if not self._hosts:
            raise RuntimeError("registry fleet is not started")
        name = normalize_host(host)
        try:
            return self._names[name]
        except KeyError:
            raise UnknownHostError(name) from None

    def resolve(self, host: str) -> str:
        """Sandbox DNS: ``docker.io``/``index.docker.io``/... -> ``http://127.0.0.1:PORT``.

        Token-only hosts resolve too (``auth.docker.io`` -> its token server's origin).
        """
        if not self._hosts:
            raise RuntimeError("registry fleet is not started")
        name = normalize_host(host)
        if name in self._names:
            return self._names[name].front.url
        for h in self._hosts.values():
            if h.token is not None and urlsplit(h.spec.token_origin).netloc == name:
                return f"http://127.0.0.1:{h.token.port}"
        raise UnknownHostError(name)

    def host_of(self, url_or_host: str) -> str:
        """Canonical lab host (``docker.io``) for an alias or a loopback URL of one of our registries."""
        name = normalize_host(url_or_host)
        for h in self._hosts.values():
            if name in (n.lower() for n in h.spec.names) or name == f"127.0.0.1:{h.front.port}":
                return h.spec.host
        raise UnknownHostError(name)

    def public_url(self, url: str) -> str:
        """Rewrite a loopback URL into the public one a real node would have used (for messages)."""
        parts = urlsplit(url)
        for h in self._hosts.values():
            if parts.netloc == f"127.0.0.1:{h.front.port}":
                return url.replace(f"{parts.scheme}://{parts.netloc}", f"https://{h.spec.endpoint_host}", 1)
            if h.token is not None and parts.netloc == f"127.0.0.1:{h.token.port}":
                return url.replace(f"{parts.scheme}://{parts.netloc}", h.spec.token_origin, 1)
        return url

    def registry(self, host: str) -> RegistryProcess | GatedRegistry:
        """The registry behind ``host`` (tests and outage demos call ``.kill()``/``.start()`` on it).

        For a gateway host (ECR) that is the process together with its gateway: ``port``/``url`` are the
        gateway's and killing it closes both, so clients see a refused connection as with any other host.
        """
        return self._host(host).front

    def gateway(self, host: str) -> BasicAuthGateway | None:
        """The Basic-auth gateway in front of ``host`` (``auth="basic"`` hosts), else None."""
        return self._host(host).gateway

    def token_server(self, host: str) -> TokenServer | None:
        return self._host(host).token

    def users(self, host: str) -> UserTable:
        return self._host(host).users

    @property
    def hosts(self) -> list[str]:
        return [s.host for s in self.specs]

    def client(self, host: str, username: str | None = None, password: str | None = None) -> SyncRegistryClient:
        """Blocking client for ``host`` (anonymous unless credentials are given)."""
        creds = Credentials(username, password or "") if username is not None else None
        return SyncRegistryClient(self.resolve(host), creds, loop=self.loop)

    def info(self) -> list[dict[str, Any]]:
        """Everything a notebook or the kubelet needs to know about each host, minus internals."""
        out = []
        now = self.clock()
        for h in self._hosts.values():
            spec = h.spec
            entry: dict[str, Any] = {
                "host": spec.host,
                "aliases": list(spec.aliases),
                "url": h.front.url,
                "auth": spec.auth,
                "endpoint": f"https://{spec.endpoint_host}",
                "description": spec.description,
                "users": [a.public_dict() | ({"expired": a.expired(now)} if a.expires_at is not None else {})
                          for a in h.users.accounts(include_hidden=False)],
                "images": [
                    {"name": img.repository, "tag": img.tag, "reference": img.reference(spec.host),
                     "digest": self.image(spec.host, img.repository, img.tag).digest, "public": img.public}
                    for img in spec.images
                ],
                "log": str(h.process.log_path),
            }
            if h.token is not None:
                entry.update(service=spec.service, token_url=h.token.url, token_realm=spec.public_token_realm,
                             anonymous=spec.anonymous)
            else:
                entry["basic_realm"] = spec.basic_realm or spec.host
                if spec.service:
                    entry["service"] = spec.service
            out.append(entry)
        return out
