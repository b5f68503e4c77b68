"""Registry authentication: htpasswd files for Basic-auth registries and a Distribution token server.

Distribution 2.8 (the Debian ``docker-registry``) supports two real schemes and the lab uses both:

* ``htpasswd``: Basic credentials checked against bcrypt hashes. Distribution re-reads the file whenever it
  changes, so adding or expiring a user is a file rewrite. bcrypt runs on *every* request, hence a low cost.
* ``token``: the registry answers 401 ``Bearer realm=...,service=...,scope=...``; the client fetches a JWT
  from the realm with its Basic credentials and retries. The registry trusts JWTs whose ``x5c`` leaf
  certificate chains to ``rootcertbundle`` and whose ``iss``/``aud`` match its config; it reads the
  granted actions from the ``access`` claim (docs: distribution ``docs/spec/auth/jwt.md``,
  ``registry/auth/token/token.go``).

htpasswd keeps one password per user name, which ECR's many live ``AWS`` tokens do not fit: that host is
guarded by the fleet's own Basic-auth gateway instead (:mod:`.gateway`), reading the :class:`UserTable` live.

Credential *expiry* (ECR's 12 h tokens, short-lived OAuth tokens) is measured on the sandbox clock, which may
run faster than real time; JWT ``exp``/``nbf`` stay on the wall clock because the registry checks them there.
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import hmac
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import bcrypt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

Clock = Callable[[], float]

# bcrypt cost for lab htpasswd files. Distribution checks the hash on every request: measured on the 2-core
# CI machine, one check costs 0.9 ms at cost 4, 1.7 ms at 5 and 55 ms at 10 (20 pushes: 0.66 s vs 9.2 s).
HTPASSWD_BCRYPT_ROUNDS = 4

PULL, PUSH, DELETE = "pull", "push", "delete"
ALL_ACTIONS = frozenset({PULL, PUSH, DELETE})


# --------------------------------------------------------------------------------------------- htpasswd


def htpasswd_line(username: str, password: str, rounds: int = HTPASSWD_BCRYPT_ROUNDS) -> str:
    """``user:$2b$..`` as Distribution's htpasswd reader accepts it (it only supports bcrypt).

    bcrypt only keys on the first 72 bytes; Go's ``CompareHashAndPassword`` silently ignores the rest, so we
    hash that prefix (Python's bcrypt refuses longer input). Long tokens (ECR's) thus match on their prefix.
    """
    if ":" in username or "\n" in username:
        raise ValueError(f"htpasswd usernames cannot contain ':' or newlines: {username!r}")
    secret = password.encode()[:72]
    return f"{username}:{bcrypt.hashpw(secret, bcrypt.gensalt(rounds=rounds)).decode()}"


def write_htpasswd(path: Path, lines: Iterable[str]) -> None:
    """Replace the file atomically, so the registry never reads a half-written user list."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class HtpasswdCache:
    """Hashes each (user, password) once: re-rendering after an expiry must not re-run bcrypt for everyone."""

    def __init__(self, rounds: int = HTPASSWD_BCRYPT_ROUNDS) -> None:
        self.rounds = rounds
        self._lines: dict[tuple[str, str], str] = {}

    def line(self, username: str, password: str) -> str:
        key = (username, password)
        if key not in self._lines:
            self._lines[key] = htpasswd_line(username, password, self.rounds)
        return self._lines[key]


# ------------------------------------------------------------------------------------------ user table


@dataclass(frozen=True)
class Grant:
    """Actions allowed on repositories matching a glob (``*`` also crosses ``/``), e.g. ``youruser/*``."""

    repositories: str = "*"
    actions: frozenset[str] = frozenset({PULL})

    def matches(self, repository: str) -> bool:
        return fnmatch.fnmatchcase(repository, self.repositories)


FULL_ACCESS = (Grant("*", ALL_ACTIONS),)
PULL_ONLY = (Grant("*", frozenset({PULL})),)


@dataclass(frozen=True)
class Account:
    """One credential. The same username may appear several times (ACR's two admin passwords, ECR tokens).

    ``password_format="json"`` compares JSON documents rather than strings: a GCP service-account key pasted
    with different whitespace (``$(cat key.json)`` drops the final newline) is still the same key.
    """

    username: str
    password: str
    grants: tuple[Grant, ...] = FULL_ACCESS
    expires_at: float | None = None
    password_format: Literal["text", "json"] = "text"
    note: str = ""
    hidden: bool = False

    def password_matches(self, password: str) -> bool:
        if self.password_format == "json":
            try:
                return json.loads(password) == json.loads(self.password)
            except ValueError:
                return False
        return hmac.compare_digest(password.encode(), self.password.encode())

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def actions_for(self, repository: str) -> set[str]:
        out: set[str] = set()
        for g in self.grants:
            if g.matches(repository):
                out |= g.actions
        return out

    def public_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"username": self.username, "password": self.password}
        if self.expires_at is not None:
            d["expires_at"] = self.expires_at
        if self.note:
            d["note"] = self.note
        d["access"] = [{"repositories": g.repositories, "actions": sorted(g.actions)} for g in self.grants]
        return d


class AuthenticationFailed(Exception):
    """Credentials were rejected; ``reason`` is ``unknown-user``, ``bad-password``, ``expired`` or (no usable
    Basic credentials at all) ``missing``."""

    def __init__(self, reason: str, username: str) -> None:
        super().__init__(f"{reason}: {username}")
        self.reason = reason
        self.username = username


class UserTable:
    """Thread-safe account list shared by a token server (live checks) or an htpasswd renderer."""

    def __init__(self, accounts: Iterable[Account] = (), clock: Clock = time.time) -> None:
        self._accounts: list[Account] = list(accounts)
        self._lock = threading.Lock()
        self.clock = clock
        self.generation = 0  # bumped on every change, so renderers know when to rewrite

    def add(self, account: Account) -> None:
        with self._lock:
            self._accounts.append(account)
            self.generation += 1

    def remove(self, username: str, password: str | None = None) -> int:
        """Drop every entry for ``username`` (or only the one with ``password``); return how many went."""
        with self._lock:
            keep = [a for a in self._accounts
                    if not (a.username == username and (password is None or a.password == password))]
            gone = len(self._accounts) - len(keep)
            self._accounts = keep
            if gone:
                self.generation += 1
            return gone

    def accounts(self, *, include_hidden: bool = True) -> list[Account]:
        with self._lock:
            return [a for a in self._accounts if include_hidden or not a.hidden]

    def valid(self, now: float | None = None) -> list[Account]:
        now = self.clock() if now is None else now
        return [a for a in self.accounts() if not a.expired(now)]

    def authenticate(self, username: str, password: str) -> Account:
        now = self.clock()
        candidates = [a for a in self.accounts() if a.username == username]
        if not candidates:
            raise AuthenticationFailed("unknown-user", username)
        matching = [a for a in candidates if a.password_matches(password)]
        if not matching:
            raise AuthenticationFailed("bad-password", username)
        live = [a for a in matching if not a.expired(now)]
        if not live:
            raise AuthenticationFailed("expired", username)
        return live[0]


# ---------------------------------------------------------------------------------------------- scopes


@dataclass(frozen=True)
class Scope:
    """``repository:youruser/app:pull,push`` (docs/spec/auth/scope.md); names may not contain ``:`` but
    the type may carry a class, e.g. ``repository(plugin)``."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope:
        parts = text.split(":")
        if len(parts) < 3 or not parts[0] or not parts[-1]:
            raise ValueError(f"invalid scope {text!r}")
        return cls(parts[0], ":".join(parts[1:-1]), tuple(a for a in parts[-1].split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Scopes from query values (repeated ``scope=``) or an OAuth2 space-separated ``scope`` field."""
    out: list[Scope] = []
    for v in values:
        for piece in v.split(" "):
            if piece:
                out.append(Scope.parse(piece))
    return out


# ------------------------------------------------------------------------------------------ JWT signing


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_b64(obj: Any) -> str:
    return _b64url(json.dumps(obj, separators=(",", ":")).encode())


def _cert(subject: str, public_key: ec.EllipticCurvePublicKey, issuer: x509.Name, signer: ec.EllipticCurvePrivateKey,
          *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca, crl_sign=ca, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
    )
    return builder.sign(signer, hashes.SHA256())


class TokenSigner:
    """ES256 key whose certificate chains to a lab CA; Distribution's ``rootcertbundle`` holds that CA.

    The leaf goes in the JWT ``x5c`` header, which Distribution 2.8 prefers over ``kid`` (a libtrust
    fingerprint) and ``jwk``. The CA private key is discarded after signing the leaf.
    """

    CA_FILE, KEY_FILE, CERT_FILE = "token-ca.pem", "token-signing-key.pem", "token-signing-cert.pem"

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, ca_cert: x509.Certificate,
                 ca_bundle: Path | None = None) -> None:
        self.key = key
        self.cert = cert
        self.ca_cert = ca_cert
        self.ca_bundle = ca_bundle
        self._x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]

    @classmethod
    def generate(cls, name: str = "lab registry token issuer") -> TokenSigner:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
        ca_cert = _cert(f"{name} CA", ca_key.public_key(), ca_name, ca_key, ca=True)
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(key, _cert(name, key.public_key(), ca_name, ca_key, ca=False), ca_cert)

    @classmethod
    def load_or_create(cls, directory: Path) -> TokenSigner:
        """Reuse the key material in ``directory`` (warm start) or create and save it."""
        directory = Path(directory)
        paths = [directory / f for f in (cls.CA_FILE, cls.KEY_FILE, cls.CERT_FILE)]
        if all(p.is_file() for p in paths):
            try:
                ca = x509.load_pem_x509_certificate(paths[0].read_bytes())
                key = serialization.load_pem_private_key(paths[1].read_bytes(), password=None)
                cert = x509.load_pem_x509_certificate(paths[2].read_bytes())
                if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc > dt.datetime.now(
                        dt.UTC) + dt.timedelta(days=1):
                    return cls(key, cert, ca, paths[0])
            except ValueError:
                log.warning("token key material in %s unreadable; regenerating", directory)
        signer = cls.generate()
        directory.mkdir(parents=True, exist_ok=True)
        paths[0].write_bytes(signer.ca_cert.public_bytes(serialization.Encoding.PEM))
        paths[1].write_bytes(signer.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
        os.chmod(paths[1], 0o600)
        paths[2].write_bytes(signer.cert.public_bytes(serialization.Encoding.PEM))
        signer.ca_bundle = paths[0]
        return signer

    def sign(self, claims: Mapping[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "ES256", "x5c": self._x5c}
        signing_input = f"{_json_b64(header)}.{_json_b64(dict(claims))}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str) -> dict[str, Any]:
        """Check the signature with our own key and return the claims (for tests and lab introspection)."""
        head, body, sig = token.split(".")
        raw = _b64url_decode(sig)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        self.cert.public_key().verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        return json.loads(_b64url_decode(body))


def decode_jwt_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWT without checking it: what a student sees pasting it into a decoder."""
    head, body, _ = token.split(".")
    return json.loads(_b64url_decode(head)), json.loads(_b64url_decode(body))


# ---------------------------------------------------------------------------------------- token server


@dataclass
class TokenRealm:
    """What one registry's token service knows: who exists, what is public, how anonymous users fare.

    ``anonymous``: ``"scoped"`` issues anonymous tokens restricted to public repositories (Docker Hub: the
    registry then answers 401 ``insufficient_scope``); ``"forbidden"`` refuses an anonymous token request that
    names a private repository with 403 (what GHCR does).
    """

    service: str
    users: UserTable
    public_repositories: set[str] = field(default_factory=set)
    anonymous: Literal["scoped", "forbidden"] = "scoped"
    issuer: str = "lab-token-issuer"
    token_ttl: int = 300

    def is_public(self, repository: str) -> bool:
        return any(fnmatch.fnmatchcase(repository, p) for p in self.public_repositories)

    def allowed(self, account: Account | None, scope: Scope) -> list[str]:
        """Requested actions that this account (None: anonymous) may perform, in request order."""
        if scope.type.split("(")[0] != "repository":
            return []
        granted = set(account.actions_for(scope.name)) if account else set()
        if self.is_public(scope.name):
            granted.add(PULL)
        return [a for a in scope.actions if a in granted]


class TokenDenied(Exception):
    """A token request the service refuses, with the HTTP status and distribution-style error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"errors": [{"code": self.code, "message": self.message, "detail": None}]}


_FAILURE_MESSAGES = {
    "unknown-user": "incorrect username or password",
    "bad-password": "incorrect username or password",
    "expired": "Your authorization token has expired. Reauthenticate and try again.",
}


def _rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


class TokenServer:
    """aiohttp app implementing the Distribution token endpoint (GET with Basic auth, and the OAuth2 POST
    password grant that containerd tries first) for one :class:`TokenRealm`."""

    def __init__(self, realm: TokenRealm, signer: TokenSigner, *, path: str = "/token",
                 wall_clock: Clock = time.time) -> None:
        self.realm = realm
        self.signer = signer
        self.path = path
        self.wall_clock = wall_clock
        self.requests: deque[dict[str, Any]] = deque(maxlen=500)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- pure logic -------------------------------------------------------------------------------

    def issue(self, username: str | None, password: str | None, scopes: Iterable[Scope]) -> dict[str, Any]:
        """Authenticate, filter the requested scopes and return the token response body."""
        scopes = list(scopes)
        account: Account | None = None
        if username is not None:
            try:
                account = self.realm.users.authenticate(username, password or "")
            except AuthenticationFailed as e:
                raise TokenDenied(401, "UNAUTHORIZED", _FAILURE_MESSAGES[e.reason]) from e
        access = []
        for sc in scopes:
            actions = self.realm.allowed(account, sc)
            if account is None and self.realm.anonymous == "forbidden" and not actions:
                raise TokenDenied(403, "DENIED", "requested access to the resource is denied")
            access.append({"type": sc.type, "name": sc.name, "actions": actions})
        now = int(self.wall_clock())
        claims = {
            "iss": self.realm.issuer,
            "sub": account.username if account else "",
            "aud": self.realm.service,
            "exp": now + self.realm.token_ttl,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        token = self.signer.sign(claims)
        return {"token": token, "access_token": token, "expires_in": self.realm.token_ttl,
                "issued_at": _rfc3339(now)}

    # -- HTTP -------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(self.path, self._handle_get)
        app.router.add_post(self.path, self._handle_post)
        return app

    def _record(self, method: str, username: str | None, scopes: list[str], status: int) -> None:
        self.requests.append({"method": method, "username": username, "scopes": scopes, "status": status,
                              "time": self.wall_clock()})

    def _respond(self, method: str, username: str | None, password: str | None, raw_scopes: list[str],
                 service: str | None, oauth: bool) -> web.Response:
        try:
            if service is not None and service != self.realm.service:
                raise TokenDenied(400, "UNSUPPORTED", f"invalid service {service!r}")
            try:
                scopes = parse_scopes(raw_scopes)
            except ValueError as e:
                raise TokenDenied(400, "UNSUPPORTED", str(e)) from e
            body = self.issue(username, password, scopes)
        except TokenDenied as e:
            self._record(method, username, raw_scopes, e.status)
            return web.json_response(e.body(), status=e.status)
        self._record(method, username, raw_scopes, 200)
        if oauth:
            body = {"access_token": body["access_token"], "scope": " ".join(raw_scopes),
                    "expires_in": body["expires_in"], "issued_at": body["issued_at"]}
        return web.json_response(body)

    async def _handle_get(self, request: web.Request) -> web.Response:
        username = password = None
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic":
                return web.json_response(TokenDenied(401, "UNAUTHORIZED", "basic credentials required").body(),
                                         status=401)
            try:
                username, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return web.json_response(TokenDenied(400, "UNSUPPORTED", "malformed Authorization").body(),
                                         status=400)
        q = request.query
        return self._respond("GET", username, password, q.getall("scope", []), q.get("service"), oauth=False)

    async def _handle_post(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = form.get("grant_type")
        if grant != "password":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        scope = form.get("scope", "")
        return self._respond("POST", str(form.get("username", "")), str(form.get("password", "")),
                             [str(scope)] if scope else [], str(form.get("service", "")) or None, oauth=True)

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 picks a free port) and return the realm URL."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner
        return self.url

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("token server not started")
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
