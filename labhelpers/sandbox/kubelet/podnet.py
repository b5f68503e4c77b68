"""The pod network as curl inside a sandbox container sees it: lab registry names over HTTPS.

The lab registries listen on loopback over plain HTTP. A pod on a real cluster reaches ``index.docker.io``
over TLS with a certificate its image trusts. :class:`PodNetwork` gives container processes that view:

* a TLS front on one loopback port that terminates HTTPS for every lab registry name (a certificate per
  name, minted on demand from the sandbox CA through SNI) and forwards to the registry, or to its token
  service for token paths (``auth.docker.io``, ``ghcr.io/token``...), rewriting the loopback URLs in
  ``WWW-Authenticate`` and ``Location`` back to the public names;
* a ``.curlrc`` (read through ``CURL_HOME``) with one ``connect-to`` line per registry name and the sandbox CA
  as ``cacert``, so ``curl https://index.docker.io/v2/`` dials the front while keeping the name in the
  ``Host`` header and in SNI.

Only curl follows this view; other programs see the lab machine's own network.
"""

from __future__ import annotations

import datetime as dt
import re
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from multidict import CIMultiDict
from yarl import URL

from .. import pki

__all__ = ["PodNetwork", "lab_names", "render_curlrc"]

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                         "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})
_LOOPBACK_URL = re.compile(r"https?://127\.0\.0\.1:\d+[^\s\",]*")
_CHUNK = 1 << 16


def _split(name: str) -> tuple[str, int]:
    host, sep, port = name.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return host, int(port)
    return name, 443


def lab_names(fleet: Any) -> list[str]:
    """Every name a pod may dial for the lab registries: hosts, aliases and token service origins."""
    names: list[str] = []
    for spec in fleet.specs:
        candidates = list(spec.names)
        if spec.token_origin:
            candidates.append(urlsplit(spec.token_origin).netloc)
        for n in candidates:
            n = n.lower()
            if n and n not in names:
                names.append(n)
    return names


def render_curlrc(names: Iterable[str], port: int, cacert: Path) -> str:
    """The ``.curlrc`` of the pod network: ``connect-to`` each lab name (HTTPS port, or the one in the name) to
    the front on ``127.0.0.1:port``, and trust the sandbox CA."""
    lines = ["# Sandbox pod network (an emulation): lab registry names reach the sandbox registries.",
             f'cacert = "{cacert}"']
    for name in names:
        host, host_port = _split(name)
        lines.append(f'connect-to = "{host}:{host_port}:127.0.0.1:{port}"')
    return "\n".join(lines) + "\n"


class _Relayed(web.StreamResponse):
    """A response with the registry's headers only: aiohttp would add ``Server: Python/... aiohttp/...``."""

    async def _write_headers(self) -> None:
        self.headers.popall("Server", None)
        await super()._write_headers()


class _CertMint:
    """Leaf certificates signed by the sandbox CA, one SSL context per server name (cached)."""

    def __init__(self, ca_cert: Path, ca_key: Path, workdir: Path) -> None:
        self.ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self.ca_key = key
        self.workdir = workdir
        self._contexts: dict[str, ssl.SSLContext] = {}

    def context(self, name: str) -> ssl.SSLContext:
        name = (name or "localhost").lower()
        if name not in self._contexts:
            key = ec.generate_private_key(ec.SECP256R1())
            now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
            cert = (x509.CertificateBuilder()
                    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                    .issuer_name(self.ca.subject).public_key(key.public_key())
                    .serial_number(x509.random_serial_number()).not_valid_before(now)
                    .not_valid_after(now + dt.timedelta(days=365))
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                    .sign(self.ca_key, hashes.SHA256()))
            cert_path, key_path = self.workdir / f"{name}.crt", self.workdir / f"{name}.key"
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                                  + self.ca.public_bytes(serialization.Encoding.PEM))
            key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            key_path.chmod(0o600)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.set_alpn_protocols(["http/1.1"])
            ctx.load_cert_chain(cert_path, key_path)
            self._contexts[name] = ctx
        return self._contexts[name]

    def server_context(self) -> ssl.SSLContext:
        ctx = self.context("localhost")

        def pick(sslobj: Any, server_name: str | None, _ctx: ssl.SSLContext) -> None:
            if server_name:
                sslobj.context = self.context(server_name)

        ctx.sni_callback = pick
        return ctx


class PodNetwork:
    """The TLS front and the ``.curlrc`` for ``fleet``'s registries (started on the kubelet's loop)."""

    def __init__(self, fleet: Any, directory: Path, ca_dir: Path | None = None) -> None:
        self.fleet = fleet
        self.dir = directory
        self.ca_dir = ca_dir
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._curlrc = ""

    @property
    def curl_home(self) -> Path:
        return self.dir

    @property
    def cacert(self) -> Path:
        return (self.ca_dir or self.dir / "ca") / pki.CA_CERT

    async def start(self) -> None:
        if self._runner is not None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        ca_dir = self.ca_dir
        if ca_dir is None or not (ca_dir / pki.CA_CERT).exists() or not (ca_dir / pki.CA_KEY).exists():
            ca_dir = self.dir / "ca"  # no sandbox CA (an in-process test cluster): a CA of the node's own
            pki.ensure(ca_dir)
        self.ca_dir = ca_dir
        certs = self.dir / "certs"
        certs.mkdir(exist_ok=True)
        mint = _CertMint(ca_dir / pki.CA_CERT, ca_dir / pki.CA_KEY, certs)
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=mint.server_context())
        await site.start()
        self.port = runner.addresses[0][1]
        self._session = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                                              timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        self._runner = runner
        self.refresh()

    def refresh(self) -> None:
        """Rewrite the ``.curlrc`` when the fleet's names changed (``labctl sandbox registry add``)."""
        if self.port is None or not getattr(self.fleet, "started", False):
            return
        text = render_curlrc(lab_names(self.fleet), self.port, self.cacert)
        if text != self._curlrc:
            tmp = self.dir / ".curlrc.tmp"
            tmp.write_text(text)
            tmp.replace(self.dir / ".curlrc")
            self._curlrc = text

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- forwarding ---

    def upstream(self, host: str, path: str) -> str | None:
        """The loopback origin that serves ``https://host/path`` (None: not a lab name)."""
        name, port = _split(host.lower())
        name = name if port == 443 else f"{name}:{port}"
        for spec in self.fleet.specs:
            origin = urlsplit(spec.token_origin).netloc.lower() if spec.token_origin else ""
            names = [n.lower() for n in spec.names]
            if origin == name and (name not in names or path.startswith(spec.token_path)):
                server = self.fleet.token_server(spec.host)
                return f"http://127.0.0.1:{server.port}" if server is not None else None
            if name in names:
                return self.fleet.registry(spec.host).url
        return None

    def _public(self, value: str) -> str:
        return _LOOPBACK_URL.sub(lambda m: self.fleet.public_url(m.group(0)), value)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        host = request.headers.get("Host", "")
        try:
            origin = self.upstream(host, request.path)
        except Exception:  # a host being removed or restarted: as if nothing listened
            origin = None
        if origin is None:
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPBadGateway()
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP)
        headers["X-Forwarded-Proto"] = "https"
        url = URL(origin + request.raw_path, encoded=True)
        try:
            upstream = await self._session.request(
                request.method, url, headers=headers, data=request.content if request.body_exists else None,
                allow_redirects=False, skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"))
        except aiohttp.ClientConnectionError:
            if request.transport is not None:
                request.transport.abort()  # the registry is down: the connection just ends
            raise web.HTTPBadGateway() from None
        async with upstream:
            response = _Relayed(status=upstream.status, reason=upstream.reason)
            for k, v in upstream.headers.items():
                if k.lower() not in _HOP_BY_HOP:
                    response.headers.add(k, self._public(v) if k.lower() in ("www-authenticate", "location")
                                         else v)
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                await response.write(chunk)
            await response.write_eof()
        return response
