"""The node's image service: what containerd's CRI plugin does for the kubelet, against the lab registries.

Pulls are real: the image's host goes through the sandbox "DNS" (:meth:`RegistryFleet.resolve`), the manifest
and blobs are fetched from a real Distribution process with containerd's auth flows, and every digest is
checked. What the kubelet gets back on failure is the error text containerd 1.7 produces (with the gRPC
``Unknown`` wrapper already stripped, as kubelets since v1.28 do), rebuilt from the HTTP exchange: the public
registry host and token URL rather than the sandbox's loopback addresses, ``[manifests v1]``, ``401
Unauthorized`` and so on. Successfully pulled images stay in a node cache that survives restarts, which is
what ``imagePullPolicy: IfNotPresent`` consults.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ...images import Reference, go_quote, parse_docker_ref
from ...images.keyring import AuthConfig
from ..registries import (
    AuthorizationError,
    Credentials,
    DigestMismatchError,
    NotFoundError,
    RegistryClient,
    RegistryError,
    RegistryFleet,
    RegistryUnreachableError,
    TokenFetchError,
    UnknownHostError,
)

__all__ = ["CriError", "ImageRecord", "ImageService", "PullResult", "PullTarget", "aggregate_errors",
           "cri_error_for", "go_duration"]

log = logging.getLogger("labhelpers.sandbox.kubelet")

DOCKER_HUB_ENDPOINT = "registry-1.docker.io"


class CriError(Exception):
    """A failed CRI call; ``str()`` is exactly the error text the kubelet sees."""


@dataclass
class ImageRecord:
    """One image in the node's store (``crictl images`` / node status ``images``)."""

    id: str  # sha256 of the config: containerd's image ID
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    size: int = 0

    @property
    def ref(self) -> str:
        """``GetImageRef``: the first repo digest, else the ID."""
        return self.repo_digests[0] if self.repo_digests else self.id


@dataclass(frozen=True)
class PullResult:
    image: ImageRecord
    duration: float  # seconds spent in the CRI pull calls (all credentials tried)
    credentials: AuthConfig | None


# --- Go formatting -------------------------------------------------------------------------------------------


def go_duration(seconds: float) -> str:
    """``time.Duration.String()`` of a duration truncated to milliseconds (``1.042s``, ``512ms``, ``1m2.5s``)."""
    ms = int(seconds * 1000 + 1e-9)
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, frac = divmod(rest, 1000)
    text = f"{secs}" + (f".{frac:03d}".rstrip("0") if frac else "") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def aggregate_errors(messages: list[str]) -> str:
    """``utilerrors.NewAggregate(errs).Error()``: one error as itself, identical ones once, else ``[a, b]``."""
    if len(messages) == 1:
        return messages[0]
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# --- containerd's error texts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullTarget:
    """Where a pull goes, in the names containerd prints."""

    reference: str  # normalised docker reference: docker.io/library/nginx:latest (tag dropped next to a digest)
    domain: str  # registry host as in the reference: docker.io, registry.lab.local:5000
    endpoint: str  # the host containerd dials: registry-1.docker.io, registry.lab.local:5000
    repository: str  # library/nginx
    object: str  # tag or digest

    @classmethod
    def of(cls, ref: Reference, endpoint: str | None = None) -> PullTarget:
        domain = ref.domain
        ep = endpoint or (DOCKER_HUB_ENDPOINT if domain == "docker.io" else domain)
        return cls(str(ref), domain, ep, ref.path, ref.digest or ref.tag)

    @property
    def manifest_url(self) -> str:
        return f"https://{self.endpoint}/v2/{self.repository}/manifests/{self.object}"


def _cri(target: PullTarget, cause: str, code: str = "Unknown", *, resolve: bool = True) -> CriError:
    """containerd's wrapping: CRI ``failed to pull and unpack image``, client ``failed to resolve reference``,
    and gRPC codes other than Unknown kept as ``rpc error: code = X desc = ...`` by the kubelet."""
    ref = go_quote(target.reference)
    inner = f"failed to resolve reference {ref}: {cause}" if resolve else cause
    text = f"failed to pull and unpack image {ref}: {inner}"
    return CriError(text if code == "Unknown" else f"rpc error: code = {code} desc = {text}")


def cri_error_for(exc: BaseException, target: PullTarget, public_url: Callable[[str], str] = lambda u: u
                  ) -> CriError:
    """Translate a registry-client failure into containerd's PullImage error for ``target``."""
    if isinstance(exc, CriError):
        return exc
    url = getattr(exc, "url", "") or ""
    on_blob = "/blobs/" in url
    if isinstance(exc, UnknownHostError):
        host = exc.host.rsplit(":", 1)[0] if exc.host.count(":") == 1 else exc.host
        return _cri(target, f'failed to do request: Head "{target.manifest_url}": dial tcp: lookup {host}: '
                            "no such host")
    if isinstance(exc, RegistryUnreachableError):
        if on_blob:
            return _cri(target, f'failed to copy: httpReadSeeker: failed open: failed to do request: '
                                f'Get "{public_url(url)}": {exc.describe()}', resolve=False)
        if "/v2/" not in url:  # the token endpoint
            return _cri(target, f'failed to authorize: failed to fetch anonymous token: Get "{public_url(url)}": '
                                f"{exc.describe()}")
        return _cri(target, f'failed to do request: Head "{target.manifest_url}": {exc.describe()}')
    if isinstance(exc, TokenFetchError):
        kind = "anonymous" if exc.anonymous else "oauth"
        return _cri(target, f"failed to authorize: failed to fetch {kind} token: unexpected status from GET "
                            f"request to {public_url(url)}: {exc.status_text}")
    if isinstance(exc, DigestMismatchError):
        return _cri(target, f"failed to copy: unexpected commit digest {exc.actual}, expected {exc.expected}: "
                            "failed precondition", "FailedPrecondition", resolve=False)
    if isinstance(exc, RegistryError):
        if on_blob:
            if isinstance(exc, NotFoundError):
                return _cri(target, f"failed to copy: httpReadSeeker: failed open: content at {public_url(url)} "
                                    "not found: not found", "NotFound", resolve=False)
            return _cri(target, f"failed to copy: httpReadSeeker: failed open: unexpected status code "
                                f"{public_url(url)}: {exc.status_text}", resolve=False)
        if isinstance(exc, NotFoundError):
            return _cri(target, f"{target.reference}: not found", "NotFound")
        if isinstance(exc, AuthorizationError) and exc.challenge_error:
            return _cri(target, "pull access denied, repository does not exist or may require authorization: "
                                f"server message: {exc.challenge_error}: authorization failed")
        return _cri(target, f"pulling from host {target.endpoint} failed with status code "
                            f"[manifests {target.object}]: {exc.status_text}")
    if isinstance(exc, LookupError):  # no manifest for linux/amd64 in an index
        return _cri(target, "no match for platform in manifest: not found", "NotFound", resolve=False)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ClientError):
        return _cri(target, f'failed to do request: Head "{target.manifest_url}": context deadline exceeded')
    return _cri(target, str(exc) or type(exc).__name__)


def _refused(target: PullTarget) -> CriError:
    """A registry name that resolves (localhost, an IP) but where nothing listens."""
    host, _, port = target.domain.rpartition(":") if target.domain.count(":") == 1 else (target.domain, "", "")
    ip = "127.0.0.1" if host == "localhost" else host
    return _cri(target, f'failed to do request: Head "{target.manifest_url}": dial tcp {ip}:{port or 443}: '
                        "connect: connection refused")


def _resolves_locally(domain: str) -> bool:
    host = domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


# --- the service ---------------------------------------------------------------------------------------------


class ImageService:
    """CRI ImageService over the lab registries plus the kubelet's credential loop (kuberuntime ``PullImage``)."""

    def __init__(self, fleet: RegistryFleet, state_file: Path | None = None, *, timeout: float = 30.0) -> None:
        self.fleet = fleet
        self.state_file = state_file
        self.timeout = timeout
        self._images: dict[str, ImageRecord] = {}
        # (image, username) of the latest CRI pulls, oldest first: which credential was tried, for lessons and tests
        self.attempts: collections.deque[tuple[str, str | None]] = collections.deque(maxlen=1000)
        self.on_change: Callable[[], None] | None = None  # the node status reports the image list
        self._load()

    # -- store --------------------------------------------------------------------------------------------

    def _load(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        try:
            for item in json.loads(self.state_file.read_text()):
                rec = ImageRecord(**item)
                self._images[rec.id] = rec
        except (OSError, ValueError, TypeError):
            log.warning("ignoring unreadable image cache %s", self.state_file)

    def _save(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(r) for r in self._images.values()], indent=1))
        tmp.replace(self.state_file)

    def _changed(self) -> None:
        self._save()
        if self.on_change is not None:
            self.on_change()

    def list_images(self) -> list[ImageRecord]:
        return list(self._images.values())

    def image_status(self, image: str) -> ImageRecord | None:
        """``ImageStatus``: the stored image an image string names (by tag, or by digest when it has one)."""
        try:
            ref = parse_docker_ref(image)
        except ValueError:
            return None
        for rec in self._images.values():
            if ref.digest:
                if f"{ref.name}@{ref.digest}" in rec.repo_digests:
                    return rec
            elif str(ref) in rec.repo_tags:
                return rec
        return None

    def image_ref(self, image: str) -> str:
        """``GetImageRef``: '' when the image is not on the node."""
        rec = self.image_status(image)
        return rec.ref if rec else ""

    def remove_image(self, image: str) -> bool:
        rec = self.image_status(image)
        if rec is None:
            return False
        del self._images[rec.id]
        self._changed()
        return True

    def _record(self, ref: Reference, manifest_digest: str, config_digest: str, size: int) -> ImageRecord:
        tag = f"{ref.name}:{ref.tag}" if ref.tag and not ref.digest else ""
        rec = self._images.get(config_digest) or ImageRecord(config_digest, size=size)
        if tag:
            for other in self._images.values():  # a tag points at one image: it moves on re-pull
                if other is not rec and tag in other.repo_tags:
                    other.repo_tags.remove(tag)
            if tag not in rec.repo_tags:
                rec.repo_tags.append(tag)
        digest_ref = f"{ref.name}@{manifest_digest}"
        if digest_ref not in rec.repo_digests:
            rec.repo_digests.append(digest_ref)
        rec.size = size
        self._images[rec.id] = rec
        for dead in [k for k, r in self._images.items() if not r.repo_tags and not r.repo_digests]:
            del self._images[dead]
        self._changed()
        return rec

    # -- pulling ------------------------------------------------------------------------------------------

    def target(self, image: str) -> tuple[Reference, PullTarget, str | None]:
        """Parse ``image`` and resolve its host: (reference, target, base URL or None for unknown hosts)."""
        ref = parse_docker_ref(image)
        try:
            base: str | None = self.fleet.resolve(ref.domain)
        except UnknownHostError:
            return ref, PullTarget.of(ref), None
        endpoint = urlsplit(self.fleet.public_url(base)).netloc or None
        return ref, PullTarget.of(ref, endpoint), base

    async def pull_image(self, image: str, credentials: AuthConfig | None = None) -> ImageRecord:
        """CRI ``PullImage`` with at most one credential; raises :class:`CriError` with containerd's text."""
        ref, target, base = self.target(image)
        self.attempts.append((image, credentials.username if credentials else None))
        if base is None:
            if _resolves_locally(ref.domain):
                raise _refused(target)
            raise cri_error_for(UnknownHostError(ref.domain), target)
        creds = Credentials(credentials.username, credentials.password) if credentials else None
        try:
            async with RegistryClient(base, creds, timeout=self.timeout) as client:
                pulled = await client.pull(ref.path, ref.digest or ref.tag)
        except Exception as e:  # every failure becomes containerd's message
            raise cri_error_for(e, target, self.fleet.public_url) from e
        config_digest = pulled.manifest.json()["config"]["digest"]
        return self._record(ref, pulled.digest, config_digest, pulled.size)

    async def pull(self, image: str, credentials: Iterable[AuthConfig]) -> PullResult:
        """kuberuntime ``PullImage``: anonymous without credentials, else each in turn; the first success wins
        and all failures are reported as one aggregate error."""
        creds = list(credentials)
        start = time.monotonic()
        if not creds:
            rec = await self.pull_image(image)
            return PullResult(rec, time.monotonic() - start, None)
        errors: list[str] = []
        for cred in creds:
            try:
                rec = await self.pull_image(image, cred)
            except CriError as e:
                errors.append(str(e))
                continue
            return PullResult(rec, time.monotonic() - start, cred)
        raise CriError(aggregate_errors(errors))

    def node_images(self, limit: int = 50) -> list[dict[str, Any]]:
        """Node status ``images``: names (digests then tags) and size, largest first."""
        records = sorted(self._images.values(), key=lambda r: r.size, reverse=True)[:limit]
        return [{"names": [*r.repo_digests, *r.repo_tags], "sizeBytes": r.size} for r in records]
