"""Signing and verification against real Distribution registries (the lab fleet in a temporary directory)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from labhelpers.sandbox.admission.kyverno.results import RuleStatus
from labhelpers.sandbox.registries import RegistryFleet, oci
from labhelpers.sandbox.registries.distribution import registry_binary
from labhelpers.trust import keys
from labhelpers.trust.cosign import (
    LAB_KEY_PASSWORD,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    presign,
    sign_image,
)
from labhelpers.trust.kyverno import kyverno_verify_images, registry_access
from labhelpers.trust.verify import verify_image

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(registry_binary() is None,
                       reason="/usr/bin/docker-registry missing: apt-get install docker-registry"),
]

PUSHER = {"username": "your-username", "password": "your-password"}  # catalog: push on docker.io/youruser/*


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    f = RegistryFleet()
    f.start(tmp_path_factory.mktemp("registries"))
    yield f
    f.stop()


@pytest.fixture(scope="module")
def lab(fleet: RegistryFleet, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return presign(fleet, tmp_path_factory.mktemp("lab-keys"))


@pytest.fixture(scope="module")
def other_key() -> tuple[object, bytes]:
    private_pem, public_pem = keys.generate_key_pair("other")
    return keys.load_private_key(private_pem, "other"), public_pem


def _pub(lab: dict) -> bytes:
    return Path(lab["public_key_path"]).read_bytes()


def test_presign_signs_the_lab_images_and_is_idempotent(fleet: RegistryFleet, lab: dict) -> None:
    assert Path(lab["private_key_path"]).read_bytes().startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    assert lab["password"] == LAB_KEY_PASSWORD
    for image in ("docker.io/youruser/signed-app:v1.0", "docker.io/youruser/trusted-app:v1.0"):
        result = verify_image(fleet, image, [_pub(lab)])
        assert result.ok, result.error
        assert result.verified[0].docker_reference == "index.docker.io/" + image.split("/", 1)[1].split(":")[0]
        assert result.digest == fleet.image("docker.io", image.split("/", 1)[1].split(":")[0], "v1.0").digest
    again = presign(fleet, Path(lab["public_key_path"]).parent)
    assert again["public_key_path"] == lab["public_key_path"]
    assert verify_image(fleet, "docker.io/youruser/signed-app:v1.0", [_pub(lab)]).signatures_found == 1


def test_signature_image_layout_is_cosigns(fleet: RegistryFleet, lab: dict) -> None:
    digest = fleet.image("docker.io", "youruser/signed-app", "v1.0").digest
    client = fleet.client("docker.io")
    m = client.get_manifest("youruser/signed-app", digest.replace(":", "-") + ".sig")
    doc = m.json()
    assert m.media_type == oci.OCI_MANIFEST
    assert doc["config"]["mediaType"] == oci.OCI_CONFIG
    [layer] = doc["layers"]
    assert layer["mediaType"] == SIMPLE_SIGNING_MEDIA_TYPE
    payload = client.get_blob("youruser/signed-app", layer["digest"])
    assert payload == (b'{"critical":{"identity":{"docker-reference":"index.docker.io/youruser/signed-app"},'
                       b'"image":{"docker-manifest-digest":"' + digest.encode() + b'"},'
                       b'"type":"cosign container image signature"},"optional":null}')
    [pub] = keys.load_public_keys(_pub(lab))
    pub.verify(base64.b64decode(layer["annotations"][SIGNATURE_ANNOTATION]), payload)


def test_unsigned_image_has_no_signatures(fleet: RegistryFleet, lab: dict) -> None:
    result = verify_image(fleet, "docker.io/youruser/unsigned-app:v1.0", [_pub(lab)])
    assert (result.ok, result.error, result.exit_code) == (False, "no signatures found", 10)


def test_wrong_key_fails(fleet: RegistryFleet, other_key: tuple[object, bytes]) -> None:
    result = verify_image(fleet, "docker.io/youruser/signed-app:v1.0", [other_key[1]])
    assert result.error == "no matching signatures: invalid signature when validating ASN.1 encoded signature"
    assert result.exit_code == 12


def test_missing_tag_is_image_tag_not_found(fleet: RegistryFleet, lab: dict) -> None:
    result = verify_image(fleet, "docker.io/youruser/signed-app:v9", [_pub(lab)])
    assert result.exit_code == 11
    assert result.error == ('image tag not found: GET https://index.docker.io/v2/youruser/signed-app/manifests/v9: '
                            'MANIFEST_UNKNOWN: manifest unknown; map[Tag:v9]')


def test_sign_verify_and_duplicate_detection(fleet: RegistryFleet, other_key: tuple[object, bytes]) -> None:
    private, public_pem = other_key
    first = sign_image(fleet, "docker.io/youruser/app:v1.0", private, **PUSHER)
    assert first.added and first.pushed_to == "index.docker.io/youruser/app"
    again = sign_image(fleet, "docker.io/youruser/app:v1.0", private, **PUSHER)
    assert not again.added and again.signature_manifest_digest == first.signature_manifest_digest
    result = verify_image(fleet, "youruser/app:v1.0", [public_pem])
    assert result.ok and result.signatures_found == 1


def test_second_signer_adds_a_layer(fleet: RegistryFleet, lab: dict, other_key: tuple[object, bytes]) -> None:
    lab_private = keys.load_private_key(Path(lab["private_key_path"]).read_bytes(), lab["password"])
    sign_image(fleet, "docker.io/youruser/app1:v1.0", other_key[0], **PUSHER)
    sign_image(fleet, "docker.io/youruser/app1:v1.0", lab_private, **PUSHER)
    as_pusher = lambda host: fleet.client(host, **PUSHER)  # noqa: E731 - app1 is private
    result = verify_image(as_pusher, "docker.io/youruser/app1:v1.0", [_pub(lab)])
    assert result.ok and result.signatures_found == 2 and result.matching == 1


def test_tampered_signature_fails(fleet: RegistryFleet, other_key: tuple[object, bytes]) -> None:
    private, public_pem = other_key
    signed = sign_image(fleet, "docker.io/youruser/trusted-app:v1.0", private, **PUSHER)
    client = fleet.client("docker.io", **PUSHER)
    doc = client.get_manifest("youruser/trusted-app", signed.signature_tag).json()
    for layer in doc["layers"]:  # flip one byte of every signature
        raw = bytearray(base64.b64decode(layer["annotations"][SIGNATURE_ANNOTATION]))
        raw[-1] ^= 1
        layer["annotations"][SIGNATURE_ANNOTATION] = base64.b64encode(bytes(raw)).decode()
    client.push_manifest("youruser/trusted-app", signed.signature_tag,
                         json.dumps(doc, separators=(",", ":")).encode(), oci.OCI_MANIFEST)
    result = verify_image(fleet, "docker.io/youruser/trusted-app:v1.0", [public_pem])
    assert not result.ok
    assert result.error.startswith("no matching signatures: invalid signature when validating ASN.1")


def test_signature_copied_to_another_image_fails_the_claim(fleet: RegistryFleet, lab: dict) -> None:
    """Copy signed-app's .sig image next to another image: the signature verifies, the claim does not."""
    client = fleet.client("docker.io", **PUSHER)
    src = fleet.image("docker.io", "youruser/signed-app", "v1.0").digest
    dst = fleet.image("docker.io", "yourusername/private-app", "v1.0").digest
    sig = client.get_manifest("youruser/signed-app", src.replace(":", "-") + ".sig")
    for desc in [sig.json()["config"], *sig.json()["layers"]]:
        client.push_blob("yourusername/private-app", client.get_blob("youruser/signed-app", desc["digest"]))
    client.push_manifest("yourusername/private-app", dst.replace(":", "-") + ".sig", sig.data, oci.OCI_MANIFEST)
    as_pusher = lambda host: fleet.client(host, **PUSHER)  # noqa: E731
    result = verify_image(as_pusher, "docker.io/yourusername/private-app:v1.0", [_pub(lab)])
    assert result.error == f"no matching signatures: invalid or missing digest in claim: {src}"


# ------------------------------------------------------------------------------------------- Kyverno


def _rule(public_pem: bytes) -> dict:
    return {"name": "verify-signature", "verifyImages": [{
        "imageReferences": ["docker.io/youruser/*"],
        "attestors": [{"count": 1, "entries": [{"keys": {"publicKeys": public_pem.decode()}}]}]}]}


def test_kyverno_exercise_14_signed_passes_unsigned_fails(fleet: RegistryFleet, lab: dict) -> None:
    access = registry_access(fleet)
    signed, unsigned = kyverno_verify_images(_rule(_pub(lab)), ["docker.io/youruser/signed-app:v1.0",
                                                                "docker.io/youruser/unsigned-app:v1.0"], access)
    digest = fleet.image("docker.io", "youruser/signed-app", "v1.0").digest
    assert (signed.status, signed.message) == (RuleStatus.PASS,
                                               "verified image signatures for docker.io/youruser/signed-app:v1.0")
    assert signed.patched_image == f"docker.io/youruser/signed-app:v1.0@{digest}"
    assert unsigned.status == RuleStatus.FAIL
    assert unsigned.message == ("failed to verify image docker.io/youruser/unsigned-app:v1.0: "
                                ".attestors[0].entries[0].keys: no signatures found")


def test_kyverno_uses_its_own_credentials_not_the_pods(fleet: RegistryFleet, lab: dict) -> None:
    """A private image that the Pod pulls with its imagePullSecret still fails: Kyverno reads anonymously."""
    lab_private = keys.load_private_key(Path(lab["private_key_path"]).read_bytes(), lab["password"])
    sign_image(fleet, "docker.io/youruser/private-app:v1.0", lab_private, **PUSHER)
    [anon] = kyverno_verify_images(_rule(_pub(lab)), ["youruser/private-app:v1.0"], registry_access(fleet))
    assert anon.status == RuleStatus.FAIL
    assert anon.message == (
        "failed to verify image docker.io/youruser/private-app:v1.0: .attestors[0].entries[0].keys: "
        "GET https://index.docker.io/v2/youruser/private-app/manifests/v1.0: UNAUTHORIZED: authentication "
        "required; [map[Action:pull Class: Name:youruser/private-app Type:repository]]")
    auth = base64.b64encode(b"your-username:your-password").decode()
    config = {"auths": {"https://index.docker.io/v1/": {"auth": auth}}}
    secret = {"metadata": {"name": "regcred", "namespace": "kyverno"}, "type": "kubernetes.io/dockerconfigjson",
              "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}}
    [ok] = kyverno_verify_images(_rule(_pub(lab)), ["youruser/private-app:v1.0"], registry_access(fleet, [secret]))
    assert ok.status == RuleStatus.PASS, ok.message


# ----------------------------------------------------------------------------------------------- CLI


def _labctl(tmp: Path, *args: str, password: str | None = "pw", stdin: str = "") -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp)}
    if password is not None:
        env["COSIGN_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "labhelpers.trust.cli", *args], cwd=tmp, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_cli_generate_sign_verify(fleet: RegistryFleet, tmp_path: Path) -> None:
    reg = ["--registry-url", f"docker.io={fleet.resolve('docker.io')}"]
    r = _labctl(tmp_path, "sign", "generate-key-pair")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "Private key written to cosign.key\nPublic key written to cosign.pub\n"
    image = "docker.io/youruser/app2:v1.0"
    fleet_image = fleet.image("docker.io", "youruser/app", "v1.0")
    client = fleet.client("docker.io", **PUSHER)
    client.push_image("youruser/app2", "v1.0", fleet_image)

    bad = _labctl(tmp_path, "sign", "sign", "--key", "cosign.key", *reg, image, password="nope")
    assert bad.returncode == 1
    msg = f"signing [{image}]: getting signer: reading key: decrypt: encrypted: decryption failed"
    assert bad.stderr == f"Error: {msg}\nmain.go:74: error during command execution: {msg}\n"

    s = _labctl(tmp_path, "sign", "sign", "--key", "cosign.key", "--tlog-upload=false", *reg,
                "--registry-username", "your-username", "--registry-password", "your-password", image)
    assert s.returncode == 0, s.stderr
    assert s.stderr.startswith(f"WARNING: Image reference {image} uses a tag, not a digest")
    assert s.stderr.endswith("\nPushing signature to: index.docker.io/youruser/app2\n")

    denied = _labctl(tmp_path, "sign", "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", *reg, image)
    assert denied.returncode == 1  # app2 is private and we have not logged in
    assert "Error: GET https://index.docker.io/v2/youruser/app2/manifests/v1.0: UNAUTHORIZED" in denied.stderr

    docker_config = tmp_path / ".docker" / "config.json"  # what `docker login` writes
    docker_config.parent.mkdir()
    auth = base64.b64encode(b"your-username:your-password").decode()
    docker_config.write_text(json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}}}))
    v = _labctl(tmp_path, "sign", "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", *reg, image)
    assert v.returncode == 0, v.stderr
    assert v.stderr.endswith(
        "\nVerification for index.docker.io/youruser/app2:v1.0 --\n"
        "The following checks were performed on each of these signatures:\n"
        "  - The cosign claims were validated\n"
        "  - The signatures were verified against the specified public key\n")
    [claims] = json.loads(v.stdout)
    assert claims["critical"]["image"]["docker-manifest-digest"] == fleet_image.digest
    assert v.stdout.startswith("\n[{\"critical\":{\"identity\":{\"docker-reference\":\"index.docker.io/youruser/app2\"}")

    u = _labctl(tmp_path, "sign", "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", *reg,
                "docker.io/youruser/unsigned-app:v1.0")
    assert u.returncode == 10
    assert u.stderr.endswith("Error: no signatures found\nmain.go:74: error during command execution: "
                             "no signatures found\n")
