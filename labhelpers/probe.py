"""``probe_registry``: what ``curl -v https://index.docker.io/v2/`` teaches, as a table.

Exercise 16 checks registry connectivity from a debug pod with curl. The probe makes the same requests and
goes one step further than curl: for a ``Bearer`` challenge it fetches the token from the realm (with the
credentials, if any) and retries, exactly as a container runtime does. Each step becomes one row::

    step       request                                         status            detail
    connect    index.docker.io:443                                               Connected to index.docker.io ...
    request    GET https://index.docker.io/v2/                 401 Unauthorized  UNAUTHORIZED: authentication required
    challenge  WWW-Authenticate                                                  scheme=Bearer realm=... service=...
    token      GET https://auth.docker.io/token?service=...    200 OK            token for '' (anonymous) ...
    retry      GET https://index.docker.io/v2/ (Bearer token)  200 OK            {}
    result                                                     200 OK            the registry accepted the request

Lab hosts (``docker.io``, ``myregistry.com``, ...) are answered by the running sandbox's registries; any
other host is contacted for real. Passwords never appear in the table.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from .sandbox.registries.client import Challenge, go_query, parse_error_body, parse_www_authenticate

COLUMNS = ["step", "request", "status", "detail"]
MASK = "****"
USER_AGENT = "curl/7.88.1"

# ------------------------------------------------------------------------------------------ resolving


@dataclass
class LabDNS:
    """The sandbox's registry DNS: public host -> loopback origin, and loopback origin -> public origin.

    Both directions are needed: a lab registry's ``WWW-Authenticate`` realm names its local token server
    (``http://127.0.0.1:PORT/token``), which the table shows under the public name (``auth.docker.io``).
    """

    hosts: dict[str, str] = field(default_factory=dict)
    public: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_info(cls, entries: Iterable[Mapping[str, Any]]) -> LabDNS:
        """From :meth:`RegistryFleet.info` dicts (or the ``registries`` list of the sandbox's services.json):
        ``host``, ``aliases``, ``url``, ``endpoint`` and, for token hosts, ``token_url``/``token_realm``."""
        dns = cls()
        for e in entries:
            for name in [e["host"], *e.get("aliases", [])]:
                dns.hosts[name.lower()] = e["url"].rstrip("/")
            endpoint = urlsplit(e.get("endpoint", "")).netloc.lower()
            if endpoint:
                dns.hosts.setdefault(endpoint, e["url"].rstrip("/"))
                dns.public.setdefault(urlsplit(e["url"]).netloc, f"https://{endpoint}")
            if e.get("token_url") and e.get("token_realm"):
                local, realm = urlsplit(e["token_url"]), urlsplit(e["token_realm"])
                dns.public[local.netloc] = f"{realm.scheme}://{realm.netloc}"
                dns.hosts.setdefault(realm.netloc.lower(), f"{local.scheme}://{local.netloc}")
        return dns

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str]) -> LabDNS:
        dns = cls({k.lower(): v.rstrip("/") for k, v in mapping.items()})
        for host, target in mapping.items():
            dns.public.setdefault(urlsplit(target).netloc, f"https://{host}")
        return dns

    def real(self, url: str) -> tuple[str, bool]:
        """The URL to really fetch, and whether a lab registry answers it."""
        parts = urlsplit(url)
        target = self.hosts.get(parts.netloc.lower()) or self.hosts.get((parts.hostname or "").lower())
        if not target:
            return url, False
        return target + url[len(f"{parts.scheme}://{parts.netloc}"):], True

    def shown(self, text: str) -> str:
        """Replace every loopback origin in a URL or header value with its public origin."""
        for netloc, origin in self.public.items():
            for scheme in ("http", "https"):
                text = text.replace(f"{scheme}://{netloc}", origin)
        return text


def sandbox_dns(sandbox_dir: str | Path | None = None) -> LabDNS:
    """The running sandbox's registry DNS (empty when no sandbox runs: every host is then real)."""
    from .sandbox.manager import Sandbox

    info = Sandbox(sandbox_dir).info()
    return LabDNS.from_info(info.get("registries", [])) if info.get("running") else LabDNS()


def _dns(resolve: LabDNS | Mapping[str, str] | None, sandbox_dir: str | Path | None) -> LabDNS:
    if resolve is None:
        return sandbox_dns(sandbox_dir)
    if isinstance(resolve, LabDNS):
        return resolve
    return LabDNS.from_mapping(resolve)


# ------------------------------------------------------------------------------------------ transport


@dataclass
class _Response:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    peer: str

    @property
    def status_line(self) -> str:
        return f"{self.status} {self.reason}".strip()


class _ConnectFailed(Exception):
    """A failure before any HTTP response: curl's ``-v`` line (``verbose``) and its final error line."""

    def __init__(self, verbose: str, final: str) -> None:
        super().__init__(final)
        self.verbose = verbose
        self.final = final


def _curl_connect_error(err: BaseException, host: str, port: int, elapsed_ms: int) -> _ConnectFailed:
    """Word a socket/TLS failure as curl 7.88 (Debian 12) does, with its exit code."""
    if isinstance(err, socket.gaierror):
        text = f"Could not resolve host: {host}"
        return _ConnectFailed(text, f"curl: (6) {text}")
    if isinstance(err, ssl.SSLCertVerificationError):
        text = f"SSL certificate problem: {err.verify_message}"
        return _ConnectFailed(text, f"curl: (60) {text}")
    if isinstance(err, ssl.SSLError):
        text = f"OpenSSL SSL_connect: {err.reason or err} in connection to {host}:{port}"
        return _ConnectFailed(text, f"curl: (35) {text}")
    if isinstance(err, TimeoutError):
        text = f"Failed to connect to {host} port {port} after {elapsed_ms} ms: Timeout was reached"
        return _ConnectFailed(text, f"curl: (28) {text}")
    reason = getattr(err, "strerror", None) or str(err)
    reason = reason[:1].upper() + reason[1:]
    return _ConnectFailed(f"connect to {host} port {port} failed: {reason}",
                          f"curl: (7) Failed to connect to {host} port {port} after {elapsed_ms} ms: "
                          "Couldn't connect to server")


def _open(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname or "", port, timeout=timeout,
                                           context=ssl.create_default_context())
    return http.client.HTTPConnection(parts.hostname or "", port, timeout=timeout)


def _fetch(conn: http.client.HTTPConnection, url: str, headers: Mapping[str, str]) -> _Response:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "*/*", **headers})
    resp = conn.getresponse()
    body = resp.read()
    peer = conn.sock.getpeername()[0] if conn.sock else ""
    return _Response(resp.status, resp.reason, resp.headers, body, peer)


def _request(url: str, headers: Mapping[str, str], timeout: float, shown_host: str, shown_port: int) -> _Response:
    conn = _open(url, timeout)
    t0 = time.monotonic()
    try:
        try:
            conn.connect()
        except OSError as e:
            raise _curl_connect_error(e, shown_host, shown_port, int((time.monotonic() - t0) * 1000)) from e
        try:
            return _fetch(conn, url, headers)
        except (OSError, http.client.HTTPException) as e:
            text = f"Recv failure: {getattr(e, 'strerror', None) or e}"
            raise _ConnectFailed(text, f"curl: (56) {text}") from e
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------ the probe


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _error_text(body: bytes) -> str:
    errors = parse_error_body(body)
    if errors:
        return "; ".join(f"{e.code}: {e.message}" if e.code else e.message for e in errors)
    text = body.decode(errors="replace").strip()
    return text[:200]


def _token_doc(body: bytes) -> tuple[str, dict[str, Any]]:
    """(token, response document); the token is '' when the body is not a token response."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "", {}
    if not isinstance(doc, dict):
        return "", {}
    return str(doc.get("token") or doc.get("access_token") or ""), doc


def _token_detail(token: str, doc: Mapping[str, Any]) -> str:
    parts = [f"expires_in {doc['expires_in']} s"] if "expires_in" in doc else []
    try:
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        sub = claims.get("sub") or "(anonymous)"
        access = ", ".join(f"{a.get('type')}:{a.get('name')}:{','.join(a.get('actions') or []) or '(none)'}"
                           for a in claims.get("access") or []) or "(no repository access)"
        parts = [f"JWT for {sub}", f"access {access}", *parts]
    except (ValueError, IndexError, AttributeError):
        parts = ["opaque token", *parts]
    return "; ".join(parts)


def _realm_url(ch: Challenge) -> str:
    params: dict[str, str | list[str]] = {}
    if ch.scope:
        params["scope"] = ch.scope.split(" ")
    if ch.service:
        params["service"] = ch.service
    query = go_query(params)
    if not query:
        return ch.realm
    return ch.realm + ("&" if "?" in ch.realm else "?") + query


def _normalize_url(url: str) -> str:
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    path = parts.path if parts.path not in ("", "/") else "/v2/"
    return f"{parts.scheme}://{parts.netloc}{path}" + (f"?{parts.query}" if parts.query else "")


def probe_registry(url: str, username: str | None = None, password: str | None = None, *,
                   resolve: LabDNS | Mapping[str, str] | None = None, sandbox_dir: str | Path | None = None,
                   timeout: float = 10.0) -> pd.DataFrame:
    """Probe a registry's ``/v2/`` endpoint step by step and return one row per step.

    ``resolve`` is the lab DNS: a :class:`LabDNS` (``LabDNS.from_info(fleet.info())``) or a plain
    ``{host: "http://127.0.0.1:PORT"}`` mapping; by default the running sandbox in ``sandbox_dir`` provides
    it. ``df.attrs`` holds ``status`` (the final HTTP status or None), ``challenge`` (the parsed first
    challenge) and ``lab`` (whether a sandbox registry answered).
    """
    url = _normalize_url(url)
    names = _dns(resolve, sandbox_dir)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    rows: list[dict[str, Any]] = []
    attrs: dict[str, Any] = {"status": None, "challenge": None, "lab": False, "url": url}

    def row(step: str, request: str = "", status: str = "", detail: str = "") -> None:
        rows.append({"step": step, "request": request, "status": status, "detail": detail})

    creds = username is not None
    user_note = f" (-u {username}:{MASK})" if creds else ""
    real_url, lab = names.real(url)
    attrs["lab"] = lab
    first_headers = {"Authorization": _basic(username or "", password or "")} if creds else {}

    try:
        resp = _request(real_url, first_headers, timeout, host, port)
    except _ConnectFailed as e:
        row("connect", f"{host}:{port}", "failed", e.verbose)
        row("result", "", "failed", e.final)
        return _frame(rows, attrs, password, username)
    via = f" (lab sandbox: {urlsplit(real_url).scheme}://{urlsplit(real_url).netloc})" if lab else ""
    row("connect", f"{host}:{port}", "ok", f"Connected to {host} ({resp.peer}) port {port}{via}")
    row("request", f"GET {url}{user_note}", resp.status_line,
        _error_text(resp.body) if resp.status >= 400 else resp.body.decode(errors="replace").strip()[:200])
    final = resp
    challenges = [c for v in resp.headers.get_all("WWW-Authenticate") or [] for c in parse_www_authenticate(v)]
    outcome = ""
    if resp.status == 401 and challenges:
        ch = challenges[0]
        shown_realm = names.shown(ch.realm) if ch.realm else ""
        attrs["challenge"] = {"scheme": ch.scheme, "realm": shown_realm, "service": ch.service, "scope": ch.scope,
                              **{k: v for k, v in ch.params.items() if k not in ("realm", "service", "scope")}}
        fields = [f"scheme={ch.scheme}"] + [f"{k}={v}" for k, v in
                                            (("realm", shown_realm), ("service", ch.service), ("scope", ch.scope),
                                             ("error", ch.params.get("error", ""))) if v]
        raw = ", ".join(resp.headers.get_all("WWW-Authenticate") or [])
        row("challenge", f"WWW-Authenticate: {names.shown(raw)}", "", " ".join(fields))
        if ch.scheme.lower() == "basic":
            outcome = ("the registry rejected the username or password" if creds
                       else "the registry wants Basic credentials (curl -u USER:PASSWORD)")
        elif ch.scheme.lower() == "bearer" and ch.realm:
            final, outcome = _bearer(ch, names, url, username, password, timeout, row)
    attrs["status"] = final.status if final is not None else None
    if final is None:
        row("result", "", rows[-1]["status"], outcome)
    elif final.status < 400:
        row("result", "", final.status_line, "the registry accepted the request")
    else:
        row("result", "", final.status_line, "; ".join(t for t in (_error_text(final.body), outcome) if t))
    return _frame(rows, attrs, password, username)


def _bearer(ch: Challenge, names: LabDNS, url: str, username: str | None, password: str | None, timeout: float,
            row: Callable[..., None]) -> tuple[_Response | None, str]:
    """Token request at the realm, then the retry with the token: the runtime's side of the handshake."""
    token_url = _realm_url(ch)
    real_token_url, _ = names.real(token_url)
    shown = names.shown(token_url)
    creds = username is not None
    who = f" (-u {username}:{MASK})" if creds else " (anonymous)"
    headers = {"Authorization": _basic(username or "", password or "")} if creds else {}
    sparts = urlsplit(shown)
    try:
        tresp = _request(real_token_url, headers, timeout, sparts.hostname or "",
                         sparts.port or (443 if sparts.scheme == "https" else 80))
    except _ConnectFailed as e:
        row("token", f"GET {shown}{who}", "failed", e.verbose)
        return None, "could not reach the token service"
    if tresp.status != 200:
        row("token", f"GET {shown}{who}", tresp.status_line, _error_text(tresp.body))
        return tresp, "the token service refused to issue a token"
    token, doc = _token_doc(tresp.body)
    if not token:
        row("token", f"GET {shown}{who}", tresp.status_line, "no token in the response")
        return tresp, "the token service answered without a token"
    row("token", f"GET {shown}{who}", tresp.status_line, _token_detail(token, doc))
    real_url, _ = names.real(url)
    host = urlsplit(url)
    try:
        resp = _request(real_url, {"Authorization": f"Bearer {token}"}, timeout, host.hostname or "",
                        host.port or (443 if host.scheme == "https" else 80))
    except _ConnectFailed as e:
        row("retry", f"GET {url} (Bearer token)", "failed", e.verbose)
        return None, "the registry went away"
    row("retry", f"GET {url} (Bearer token)", resp.status_line,
        _error_text(resp.body) if resp.status >= 400 else resp.body.decode(errors="replace").strip()[:200])
    if resp.status == 401:
        return resp, "the registry rejected the token"
    return resp, ""


def _frame(rows: list[dict[str, Any]], attrs: dict[str, Any], password: str | None,
           username: str | None) -> pd.DataFrame:
    secrets = []
    if password:
        secrets += [password, base64.b64encode(f"{username or ''}:{password}".encode()).decode()]
    for r in rows:
        for k in COLUMNS:
            for s in secrets:
                r[k] = str(r[k]).replace(s, MASK)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs.update(attrs)
    return df
