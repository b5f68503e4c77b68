"""A small OCI distribution client on aiohttp (plus a blocking wrapper for notebooks and tests).

It follows the path a container runtime takes: send the request, and on 401 read the ``WWW-Authenticate``
challenge; for ``Basic`` resend with the credentials, for ``Bearer`` fetch a token from the realm (with Basic
credentials, or anonymously) and resend. Failures raise exceptions that keep everything a kubelet needs to
rebuild containerd's messages: HTTP status and reason phrase, the registry's ``errors[]`` body, the challenge,
and for token failures the exact token URL (query encoded like Go's ``url.Values.Encode``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import aiohttp

from . import oci
from ._loop import LoopThread, shared_loop

MANIFEST_ACCEPT = ", ".join([oci.OCI_MANIFEST, oci.OCI_INDEX, oci.DOCKER_MANIFEST, oci.DOCKER_MANIFEST_LIST])
USER_AGENT = "labhelpers-oci-client/0.1"


# ----------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of the distribution error body ``{"errors":[{"code","message","detail"}]}``."""

    code: str
    message: str
    detail: Any = None


def parse_error_body(body: bytes) -> list[ErrorDetail]:
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    errs = doc.get("errors")
    if isinstance(errs, list):
        return [ErrorDetail(str(e.get("code", "")), str(e.get("message", "")), e.get("detail"))
                for e in errs if isinstance(e, dict)]
    if "details" in doc:  # Docker Hub's token endpoint: {"details": "incorrect username or password"}
        return [ErrorDetail("", str(doc["details"]))]
    return []


class RegistryClientError(Exception):
    """Base class for everything this client raises."""


class RegistryError(RegistryClientError):
    """A non-success HTTP answer from a registry or token endpoint."""

    def __init__(self, method: str, url: str, status: int, reason: str, errors: list[ErrorDetail],
                 challenge: Challenge | None = None, body: bytes = b"") -> None:
        self.method = method
        self.url = url
        self.status = status
        self.reason = reason
        self.errors = errors
        self.challenge = challenge
        self.body = body
        super().__init__(self._describe())

    @property
    def status_text(self) -> str:
        """``401 Unauthorized``: Go's ``resp.Status``, which containerd prints."""
        return f"{self.status} {self.reason}".strip()

    @property
    def code(self) -> str:
        return self.errors[0].code if self.errors else ""

    @property
    def message(self) -> str:
        return self.errors[0].message if self.errors else ""

    @property
    def detail(self) -> Any:
        return self.errors[0].detail if self.errors else None

    def _describe(self) -> str:
        text = f"{self.method} {self.url}: {self.status_text}"
        if self.errors:
            text += ": " + "; ".join(f"{e.code.lower() or 'error'}: {e.message}" for e in self.errors)
        return text


class AuthorizationError(RegistryError):
    """401/403 from the registry itself (no, wrong or insufficient credentials)."""

    @property
    def challenge_error(self) -> str:
        """The challenge's ``error`` param (``invalid_token``, ``insufficient_scope``) or ''."""
        return self.challenge.params.get("error", "") if self.challenge else ""


class NotFoundError(RegistryError):
    """404: ``MANIFEST_UNKNOWN``, ``BLOB_UNKNOWN``, ``NAME_UNKNOWN``."""


class TokenFetchError(RegistryError):
    """The token realm refused to issue a token; ``anonymous`` tells containerd's two wordings apart
    ("failed to fetch anonymous token" vs "failed to fetch oauth token")."""

    def __init__(self, *args: Any, anonymous: bool, **kwargs: Any) -> None:
        self.anonymous = anonymous
        super().__init__(*args, **kwargs)


class DigestMismatchError(RegistryClientError):
    """Content whose sha256 differs from the digest it was fetched by: corruption or a lying registry."""

    def __init__(self, expected: str, actual: str, what: str = "content") -> None:
        self.expected = expected
        self.actual = actual
        self.what = what
        super().__init__(f"{what} digest mismatch: expected {expected}, got {actual}")


class RegistryUnreachableError(RegistryClientError, ConnectionError):
    """TCP-level failure (registry down: connection refused). ``describe`` mimics Go's dial error text."""

    def __init__(self, method: str, url: str, cause: BaseException) -> None:
        self.method = method
        self.url = url
        self.cause = cause
        self.address = urlsplit(url).netloc
        os_err = getattr(cause, "os_error", None) or cause
        code = getattr(os_err, "errno", None)
        # asyncio words it "Connect call failed (...)"; Go prints the errno text ("connection refused").
        reason = (os.strerror(code) if code else str(os_err)).lower()
        super().__init__(f"{method} {url}: dial tcp {self.address}: connect: {reason}")
        # OSError.__init__ resets errno/strerror, so set them afterwards
        self.errno = code
        self.strerror = reason

    def describe(self) -> str:
        return f"dial tcp {self.address}: connect: {self.strerror}"


# -------------------------------------------------------------------------------------------- challenges


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge, e.g. ``Bearer realm=..,service=..,scope=..``."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def scope(self) -> str:
        return self.params.get("scope", "")


_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM_RE = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
_SCHEME_RE = re.compile(rf"\s*({_TOKEN})(?=\s|$|,)\s*,?")


def parse_www_authenticate(value: str) -> list[Challenge]:
    """RFC 7235 challenges; quoted values may contain commas (``scope="repository:a:pull,push"``)."""
    out: list[Challenge] = []
    scheme: str | None = None
    params: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        m = _PARAM_RE.match(value, pos)
        if m and scheme is not None:
            raw = m.group(2)
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params[m.group(1).lower()] = raw
            pos = m.end()
            continue
        s = _SCHEME_RE.match(value, pos)
        if not s:
            break
        if scheme is not None:
            out.append(Challenge(scheme, params))
        scheme, params, pos = s.group(1), {}, s.end()
    if scheme is not None:
        out.append(Challenge(scheme, params))
    return out


def go_query(params: Mapping[str, str | list[str]]) -> str:
    """Go's ``url.Values.Encode``: keys sorted, ``QueryEscape`` (space as ``+``, ``:`` and ``/`` escaped)."""
    pairs: list[tuple[str, str]] = []
    for k in sorted(params):
        vals = params[k]
        for v in [vals] if isinstance(vals, str) else vals:
            pairs.append((k, v))
    return urlencode(pairs, quote_via=lambda s, safe, enc, err: quote(s, safe="", encoding=enc, errors=err)
                     ).replace("%20", "+")


# -------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def basic_header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class Manifest:
    media_type: str
    digest: str
    data: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.data)

    @property
    def is_index(self) -> bool:
        return self.media_type in oci.INDEX_MEDIA_TYPES


@dataclass(frozen=True)
class PulledImage:
    """Everything a pull fetched, verified: the platform manifest, its config and its layers."""

    reference: str
    digest: str  # the digest the tag resolved to (the index digest for multi-arch tags)
    manifest: Manifest
    config: bytes
    layers: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return len(self.manifest.data) + len(self.config) + sum(len(b) for b in self.layers)

    @property
    def config_json(self) -> dict[str, Any]:
        return json.loads(self.config)


def _verify(expected: str, data: bytes, what: str) -> None:
    alg, _ = oci.parse_digest(expected)
    actual = oci.compute_digest(alg, data)
    if actual != expected:
        raise DigestMismatchError(expected, actual, what)


def _is_digest(reference: str) -> bool:
    return ":" in reference


# --------------------------------------------------------------------------------------------- client


class RegistryClient:
    """Async client for one registry base URL (``http://127.0.0.1:PORT``); one per set of credentials.

    Tokens are cached per scope, Basic credentials are sent up front once a Basic challenge was seen.
    Use as ``async with RegistryClient(url, Credentials(u, p)) as c: await c.pull("repo", "tag")``.
    """

    def __init__(self, base_url: str, credentials: Credentials | None = None, *,
                 session: aiohttp.ClientSession | None = None, timeout: float = 30.0,
                 user_agent: str = USER_AGENT) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._user_agent = user_agent
        self._basic = False
        self._tokens: dict[str, str] = {}
        self.token_requests = 0

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout,
                                                  headers={"User-Agent": self._user_agent})
            self._own_session = True
        return self._session

    # -- transport -------------------------------------------------------------------------------

    async def _send(self, method: str, url: str, headers: dict[str, str], data: bytes | None
                    ) -> tuple[int, str, Mapping[str, str], bytes]:
        try:
            async with self._http().request(method, url, headers=headers, data=data,
                                            allow_redirects=True) as resp:
                body = await resp.read()
                return resp.status, resp.reason or "", resp.headers, body
        except aiohttp.ClientConnectorError as e:
            raise RegistryUnreachableError(method, url, e) from e
        except aiohttp.ServerDisconnectedError as e:
            raise RegistryUnreachableError(method, url, ConnectionResetError("connection reset by peer")) from e

    def _auth_header(self, scope: str) -> str | None:
        if scope in self._tokens:
            return "Bearer " + self._tokens[scope]
        if self._basic and self.credentials:
            return self.credentials.basic_header()
        return None

    async def _request(self, method: str, path: str, *, scope: str, headers: Mapping[str, str] | None = None,
                       data: bytes | None = None, ok: tuple[int, ...] = (200,)
                       ) -> tuple[int, Mapping[str, str], bytes]:
        url = path if path.startswith("http") else self.base_url + path
        for attempt in range(2):
            hdrs = dict(headers or {})
            auth = self._auth_header(scope)
            if auth:
                hdrs["Authorization"] = auth
            status, reason, resp_headers, body = await self._send(method, url, hdrs, data)
            if status in ok:
                return status, resp_headers, body
            challenges = [c for v in resp_headers.getall("WWW-Authenticate", [])  # type: ignore[attr-defined]
                          for c in parse_www_authenticate(v)]
            challenge = challenges[0] if challenges else None
            if status == 401 and attempt == 0 and challenge is not None and await self._answer(challenge, scope):
                continue
            raise _error_for(method, url, status, reason, body, challenge)
        raise AssertionError("unreachable")

    async def _answer(self, challenge: Challenge, scope: str) -> bool:
        """Prepare credentials for a retry; False when retrying cannot change the outcome."""
        scheme = challenge.scheme.lower()
        if scheme == "basic":
            if self.credentials is None or self._basic:
                return False
            self._basic = True
            return True
        if scheme == "bearer" and challenge.realm:
            if scope in self._tokens and challenge.params.get("error") != "invalid_token":
                return False  # we already hold a token for this scope and it is not enough
            # Ask for what this operation needs plus what the challenge names (a push's HEAD is challenged
            # for pull only, but the token must also cover the POST that follows).
            wanted = " ".join(dict.fromkeys(s for s in (scope, challenge.scope) if s))
            self._tokens[scope] = await self.fetch_token(challenge, wanted)
            return True
        return False

    async def fetch_token(self, challenge: Challenge, scope: str = "") -> str:
        """GET the realm with ``service``/``scope`` (and Basic credentials if we have them)."""
        params: dict[str, str | list[str]] = {}
        if scope:
            params["scope"] = scope.split(" ")
        if challenge.service:
            params["service"] = challenge.service
        query = go_query(params)
        url = challenge.realm + ("&" if "?" in challenge.realm else "?") + query if query else challenge.realm
        headers = {"Authorization": self.credentials.basic_header()} if self.credentials else {}
        self.token_requests += 1
        status, reason, _, body = await self._send("GET", url, headers, None)
        if status != 200:
            raise TokenFetchError("GET", url, status, reason, parse_error_body(body), None, body,
                                  anonymous=self.credentials is None)
        doc = json.loads(body)
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise TokenFetchError("GET", url, status, reason, [ErrorDetail("", "no token in response")], None,
                                  body, anonymous=self.credentials is None)
        return str(token)

    # -- read API --------------------------------------------------------------------------------

    async def ping(self) -> int:
        """``GET /v2/`` with authentication; returns 200 or raises (401 when the credentials are rejected)."""
        status, _, _ = await self._request("GET", "/v2/", scope="")
        return status

    async def get_manifest(self, repository: str, reference: str, *, accept: str = MANIFEST_ACCEPT) -> Manifest:
        _, headers, body = await self._request(
            "GET", f"/v2/{repository}/manifests/{reference}", scope=_pull(repository),
            headers={"Accept": accept})
        expected = reference if _is_digest(reference) else headers.get("Docker-Content-Digest")
        if expected:
            _verify(expected, body, "manifest")
        media_type = headers.get("Content-Type", "").split(";")[0].strip()
        with contextlib.suppress(ValueError, AttributeError):
            media_type = json.loads(body).get("mediaType") or media_type
        return Manifest(media_type, expected or oci.sha256_digest(body), body)

    async def head_manifest(self, repository: str, reference: str, *, accept: str = MANIFEST_ACCEPT
                            ) -> Descriptor:
        _, headers, _ = await self._request(
            "HEAD", f"/v2/{repository}/manifests/{reference}", scope=_pull(repository),
            headers={"Accept": accept})
        return Descriptor(headers.get("Content-Type", "").split(";")[0].strip(),
                          headers.get("Docker-Content-Digest", ""), int(headers.get("Content-Length", 0)))

    async def get_blob(self, repository: str, digest: str) -> bytes:
        """Fetch a blob and check its digest (raises :class:`DigestMismatchError` on corruption)."""
        _, _, body = await self._request("GET", f"/v2/{repository}/blobs/{digest}", scope=_pull(repository))
        _verify(digest, body, "blob")
        return body

    async def blob_exists(self, repository: str, digest: str) -> bool:
        try:
            await self._request("HEAD", f"/v2/{repository}/blobs/{digest}", scope=_pull(repository))
            return True
        except NotFoundError:
            return False

    async def list_tags(self, repository: str) -> list[str]:
        """All tags, following ``Link`` pagination."""
        tags: list[str] = []
        path: str | None = f"/v2/{repository}/tags/list"
        while path:
            _, headers, body = await self._request("GET", path, scope=_pull(repository))
            tags.extend(json.loads(body).get("tags") or [])
            link = headers.get("Link", "")
            m = re.match(r"<([^>]+)>", link)
            path = urljoin(self.base_url + "/", m.group(1)) if m else None
        return tags

    async def pull(self, repository: str, reference: str, *, os: str = "linux",
                   architecture: str = "amd64") -> PulledImage:
        """Resolve ``reference`` (through an index if needed) and fetch config and layers, verified."""
        top = await self.get_manifest(repository, reference)
        manifest = top
        if top.is_index:
            entry = oci.select_platform(top.json(), os=os, architecture=architecture)
            manifest = await self.get_manifest(repository, entry["digest"])
        doc = manifest.json()
        config = await self.get_blob(repository, doc["config"]["digest"])
        layers = tuple([await self.get_blob(repository, layer["digest"]) for layer in doc.get("layers", [])])
        return PulledImage(f"{repository}:{reference}", top.digest, manifest, config, layers)

    # -- write API -------------------------------------------------------------------------------

    async def push_blob(self, repository: str, data: bytes) -> str:
        """Monolithic upload: ``POST`` a session then ``PUT ?digest=`` (2.8 ignores a body on the POST)."""
        digest = oci.sha256_digest(data)
        scope = _push(repository)
        if await self._blob_exists_for_push(repository, digest):
            return digest
        _, headers, _ = await self._request("POST", f"/v2/{repository}/blobs/uploads/", scope=scope, ok=(202,))
        location = urljoin(self.base_url + "/", headers["Location"])
        location += ("&" if "?" in location else "?") + "digest=" + quote(digest, safe="")
        await self._request("PUT", location, scope=scope, data=data, ok=(201,),
                            headers={"Content-Type": "application/octet-stream"})
        return digest

    async def _blob_exists_for_push(self, repository: str, digest: str) -> bool:
        try:
            await self._request("HEAD", f"/v2/{repository}/blobs/{digest}", scope=_push(repository))
            return True
        except NotFoundError:
            return False

    async def push_manifest(self, repository: str, reference: str, data: bytes,
                            media_type: str = oci.OCI_MANIFEST) -> str:
        _, headers, _ = await self._request(
            "PUT", f"/v2/{repository}/manifests/{reference}", scope=_push(repository), data=data, ok=(201,),
            headers={"Content-Type": media_type})
        digest = oci.sha256_digest(data)
        returned = headers.get("Docker-Content-Digest")
        if returned and returned != digest:
            raise DigestMismatchError(digest, returned, "pushed manifest")
        return digest

    async def push_image(self, repository: str, tag: str, image: oci.OciImage) -> str:
        for blob in image.blobs:
            await self.push_blob(repository, blob.data)
        return await self.push_manifest(repository, tag, image.manifest, image.media_type)


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _push(repository: str) -> str:
    return f"repository:{repository}:pull,push"


def _error_for(method: str, url: str, status: int, reason: str, body: bytes, challenge: Challenge | None
               ) -> RegistryError:
    errors = parse_error_body(body)
    cls: type[RegistryError] = RegistryError
    if status in (401, 403):
        cls = AuthorizationError
    elif status == 404:
        cls = NotFoundError
    return cls(method, url, status, reason, errors, challenge, body)


# ---------------------------------------------------------------------------------------- sync wrapper


class SyncRegistryClient:
    """Blocking facade over :class:`RegistryClient` for notebooks and tests.

    Calls run on a private background loop, so this works even where an event loop is already running
    (Jupyter). Every async method of the wrapped client is available with the same arguments. Each call
    closes its HTTP session, so a forgotten wrapper leaks nothing; cached tokens are kept.
    """

    def __init__(self, base_url: str, credentials: Credentials | None = None, *, timeout: float = 30.0,
                 loop: LoopThread | None = None) -> None:
        self._loop = loop or shared_loop()
        self.client = RegistryClient(base_url, credentials, timeout=timeout)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        async def run_and_release(*args: Any, **kwargs: Any) -> Any:
            try:
                return await attr(*args, **kwargs)
            finally:
                await self.client.close()  # tokens survive on the client; no session outlives the call

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run(run_and_release(*args, **kwargs))

        call.__name__ = name
        call.__doc__ = attr.__doc__
        return call

    def close(self) -> None:
        self._loop.run(self.client.close())

    def __enter__(self) -> SyncRegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
