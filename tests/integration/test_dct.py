"""Docker Content Trust against a real Notary v1 service (Debian notary-server + notary-signer + notary)."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from labhelpers.sandbox.registries import oci
from labhelpers.trust.dct import DctClient, DctError, DctInspectError, NotaryService, notary_binaries
from labhelpers.trust.dct.keystore import KeyStore
from labhelpers.trust.dct.notary_cli import NotaryCli
from labhelpers.trust.dct.passphrase import ROOT_KEY_WARNING
from labhelpers.trust.dct.tufjson import PublicKey, canonical_id

_MISSING = [name for name, path in notary_binaries().items() if path is None]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(_MISSING), reason=f"{', '.join(_MISSING)} missing: apt-get install notary"),
]

TRUSTED = "docker.io/youruser/trusted-app"
UNSIGNED = "docker.io/youruser/unsigned-app"
PASSPHRASES = {"root": "root-passphrase-1", "repository": "repo-passphrase-1"}


def image(ref: str) -> oci.OciImage:
    """The catalog's deterministic image: the digest and size a registry push reports for it."""
    return oci.build_image(ref)


@pytest.fixture(scope="module")
def notary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotaryService]:
    svc = NotaryService().start(tmp_path_factory.mktemp("notary"))
    yield svc
    svc.stop()


@pytest.fixture
def client(notary: NotaryService, tmp_path: Path) -> Iterator[DctClient]:
    c = DctClient(notary, trust_dir=tmp_path / "home" / ".docker" / "trust")
    yield c
    c.close()


def _unique(name: str, request: pytest.FixtureRequest) -> str:
    """A GUN per test: the module shares one (memory-backed) server."""
    return f"docker.io/youruser/{name}-{re.sub(r'[^a-z0-9]+', '-', request.node.name.lower())[:40].strip('-')}"


def _get(notary: NotaryService, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection("127.0.0.1", notary.port, context=notary.ssl_context(), timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_first_push_creates_keys_prompts_like_docker_and_publishes(notary: NotaryService, client: DctClient) -> None:
    img = image(f"{TRUSTED}:v1.0")
    result = client.push_signed(f"{TRUSTED}:v1.0", img.digest, len(img.manifest), PASSPHRASES)
    keys = KeyStore(client.trust_dir)
    (root,) = keys.find("root")
    (repo,) = keys.find("targets", TRUSTED)
    assert (result.root_key_id, result.repository_key_id) == (root.key_id, repo.key_id)
    assert result.transcript == (
        "Signing and pushing trust metadata\n"
        + ROOT_KEY_WARNING + "\n"
        f"Enter passphrase for new root key with ID {root.key_id[:7]}: \n"
        f"Repeat passphrase for new root key with ID {root.key_id[:7]}: \n"
        f"Enter passphrase for new repository key with ID {repo.key_id[:7]}: \n"
        f"Repeat passphrase for new repository key with ID {repo.key_id[:7]}: \n"
        f'Finished initializing "{TRUSTED}"\n'
        f"Successfully signed {TRUSTED}:v1.0\n")
    assert result.signed and result.initialized and result.roles == ["targets"]
    # keys are encrypted with the passphrases that were typed
    root.decrypt(PASSPHRASES["root"])
    repo.decrypt(PASSPHRASES["repository"])
    # the server holds every role; snapshot and timestamp keys are the server's (not in our key store)
    status, body = _get(notary, f"/v2/{TRUSTED}/_trust/tuf/root.json")
    assert status == 200
    signed = json.loads(body)["signed"]
    assert signed["version"] == 1
    held = {k.key_id for k in keys}
    for role in ("snapshot", "timestamp"):
        (kid,) = signed["roles"][role]["keyids"]
        assert signed["keys"][kid]["keytype"] == "ecdsa" and kid not in held
        assert _get(notary, f"/v2/{TRUSTED}/_trust/tuf/{role}.json")[0] == 200
    (cert_id,) = signed["roles"]["root"]["keyids"]
    assert canonical_id(PublicKey.from_dict(signed["keys"][cert_id])) == root.key_id


def test_the_real_notary_client_verifies_what_we_published(notary: NotaryService, client: DctClient,
                                                           tmp_path: Path, request: pytest.FixtureRequest) -> None:
    gun = _unique("verify", request)
    img = image(f"{gun}:v1.0")
    client.push_signed(f"{gun}:v1.0", img.digest, len(img.manifest), PASSPHRASES)
    fresh = NotaryCli(notary.url, tmp_path / "other-trust", notary.ca_file)
    out = fresh.run("list", gun).stdout
    assert re.search(rf"^v1\.0\s+{img.digest.removeprefix('sha256:')}\s+{len(img.manifest)}\s+targets\s*$", out, re.M)
    fresh.close()


def test_trusted_pull_resolves_the_signed_digest(notary: NotaryService, client: DctClient, tmp_path: Path,
                                                 request: pytest.FixtureRequest) -> None:
    gun = _unique("pull", request)
    v1, v2 = image(f"{gun}:v1.0"), image(f"{gun}:v2.0")
    client.push_signed(f"{gun}:v1.0", v1.digest, len(v1.manifest), PASSPHRASES)
    second = client.push_signed(f"{gun}:v2.0", v2.digest, len(v2.manifest), PASSPHRASES)
    assert second.transcript == (
        "Signing and pushing trust metadata\n"
        f"Enter passphrase for repository key with ID {second.repository_key_id[:7]}: \n"
        f"Successfully signed {gun}:v2.0\n")
    assert not second.initialized
    assert client.trusted_pull(f"{gun}:v1.0") == v1.digest
    assert client.trusted_pull(f"{gun}:v2.0") == v2.digest
    # a first-time consumer (empty ~/.docker/trust) trusts on first use and gets the same answer
    other = DctClient(notary, trust_dir=tmp_path / "consumer")
    target = other.resolve(f"{gun}:v2.0")
    assert (target.digest, target.size, target.role) == (v2.digest, len(v2.manifest), "targets")
    assert target.pull_line() == f"Pull (1 of 1): {gun.removeprefix('docker.io/')}:v2.0@{v2.digest}"
    # pulling by digest bypasses content trust altogether
    assert other.trusted_pull(f"{gun}@{v1.digest}") == v1.digest
    other.close()


def test_unsigned_images_are_refused_with_dockers_messages(notary: NotaryService, client: DctClient,
                                                           request: pytest.FixtureRequest) -> None:
    with pytest.raises(DctError) as err:
        client.trusted_pull(f"{UNSIGNED}:v1.0")
    assert str(err.value) == (
        "Error: remote trust data does not exist for docker.io/youruser/unsigned-app: "
        "notary.docker.io does not have trust data for docker.io/youruser/unsigned-app")
    assert err.value.kind == "repository_not_exist"
    with pytest.raises(DctError, match="^Error: remote trust data does not exist for ghcr.io/youruser/app2: "
                                       "ghcr.io does not have trust data for ghcr.io/youruser/app2$"):
        client.trusted_pull("ghcr.io/youruser/app2:v1.0")
    gun = _unique("tags", request)
    img = image(f"{gun}:v1.0")
    client.push_signed(f"{gun}:v1.0", img.digest, len(img.manifest), PASSPHRASES)
    with pytest.raises(DctError, match=r"^No valid trust data for v2$"):
        client.trusted_pull(f"{gun}:v2")
    with pytest.raises(DctError, match=r"^No valid trust data for latest$"):
        client.trusted_pull(gun)


def test_inspect_renders_dockers_json(notary: NotaryService, client: DctClient,
                                      request: pytest.FixtureRequest) -> None:
    gun = _unique("inspect", request)
    img = image(f"{gun}:v1.0")
    pushed = client.push_signed(f"{gun}:v1.0", img.digest, len(img.manifest), PASSPHRASES)
    root_json = json.loads(_get(notary, f"/v2/{gun}/_trust/tuf/root.json")[1])["signed"]
    (cert_id,) = root_json["roles"]["root"]["keyids"]
    assert client.inspect(f"{gun}:v1.0") == [{
        "Name": f"{gun}:v1.0",
        "SignedTags": [{"SignedTag": "v1.0", "Digest": img.digest.removeprefix("sha256:"), "Signers": ["Repo Admin"]}],
        "Signers": [],
        "AdministrativeKeys": [{"Name": "Root", "Keys": [{"ID": cert_id}]},
                               {"Name": "Repository", "Keys": [{"ID": pushed.repository_key_id}]}],
    }]
    assert cert_id != pushed.root_key_id  # inspect shows the root *certificate's* key ID, prompts the key's
    text = client.inspect_json(f"{gun}:v1.0")
    assert text.startswith('[\n    {\n        "Name": ') and text.endswith("]\n")
    table = client.inspect_table(f"{gun}:v1.0")
    assert list(table.columns) == ["Name", "Kind", "Role", "KeyID"]
    assert table[["Role", "KeyID"]].values.tolist() == [["Root", cert_id], ["Repository", pushed.repository_key_id]]
    assert client.inspect(f"{gun}:nope")[0]["SignedTags"] == []
    with pytest.raises(DctInspectError) as err:
        client.inspect(f"{UNSIGNED}:v1.0", f"{gun}:v1.0")
    assert str(err.value) == f"no signatures or cannot access {UNSIGNED}:v1.0"
    assert [r["Name"] for r in err.value.results] == [f"{gun}:v1.0"]


def test_wrong_repository_passphrase_fails_like_docker(client: DctClient, request: pytest.FixtureRequest) -> None:
    gun = _unique("wrongpass", request)
    img = image(f"{gun}:v1.0")
    first = client.push_signed(f"{gun}:v1.0", img.digest, len(img.manifest), PASSPHRASES)
    with pytest.raises(DctError) as err:
        client.push_signed(f"{gun}:v1.1", img.digest, len(img.manifest), {"repository": "not-the-passphrase"})
    assert str(err.value) == (f"failed to sign {gun}:v1.1: could not find necessary signing keys, at least one of "
                              f"these keys must be available: {first.repository_key_id}")
    assert err.value.transcript.count(f"Enter passphrase for repository key with ID {first.repository_key_id[:7]}: ") == 4
    assert err.value.transcript.count("Passphrase incorrect. Please retry.") == 3


def _signer_key(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    crt, pem = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def test_delegated_signer_shows_up_as_signer(client: DctClient, tmp_path: Path,
                                             request: pytest.FixtureRequest) -> None:
    """What ``docker trust signer add alice`` sets up: targets/releases and targets/alice with alice's key."""
    gun = _unique("signers", request)
    v1, v2 = image(f"{gun}:v1"), image(f"{gun}:v2")
    client.push_signed(f"{gun}:v1", v1.digest, len(v1.manifest), PASSPHRASES)
    crt, pem = _signer_key(tmp_path, "alice")
    env = {"targets": PASSPHRASES["repository"], "delegation": "alice-passphrase"}
    for role in ("targets/releases", "targets/alice"):
        client.cli.run("delegation", "add", gun, role, str(crt), "--all-paths", "-p", passphrases=env)
    client.cli.run("key", "import", str(pem), "--role", "alice", passphrases=env)
    signed = client.push_signed(f"{gun}:v2", v2.digest, len(v2.manifest), {"alice": "alice-passphrase"})
    assert signed.roles == ["targets/releases", "targets/alice"]
    assert "Enter passphrase for alice key with ID " in signed.transcript
    assert client.trusted_pull(f"{gun}:v2") == v2.digest
    (info,) = client.inspect(gun)
    assert info["SignedTags"] == [
        {"SignedTag": "v1", "Digest": v1.digest.removeprefix("sha256:"), "Signers": ["Repo Admin"]},
        {"SignedTag": "v2", "Digest": v2.digest.removeprefix("sha256:"), "Signers": ["alice"]}]
    alice_id = x509.load_pem_x509_certificate(crt.read_bytes()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert info["Signers"] == [{"Name": "alice", "Keys": [{"ID": PublicKey("ecdsa", alice_id).id}]}]
    assert "\nList of signers and their keys for" in client.inspect_pretty(gun)


def test_root_takeover_after_server_wipe_is_flagged(tmp_path: Path) -> None:
    """Trust on first use: a consumer who saw the old root rejects a repository re-created by someone else."""
    svc = NotaryService(signer="local").start(tmp_path / "svc")
    try:
        owner = DctClient(svc, trust_dir=tmp_path / "owner")
        consumer = DctClient(svc, trust_dir=tmp_path / "consumer")
        img = image(f"{TRUSTED}:v1.0")
        owner.push_signed(f"{TRUSTED}:v1.0", img.digest, len(img.manifest), PASSPHRASES)
        assert consumer.trusted_pull(f"{TRUSTED}:v1.0") == img.digest
        svc.stop()
        svc.start(tmp_path / "svc")  # memory storage: the trust data is gone
        mallory = DctClient(svc, trust_dir=tmp_path / "mallory")
        mallory.push_signed(f"{TRUSTED}:v1.0", "sha256:" + "ab" * 32, 401,
                            {"root": "mallory-root-1", "repository": "mallory-repo-1"})
        assert mallory.trusted_pull(f"{TRUSTED}:v1.0") == "sha256:" + "ab" * 32
        with pytest.raises(DctError) as err:
            consumer.trusted_pull(f"{TRUSTED}:v1.0")
        assert str(err.value).startswith("Warning: potential malicious behavior - trust data mismatch for remote "
                                         f"repository {TRUSTED}: could not rotate trust to a new trusted root")
    finally:
        svc.stop()


def test_server_survives_bad_requests(notary: NotaryService, client: DctClient,
                                      request: pytest.FixtureRequest) -> None:
    gun = _unique("bad", request)
    ctx = notary.ssl_context()

    def send(method: str, path: str, body: bytes | None = None, ctype: str = "") -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", notary.port, context=ctx, timeout=10)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": ctype} if ctype else {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def multipart(payload: bytes) -> bytes:
        return (b'--XX\r\nContent-Disposition: form-data; name="files"; filename="root.json"\r\n\r\n'
                + payload + b"\r\n--XX--\r\n")

    status, body = send("POST", f"/v2/{gun}/_trust/tuf/", b"garbage", "text/plain")
    assert status == 400 and json.loads(body)["errors"][0]["code"] == "MALFORMED_UPLOAD"
    status, body = send("POST", f"/v2/{gun}/_trust/tuf/", multipart(b"{not json"), "multipart/form-data; boundary=XX")
    assert status == 400 and json.loads(body)["errors"][0]["code"] == "MALFORMED_JSON"
    status, body = send("POST", f"/v2/{gun}/_trust/tuf/", multipart(b'{"signed":{"_type":"Root"},"signatures":[]}'),
                        "multipart/form-data; boundary=XX")
    assert status == 400 and json.loads(body)["errors"][0]["code"] == "INVALID_UPDATE"
    status, body = send("GET", "/v2/" + "a/" * 2000 + "_trust/tuf/root.json")
    assert status == 404 and json.loads(body)["errors"][0]["code"] == "METADATA_NOT_FOUND"
    assert send("GET", f"/v2/{gun}/_trust/tuf/nonsense.json")[0] == 404
    with socket.create_connection(("127.0.0.1", notary.port), timeout=5) as s:  # plain HTTP to the TLS port
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(200).startswith(b"HTTP/1.0 400 Bad Request")
    with socket.create_connection(("127.0.0.1", notary.port), timeout=5) as s:  # a broken TLS hello
        s.sendall(b"\x16\x03\x01\xff\xff" + b"\x00" * 64)
    with pytest.raises(ssl.SSLError):  # a client that does not trust the lab CA is turned away
        conn = http.client.HTTPSConnection("127.0.0.1", notary.port, context=ssl.create_default_context(), timeout=5)
        conn.request("GET", "/v2/")
    assert notary.running and notary.healthy()
    img = image(f"{gun}:v1.0")
    client.push_signed(f"{gun}:v1.0", img.digest, len(img.manifest), PASSPHRASES)
    assert client.trusted_pull(f"{gun}:v1.0") == img.digest


def test_service_info_and_stop(tmp_path: Path) -> None:
    svc = NotaryService().start(tmp_path / "n")
    info = svc.info()
    assert info["url"] == svc.url and info["url"].startswith("https://127.0.0.1:")
    assert info["public_url"] == "https://notary.docker.io" and Path(info["ca"]).is_file()
    assert set(info["pids"]) == {"notary-server", "notary-signer"} and info["signer"] == "remote"
    assert json.loads((tmp_path / "n" / "server.json").read_text())["trust_service"]["type"] == "remote"
    client = DctClient(svc, trust_dir=tmp_path / "trust")
    svc.stop()
    assert not svc.running and not svc.healthy()
    assert not (tmp_path / "n" / "server.pid").exists()
    with pytest.raises(DctError) as err:
        client.trusted_pull(f"{TRUSTED}:v1.0")
    assert str(err.value) == (
        'Error: error contacting notary server: Get "https://notary.docker.io/v2/docker.io/youruser/trusted-app/'
        '_trust/tuf/root.json": dial tcp notary.docker.io:443: connect: connection refused')
    client.close()


@pytest.mark.skipif(not Path("/usr/bin/docker-registry").exists(), reason="docker-registry missing")
def test_signing_what_the_lab_registry_serves(notary: NotaryService, client: DctClient, tmp_path: Path) -> None:
    """End to end with the sandbox's Docker Hub: sign the pushed manifest, pull it back by the trusted digest."""
    from labhelpers.sandbox.registries import RegistryFleet
    from labhelpers.sandbox.registries.catalog import DOCKER_HUB

    fleet = RegistryFleet([DOCKER_HUB]).start(tmp_path / "fleet")
    try:
        hub = fleet.client("docker.io")
        result = client.sign_pushed(hub, f"{TRUSTED}:v1.0", PASSPHRASES)
        served = hub.head_manifest("youruser/trusted-app", "v1.0")
        assert result.digest == served.digest == fleet.image("docker.io", "youruser/trusted-app", "v1.0").digest
        digest = client.trusted_pull(f"{TRUSTED}:v1.0")
        pulled = hub.pull("youruser/trusted-app", digest)
        assert pulled.digest == digest
        with pytest.raises(DctError, match="remote trust data does not exist"):
            client.trusted_pull(f"{UNSIGNED}:v1.0")
    finally:
        fleet.stop()
