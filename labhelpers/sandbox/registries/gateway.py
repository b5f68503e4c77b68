"""A Basic-auth gateway in front of an auth-less Distribution: how the lab's ECR host checks its tokens.

Distribution's htpasswd auth keeps one password per user name (the last line wins), so a second
``aws ecr get-login-password`` would revoke the first. Amazon ECR accepts every unexpired token it issued to
user ``AWS``, each for its own 12 hours. The gateway checks the fleet's live :class:`~.auth.UserTable` on every
request (expiry on the sandbox clock, no file rewrites) and refuses the way ECR does:

* no, malformed or unknown credentials: ``401 Unauthorized`` with
  ``Www-Authenticate: Basic realm="https://<host>/",service="ecr.amazonaws.com"`` and the text body
  ``Not Authorized`` (captured from ECR in NVIDIA/enroot#59; go-containerregistry prints it as
  ``unexpected status code 401 Unauthorized: Not Authorized``);
* a token that was issued but has expired: ``403 Forbidden`` with a ``DENIED`` error, which Docker prints as
  ``denied: Your authorization token has expired. Reauthenticate and try again.``

Accepted requests go to Distribution unchanged, bodies streamed both ways, with the client's ``Host`` header:
Distribution builds upload ``Location`` URLs from it, so they point back at the gateway.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from ._loop import LoopThread
from .auth import Account, AuthenticationFailed, UserTable
from .distribution import API_VERSION_HEADER, RegistryProcess

NOT_AUTHORIZED = "Not Authorized\n"
TOKEN_EXPIRED = "Your authorization token has expired. Reauthenticate and try again."

# RFC 9110 §7.6.1 connection-specific fields, never forwarded by a proxy.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "transfer-encoding", "upgrade"})
# The gateway answers ``Expect: 100-continue`` itself; the credentials stay with it.
_NOT_FORWARDED = HOP_BY_HOP | {"authorization", "expect"}
_CHUNK = 1 << 16


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(user, password) from ``Authorization: Basic ...`` as Go's ``Request.BasicAuth`` reads it, else None."""
    if not header or len(header) < 6 or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class BasicAuthGateway:
    """aiohttp reverse proxy that authenticates with Basic credentials against a :class:`UserTable`.

    ``upstream`` returns the registry's current base URL (it is asked on every request because a restarted
    registry may have moved). Every valid account may do anything, as with htpasswd: ECR's per-repository
    rights live in IAM, which the lab does not model.
    """

    def __init__(self, users: UserTable, upstream: Callable[[], str], *, realm: str, service: str = "") -> None:
        self.users = users
        self.upstream = upstream
        self.realm = realm
        self.service = service
        self.requests: deque[dict[str, Any]] = deque(maxlen=500)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- pure logic -------------------------------------------------------------------------------

    @property
    def challenge(self) -> str:
        text = f'Basic realm="{self.realm}"'
        return text + (f',service="{self.service}"' if self.service else "")

    def authenticate(self, header: str | None) -> Account:
        """The account behind an ``Authorization`` header; :class:`AuthenticationFailed` (reason
        ``missing``, ``unknown-user``, ``bad-password`` or ``expired``) otherwise."""
        creds = parse_basic(header)
        if creds is None:
            raise AuthenticationFailed("missing", "")
        return self.users.authenticate(*creds)

    def refusal(self, reason: str) -> web.Response:
        """ECR's answer to a refused request (``reason`` from :class:`AuthenticationFailed`)."""
        headers = {API_VERSION_HEADER: "registry/2.0"}
        if reason == "expired":
            body = {"errors": [{"code": "DENIED", "message": TOKEN_EXPIRED}]}
            return web.Response(status=403, text=json.dumps(body), content_type="application/json",
                                charset="utf-8", headers=headers)
        return web.Response(status=401, text=NOT_AUTHORIZED, content_type="text/plain", charset="utf-8",
                            headers=headers | {"WWW-Authenticate": self.challenge})

    # -- HTTP -------------------------------------------------------------------------------------

    def _record(self, request: web.Request, username: str, status: int) -> None:
        self.requests.append({"method": request.method, "path": request.path, "username": username,
                              "status": status, "time": time.time()})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            account = self.authenticate(request.headers.get("Authorization"))
        except AuthenticationFailed as e:
            response = self.refusal(e.reason)
            self._record(request, e.username, response.status)
            return response
        response = await self._forward(request)
        self._record(request, account.username, response.status)
        return response

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None, "gateway not started"
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED)
        url = URL(self.upstream().rstrip("/") + request.raw_path, encoded=True)
        try:
            upstream = await self._session.request(
                request.method, url, headers=headers, data=request.content if request.body_exists else None,
                allow_redirects=False, skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"))
        except aiohttp.ClientConnectionError as e:
            return web.Response(status=502, text=f"registry unreachable: {e}\n")
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in upstream.headers.items():
                if k.lower() not in HOP_BY_HOP:
                    response.headers.add(k, v)
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                await response.write(chunk)
            await response.write_eof()
        return response

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int | None = None) -> str:
        """Listen on ``host:port`` (default: the previous port, or any free one) and return the URL."""
        if self._runner is not None:
            return self.url
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, (self.port or 0) if port is None else port))
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._session = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                                              timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        self._runner = runner
        return self.url

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("gateway not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def listening(self) -> bool:
        return self._runner is not None

    async def stop(self) -> None:
        """Stop listening (the port is kept, so :meth:`start` comes back on it)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None


class GatedRegistry:
    """A Distribution process that clients reach only through its gateway (``fleet.registry(host)``).

    ``port``/``url`` are the gateway's, what clients dial. ``kill``/``stop`` take both down so the port
    refuses connections like a crashed registry; ``start`` brings both back on the same ports. Everything
    else (``data_dir``, ``log_path``, ``pid`` ...) is the process's.
    """

    def __init__(self, process: RegistryProcess, gateway: BasicAuthGateway, loop: LoopThread) -> None:
        self.process = process
        self.gateway = gateway
        self.loop = loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self.process, name)

    @property
    def port(self) -> int | None:
        return self.gateway.port

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def running(self) -> bool:
        return self.process.running and self.gateway.listening

    def start(self, timeout: float = 10.0, attempts: int = 3) -> None:
        self.process.start(timeout, attempts)
        self.loop.run(self.gateway.start())

    def _stop_gateway(self) -> None:
        if self.loop.alive:
            with contextlib.suppress(Exception):
                self.loop.run(self.gateway.stop(), timeout=10)

    def stop(self, timeout: float = 3.0) -> None:
        self._stop_gateway()
        self.process.stop(timeout)

    def kill(self) -> None:
        self._stop_gateway()
        self.process.kill()
