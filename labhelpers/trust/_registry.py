"""Registry plumbing shared by signing and verification: picking a client, running it, quoting its errors.

The core code is async (the sandbox apiserver calls it from its event loop); the blocking entry points run it on
the registries' background loop. Failures are re-worded the way go-containerregistry words them, because that
is what cosign and Kyverno print: ``GET https://index.docker.io/v2/...: UNAUTHORIZED: authentication required;
[map[Action:pull Class: Name:youruser/app Type:repository]]``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from labhelpers.sandbox.registries import (
    Credentials,
    RegistryClient,
    RegistryError,
    RegistryFleet,
    RegistryUnreachableError,
    SyncRegistryClient,
)
from labhelpers.sandbox.registries._loop import shared_loop

T = TypeVar("T")

# What callers may hand us to reach a registry: a started fleet, a client, or "host -> client".
Target = RegistryFleet | SyncRegistryClient | RegistryClient | Callable[[str], Any]

HTTP_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
                502: "Bad Gateway", 503: "Service Unavailable"}


def async_client(target: Target, host: str, credentials: Credentials | None = None) -> RegistryClient:
    """The async client for ``host``: from a fleet (with ``credentials``), a client, or a host -> client callable."""
    if isinstance(target, RegistryFleet):
        sync = target.client(host, credentials.username, credentials.password) if credentials else target.client(host)
        return sync.client
    if isinstance(target, SyncRegistryClient):
        return target.client
    if isinstance(target, RegistryClient) or inspect.iscoroutinefunction(getattr(target, "get_manifest", None)):
        return target  # an async client, or anything shaped like one (tests use in-memory fakes)
    if callable(target):
        return async_client(target(host), host, credentials)
    raise TypeError(f"cannot reach registry {host} through {type(target).__name__}")


def run_blocking(client: RegistryClient, work: Callable[[], Awaitable[T]], timeout: float = 120.0) -> T:
    """Run ``work`` on the registries' loop and close the client's HTTP session afterwards (tokens stay)."""

    async def go() -> T:
        try:
            return await work()
        finally:
            await client.close()

    return shared_loop().run(go(), timeout=timeout)


# ------------------------------------------------------------------------------------------ error text


def go_value(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value: ``map[k:v ...]`` with sorted keys, ``[a b]``, ``<nil>``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def public_url(url: str, registry: str) -> str:
    """A loopback registry URL as the real client would have addressed it (``https://index.docker.io/...``)."""
    parts = urlsplit(url)
    return url.replace(f"{parts.scheme}://{parts.netloc}", f"https://{registry}", 1)


def ggcr_error(err: Exception, registry: str, describe_url: Callable[[str], str] | None = None) -> str:
    """go-containerregistry's ``transport.Error`` / ``url.Error`` text for a client failure."""
    if isinstance(err, RegistryUnreachableError):
        return f'{err.method[:1]}{err.method[1:].lower()} "https://{registry}/v2/": dial tcp {registry}:443: ' \
               f"connect: {err.strerror}"
    if isinstance(err, RegistryError):
        url = err.url
        if "/v2/" in urlsplit(url).path:
            url = public_url(url, registry)
        elif describe_url is not None:
            url = describe_url(url)
        return f"{err.method} {url}: {_response_error(err)}"
    return str(err)


def _response_error(err: RegistryError) -> str:
    if len(err.errors) == 1:
        return _diagnostic(err.errors[0])
    if len(err.errors) > 1:
        return "multiple errors returned: " + "; ".join(_diagnostic(d) for d in err.errors)
    text = f"unexpected status code {err.status} {HTTP_REASONS.get(err.status, err.reason)}"
    if not err.body:
        if err.method == "HEAD":
            return text + " (HEAD responses have no body, use GET for details)"
        return text
    return f"{text}: {err.body.decode(errors='replace')}"


def _diagnostic(d: Any) -> str:
    text = f"{d.code}: {d.message}"
    return text if d.detail is None else f"{text}; {go_value(d.detail)}"


def go_json(obj: Any, *, sort_keys: bool = False) -> bytes:
    """``json.Marshal``: compact, UTF-8, with Go's HTML-safe escapes of ``<``, ``>``, ``&``, U+2028/9."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode()
