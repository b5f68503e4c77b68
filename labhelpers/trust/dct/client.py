"""What ``docker push``/``docker pull``/``docker trust inspect`` do with ``DOCKER_CONTENT_TRUST=1``.

Engine: the real Notary client binary for everything TUF (download + verification + cache, publishing);
this module adds the Docker CLI layer on top, following docker/cli ``cli/trust`` and ``cli/command/trust``:

* first push to a repository: reuse the first root key in the trust directory or create one, create a
  repository (``targets``) key, let the *server* manage the snapshot key (``Initialize(root, snapshot)``),
  sign root and targets, publish; prompts and output lines are Docker's, key IDs are the real ones;
* later pushes: sign into every role we hold a key for (``targets``, or the ``targets/*`` delegations);
* pull: resolve the tag through ``targets/releases`` then ``targets`` and return the signed digest;
* inspect: Docker's JSON (``SignedTags``/``Signers``/``AdministrativeKeys``), its ``--pretty`` text, tables.

The Notary ``Initialize`` step is done here in Python (``tufjson``/``keystore``) because the notary binary
cannot initialise with a server-managed snapshot key, which is what Docker does; the cache it writes is
exactly what the library's ``Initialize`` writes, and the binary's publish then takes over.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from labhelpers.images.reference import DEFAULT_TAG, InvalidReferenceError, Reference, parse

from . import tufjson
from .keystore import IncorrectPassphraseError, KeyFile, KeyStore
from .messages import (
    RELEASED_ROLE_NAME,
    DctError,
    no_such_target,
    notary_error,
    server_host,
    trust_server,
)
from .notary_cli import NotaryCli, NotaryCliError
from .passphrase import PassphraseError, PromptSession
from .trustdata import RELEASES, TARGETS, TargetEntry, TrustData, natural_sort_key

if TYPE_CHECKING:
    import pandas as pd

    from labhelpers.sandbox.registries.client import SyncRegistryClient

    from .notary_server import NotaryService

__all__ = ["DctClient", "DctInspectError", "SignResult", "TrustedTarget", "default_trust_dir"]

Passphrases = Mapping[str, str] | Sequence[str] | None


def default_trust_dir() -> Path:
    """``cliconfig.Dir()/trust``: ``$DOCKER_CONFIG/trust`` or ``~/.docker/trust``."""
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return Path(base) / "trust"


@dataclass
class SignResult:
    """The outcome of a signed push; ``transcript`` is what docker prints from "Signing and pushing"."""

    reference: str
    gun: str
    tag: str
    digest: str
    size: int
    signed: bool
    initialized: bool = False
    roles: list[str] = field(default_factory=list)
    root_key_id: str = ""
    repository_key_id: str = ""
    transcript: str = ""

    def __str__(self) -> str:
        return self.transcript


@dataclass(frozen=True)
class TrustedTarget:
    """A tag resolved through trust data: what ``docker pull`` then pulls by digest."""

    reference: Reference
    tag: str
    digest: str
    size: int
    role: str

    def pull_line(self, index: int = 1, total: int = 1) -> str:
        tag = f":{self.tag}" if self.tag else ""
        return f"Pull ({index} of {total}): {self.reference.familiar_name()}{tag}@{self.digest}"

    def tagging_line(self) -> str:
        name = self.reference.familiar_name()
        return f"Tagging {name}@{self.digest} as {name}:{self.tag}"


class DctInspectError(DctError):
    """Some references could not be inspected; ``results`` holds the ones that could."""

    def __init__(self, message: str, results: list[dict[str, Any]]) -> None:
        super().__init__(message, kind="inspect")
        self.results = results


class DctClient:
    """A Docker content-trust client bound to one Notary server and one trust directory.

    ``server`` is a started :class:`NotaryService` or its URL (then give ``ca_file``). Messages name the
    public trust server as Docker would (``notary.docker.io`` for Docker Hub, ``https://<registry>``
    otherwise) unless ``content_trust_server`` plays ``$DOCKER_CONTENT_TRUST_SERVER``.
    """

    def __init__(self, server: NotaryService | str, *, trust_dir: str | Path | None = None,
                 ca_file: str | Path | None = None, content_trust_server: str | None = None,
                 notary_binary: str | None = None) -> None:
        if isinstance(server, str):
            self.server_url = server.rstrip("/")
        else:
            self.server_url = server.url
            ca_file = ca_file or server.ca_file
        self.ca_file = Path(ca_file) if ca_file else None
        self.trust_dir = Path(trust_dir) if trust_dir else default_trust_dir()
        self.content_trust_server = content_trust_server
        self.keys = KeyStore(self.trust_dir)
        self.cli = NotaryCli(self.server_url, self.trust_dir, self.ca_file, binary=notary_binary)
        self._lock = threading.Lock()
        self.timings: dict[str, float] = {}

    def close(self) -> None:
        self.cli.close()

    # ------------------------------------------------------------------------------------ helpers

    def public_server(self, ref: Reference) -> str:
        return trust_server(ref.domain, self.content_trust_server)

    def _metadata_dir(self, gun: str) -> Path:
        return self.trust_dir / "tuf" / gun / "metadata"

    def _update(self, ref: Reference) -> str:
        """Refresh and verify the GUN's trust data (``notary list``); '' or the Notary error text."""
        try:
            self.cli.run("list", ref.name)
        except NotaryCliError as e:
            if e.error == "client is offline":
                return self._network_error(ref, e.unreachable)
            return self._publicise(e.error, ref)
        return ""

    def _network_error(self, ref: Reference, transport: str) -> str:
        """The ``url.Error`` docker would have met: the first metadata GET (root.json without a cache,
        timestamp.json with one) failing with the transport error the notary binary hit on its ping."""
        role = "timestamp" if (self._metadata_dir(ref.name) / "root.json").is_file() else "root"
        detail = transport.split('": ', 1)[-1] if transport else "connect: connection refused"
        public = urlsplit(self.public_server(ref))
        dialled = public.netloc if public.port else f"{public.netloc}:{443 if public.scheme == 'https' else 80}"
        url = f"{self.public_server(ref)}/v2/{ref.name}/_trust/tuf/{role}.json"
        return f'Get "{url}": ' + detail.replace(server_host(self.server_url), dialled)

    def _publicise(self, error: str, ref: Reference) -> str:
        """Replace the lab's loopback server address with the public one docker would have used."""
        return error.replace(server_host(self.server_url), server_host(self.public_server(ref)))

    @staticmethod
    def _docker_error(repo_name: str, error: str) -> DctError:
        """``trust.NotaryError`` for an error from :meth:`_update` (network failures included)."""
        if error.startswith('Get "'):  # storage.NetworkError
            return DctError(f"Error: error contacting notary server: {error}", kind="network")
        message, kind = notary_error(repo_name, error)
        return DctError(message, kind=kind)

    def _ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def _remote_key(self, gun: str, role: str) -> tufjson.PublicKey:
        """``GET /v2/<gun>/_trust/tuf/<role>.key``: the server creates (or returns) the key it holds."""
        parts = urlsplit(self.server_url)
        path = f"/v2/{quote(gun)}/_trust/tuf/{role}.key"
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname or "", parts.port or 443, timeout=30,
                                               context=self._ssl())
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=30)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
        except OSError as e:
            raise DctError(f"Error: error contacting notary server: {e}", kind="network") from e
        finally:
            conn.close()
        if resp.status != 200:
            raise DctError(f"Error: error contacting notary server: {resp.status} {resp.reason}: "
                           f"{body.decode(errors='replace').strip()}", kind="network")
        return tufjson.PublicKey.from_dict(json.loads(body))

    # ------------------------------------------------------------------------------------ push

    def push_signed(self, image_ref: str, digest: str, size: int, passphrases: Passphrases = None) -> SignResult:
        """Sign ``image_ref``'s tag as ``docker push`` does after the registry push reported ``digest``/``size``.

        ``passphrases``: ``{"root": ..., "repository": ...}`` typed at each prompt, a list of stdin lines,
        or ``{"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE": ..., "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE": ...}``.
        Raises :class:`DctError` with docker's message (``transcript`` holds the output so far).
        """
        ref = parse(image_ref)
        if ref.digest:
            raise DctError("cannot push a digest reference", kind="usage")
        if not ref.tag:
            return SignResult(str(ref), ref.name, "", digest, size, signed=False,
                              transcript="No tag specified, skipping trust metadata push\n")
        algorithm, _, hex_digest = digest.partition(":")
        if algorithm != "sha256" or len(hex_digest) != 64:
            raise ValueError(f"expected a sha256 manifest digest, got {digest!r}")
        session = PromptSession(passphrases)
        session.out.append("Signing and pushing trust metadata\n")
        result = SignResult(str(ref), ref.name, ref.tag, digest, int(size), signed=False)
        t0 = time.perf_counter()
        with self._lock:
            try:
                error = self._update(ref)
                if error and self._docker_error(ref.name, error).kind == "repository_not_exist":
                    env = self._initialize(ref, session, result)
                    session.out.append(f'Finished initializing "{ref.name}"\n')
                    roles = [TARGETS]
                elif error:
                    raise self._docker_error(ref.name, error)
                else:
                    roles, env = self._signable(ref, session, result)
                self._publish(ref, hex_digest, int(size), roles, env)
            except DctError as e:
                e.transcript = session.transcript
                raise
        session.out.append(f"Successfully signed {ref.name}:{ref.tag}\n")
        result.signed, result.roles, result.transcript = True, roles, session.transcript
        self.timings["push_signed"] = time.perf_counter() - t0
        return result

    def sign_pushed(self, registry: SyncRegistryClient, image_ref: str, passphrases: Passphrases = None
                    ) -> SignResult:
        """Sign what a registry now serves at ``image_ref`` (the digest and size ``docker push`` reported)."""
        ref = parse(image_ref)
        if not ref.tag or ref.digest:  # push_signed explains why nothing gets signed
            return self.push_signed(image_ref, "", 0, passphrases)
        desc = registry.head_manifest(ref.path, ref.tag)
        return self.push_signed(image_ref, desc.digest, desc.size, passphrases)

    def _unlock(self, session: PromptSession, key: KeyFile, alias: str) -> tuple[ec.EllipticCurvePrivateKey | None, str]:
        """Ask for an existing key's passphrase; (key, passphrase) or (None, last attempt) when it fails."""
        unlocked: list[ec.EllipticCurvePrivateKey] = []
        last = [""]

        def unlocks(passphrase: str) -> bool:
            last[0] = passphrase
            try:
                unlocked.append(key.decrypt(passphrase))
            except IncorrectPassphraseError:
                return False
            return True

        try:
            passphrase = session.existing_key(key.key_id, alias, unlocks)
        except PassphraseError:
            return None, last[0]
        return unlocked[-1], passphrase

    def _initialize(self, ref: Reference, session: PromptSession, result: SignResult) -> dict[str, str]:
        """Docker's first push: root key (existing or new), repository key, server-managed snapshot."""
        gun = ref.name
        existing_roots = self.keys.find("root")
        try:
            if existing_roots:
                root_file = existing_roots[0]
                root_key, root_pass = self._unlock(session, root_file, "root")
                if root_key is None:
                    raise DctError("password invalid, operation has failed.", kind="passphrase")
                root_id = root_file.key_id
            else:
                root_key = ec.generate_private_key(ec.SECP256R1())
                root_id = tufjson.ecdsa_public_key(root_key.public_key()).id
                root_pass = session.new_key(root_id, "root")
                self.keys.add(root_key, "root", "", root_pass)
            targets_key = ec.generate_private_key(ec.SECP256R1())
            targets_pub = tufjson.ecdsa_public_key(targets_key.public_key())
            targets_pass = session.new_key(targets_pub.id, "targets")
            self.keys.add(targets_key, "targets", gun, targets_pass)
        except PassphraseError as e:
            raise DctError(str(e), kind="passphrase") from e
        timestamp_pub = self._remote_key(gun, "timestamp")
        snapshot_pub = self._remote_key(gun, "snapshot")
        now_ns = time.time_ns()
        cert = tufjson.x509_public_key(tufjson.root_certificate(
            root_key, gun, tufjson.parse_go_time(tufjson.go_time(ns=now_ns))))
        keys = {cert.id: cert, targets_pub.id: targets_pub, timestamp_pub.id: timestamp_pub,
                snapshot_pub.id: snapshot_pub}
        roles = {"root": [cert.id], "snapshot": [snapshot_pub.id], "targets": [targets_pub.id],
                 "timestamp": [timestamp_pub.id]}
        root = tufjson.sign_metadata(tufjson.new_root(keys, roles, now_ns), [(cert.id, root_key)])
        targets = tufjson.sign_metadata(tufjson.new_targets(now_ns), [(targets_pub.id, targets_key)])
        meta = self._metadata_dir(gun)
        meta.mkdir(parents=True, exist_ok=True)
        for stale in list(meta.rglob("*.json")):  # a wiped lab server: forget the previous life's data
            stale.unlink()
        (meta / "root.json").write_bytes(tufjson.signed_envelope(root))
        (meta / "targets.json").write_bytes(tufjson.signed_envelope(targets))
        result.initialized = True
        result.root_key_id, result.repository_key_id = root_id, targets_pub.id
        return {"root": root_pass, "targets": targets_pass}

    def _signable(self, ref: Reference, session: PromptSession, result: SignResult) -> tuple[list[str], dict[str, str]]:
        """``GetSignableRoles`` + the passphrases publishing will need (targets, snapshot if local)."""
        data = TrustData.load(self.trust_dir, ref.name)
        held = {k.key_id: k for k in self.keys}
        delegations = data.delegation_roles()
        if not delegations:
            roles = [TARGETS]
        else:
            roles = [d.name for d in delegations
                     if d.name.rsplit("/", 1)[0] == TARGETS and d.check_path(ref.tag)
                     and any(k in held for k in d.keyids)]
            if not roles:
                raise DctError(f"failed to sign {ref.name}:{ref.tag}: no valid signing keys for delegation roles",
                               kind="no_signable_roles")
        env: dict[str, str] = {}
        signing: list[tuple[str, str, str]] = []  # (notary env name, key id, prompt alias)
        for role in roles:
            ids = data.base_role_keyids(TARGETS) if role == TARGETS else next(
                d.keyids for d in delegations if d.name == role)
            key = next((held[i] for i in ids if i in held), None)
            if key is not None:
                signing.append(("targets" if role == TARGETS else "delegation", key.key_id,
                                "targets" if role == TARGETS else key.role))
        snapshot = next((held[i] for i in data.base_role_keyids("snapshot") if i in held), None)
        if snapshot is not None:
            signing.append(("snapshot", snapshot.key_id, "snapshot"))
        for env_name, key_id, alias in signing:
            _, passphrase = self._unlock(session, held[key_id], alias)
            env[env_name] = passphrase
        result.repository_key_id = next((i for i in data.base_role_keyids(TARGETS)), "")
        roots = self.keys.find("root")
        result.root_key_id = roots[0].key_id if roots else ""
        return roles, env

    def _publish(self, ref: Reference, hex_digest: str, size: int, roles: list[str], env: dict[str, str]) -> None:
        args = ["addhash", ref.name, ref.tag, str(size), "--sha256", hex_digest]
        for role in roles:
            args += ["-r", role]
        try:
            self.cli.run(*args, "-p", passphrases=env)
        except NotaryCliError as e:
            # errors.Wrapf changes the Go type, so NotaryError passes the message through unchanged
            raise DctError(f"failed to sign {ref.name}:{ref.tag}: {self._publicise(e.error, ref)}",
                           kind="publish") from e

    # ------------------------------------------------------------------------------------ pull

    def resolve(self, image_ref: str) -> TrustedTarget:
        """``getTrustedPullTargets`` for a tagged reference (``latest`` if none, as ``docker pull`` adds)."""
        ref = parse(image_ref)
        if ref.digest:  # pulls by digest bypass content trust
            return TrustedTarget(ref, ref.tag, ref.digest, -1, "")
        tag = ref.tag or DEFAULT_TAG
        t0 = time.perf_counter()
        with self._lock:
            error = self._update(ref)
            if error:
                raise self._docker_error(ref.name, error)
            data = TrustData.load(self.trust_dir, ref.name)
        target = data.get_target(tag, [RELEASES, TARGETS])
        if target is None:
            raise DctError(no_such_target(tag), kind="no_such_target")
        if target.role not in (RELEASES, TARGETS):
            raise DctError(f"No trust data for {tag}", kind="no_such_target")
        self.timings["resolve"] = time.perf_counter() - t0
        return TrustedTarget(Reference(ref.domain, ref.path, tag), tag, target.digest, target.length, target.role)

    def trusted_pull(self, image_ref: str) -> str:
        """The manifest digest ``docker pull`` would fetch for ``image_ref`` with content trust on."""
        return self.resolve(image_ref).digest

    # ------------------------------------------------------------------------------------ inspect

    def _lookup(self, remote: str) -> tuple[list[dict[str, Any]], TrustData]:
        ref = parse(remote)
        error = self._update(ref)
        if error:
            raise DctError(f"no signatures or cannot access {remote}", kind=self._docker_error(ref.name, error).kind)
        data = TrustData.load(self.trust_dir, ref.name)
        return match_released_signatures(data.all_targets(ref.tag if not ref.digest else "")), data

    def inspect(self, *image_refs: str) -> list[dict[str, Any]]:
        """``docker trust inspect`` as Python objects (same keys and order as its JSON)."""
        results: list[dict[str, Any]] = []
        errors: list[str] = []
        with self._lock:
            for remote in image_refs:
                try:
                    rows, data = self._lookup(remote)
                except (DctError, InvalidReferenceError) as e:
                    errors.append(str(e))
                    continue
                results.append(render_inspect(remote, rows, data))
        if errors:
            raise DctInspectError("\n".join(errors), results)
        return results

    def inspect_json(self, *image_refs: str) -> str:
        """The text ``docker trust inspect`` prints (4-space indented JSON array)."""
        return json.dumps(self.inspect(*image_refs), indent=4) + "\n"

    def inspect_pretty(self, image_ref: str) -> str:
        """``docker trust inspect --pretty``."""
        with self._lock:
            rows, data = self._lookup(image_ref)
        return render_pretty(image_ref, rows, data)

    def inspect_table(self, *image_refs: str) -> pd.DataFrame:
        """One row per (role, key): administrative keys (Root, Repository) and signers."""
        import pandas as pd

        rows = []
        for repo in self.inspect(*image_refs):
            for kind, section in (("administrative", "AdministrativeKeys"), ("signer", "Signers")):
                for role in repo[section]:
                    for key in role.get("Keys", []) or [{"ID": None}]:
                        rows.append({"Name": repo["Name"], "Kind": kind, "Role": role.get("Name", ""),
                                     "KeyID": key["ID"]})
        return pd.DataFrame(rows, columns=["Name", "Kind", "Role", "KeyID"])

    def signed_tags_table(self, *image_refs: str) -> pd.DataFrame:
        """The ``SIGNED TAG  DIGEST  SIGNERS`` table of ``--pretty`` as a DataFrame."""
        import pandas as pd

        rows = [{"Name": repo["Name"], "SignedTag": t["SignedTag"], "Digest": t["Digest"],
                 "Signers": ", ".join(sorted(t["Signers"]))}
                for repo in self.inspect(*image_refs) for t in repo["SignedTags"]]
        return pd.DataFrame(rows, columns=["Name", "SignedTag", "Digest", "Signers"])

    def __enter__(self) -> DctClient:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.close()


# ---------------------------------------------------------------------------------------- rendering


def _signer_name(role: str) -> str:
    """``notaryRoleToSigner``: released roles read "Repo Admin", others lose ``targets/``."""
    if role in (TARGETS, RELEASES):
        return RELEASED_ROLE_NAME
    return role.removeprefix(TARGETS + "/")


def match_released_signatures(entries: list[TargetEntry]) -> list[dict[str, Any]]:
    """``matchReleasedSignatures``: released tag+digest pairs and the other roles that signed them."""
    released: dict[tuple[str, str], list[str]] = {}
    for e in entries:
        if e.role in (TARGETS, RELEASES):
            released[(e.name, e.sha256)] = []
    for e in entries:
        key = (e.name, e.sha256)
        if key in released and e.role not in (TARGETS, RELEASES):
            released[key].append(_signer_name(e.role))
    rows = [{"SignedTag": tag, "Digest": digest, "Signers": signers} for (tag, digest), signers in released.items()]
    rows.sort(key=lambda r: natural_sort_key(r["SignedTag"]))
    return rows


def _signers(data: TrustData) -> dict[str, list[str]]:
    """``getDelegationRoleToKeyMap``: signer name -> canonical key IDs, skipping releases/base roles."""
    out: dict[str, list[str]] = {}
    for role in data.delegation_roles():
        if role.name in (RELEASES, "root", "snapshot", TARGETS, "timestamp"):
            continue
        out[_signer_name(role.name)] = list(role.keyids)
    return out


def _keys(ids: list[str]) -> list[dict[str, str]]:
    return [{"ID": i} for i in ids if i]


def render_inspect(remote: str, rows: list[dict[str, Any]], data: TrustData) -> dict[str, Any]:
    """``getRepoTrustInfo``: the JSON object for one reference (Go's ``omitempty`` applied)."""
    signed_tags = [dict(r, Signers=r["Signers"] or [RELEASED_ROLE_NAME]) for r in rows]
    signers = []
    for name, ids in sorted(_signers(data).items(), key=lambda kv: kv[0], reverse=True):
        entry: dict[str, Any] = {"Name": name}
        if _keys(ids):
            entry["Keys"] = _keys(ids)
        signers.append(entry)
    admin = [{"Name": "Root", "Keys": _keys(data.base_role_keyids("root"))},
             {"Name": "Repository", "Keys": _keys(data.base_role_keyids(TARGETS))}]
    admin = [{k: v for k, v in a.items() if v} for a in admin]
    return {"Name": remote, "SignedTags": signed_tags, "Signers": signers, "AdministrativeKeys": admin}


def _table(header: list[str], rows: list[list[str]], minwidth: int = 10, padding: int = 3) -> str:
    """Go's tabwriter (minwidth 10, padding 3) as docker's formatter uses it; last column unpadded."""
    lines = [header, *rows]
    widths = [max(minwidth, max(len(line[c]) for line in lines) + padding) for c in range(len(header) - 1)]
    return "".join("".join(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)) + line[-1] + "\n"
                   for line in lines)


def render_pretty(remote: str, rows: list[dict[str, Any]], data: TrustData) -> str:
    """``prettyPrintTrustInfo``."""
    out = []
    if rows:
        out.append(f"\nSignatures for {remote}\n\n")
        out.append(_table(["SIGNED TAG", "DIGEST", "SIGNERS"],
                          [[r["SignedTag"], r["Digest"], ", ".join(sorted(r["Signers"])) or f"({RELEASED_ROLE_NAME})"]
                           for r in rows]))
    else:
        out.append(f"\nNo signatures for {remote}\n\n")
    signers = _signers(data)
    if signers:
        out.append(f"\nList of signers and their keys for {remote}\n\n")
        out.append(_table(["SIGNER", "KEYS"],
                          [[name, ", ".join(k[:12] for k in sorted(ids))]
                           for name, ids in sorted(signers.items(), key=lambda kv: natural_sort_key(kv[0]))]))
    out.append(f"\nAdministrative keys for {remote}\n\n")
    out.append(f"  Repository Key:\t{', '.join(sorted(data.base_role_keyids(TARGETS)))}\n")
    out.append(f"  Root Key:\t{', '.join(sorted(data.base_role_keyids('root')))}\n")
    return "".join(out)
