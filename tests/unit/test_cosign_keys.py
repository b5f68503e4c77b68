"""cosign.key / cosign.pub formats: our keys are cosign's, cosign's keys are ours.

Upstream data used below: the scrypt+secretbox envelopes of secure-systems-lab/go-securesystemslib
``encrypted/encrypted_test.go`` (plaintext ``reallyimportant``, passphrase ``supersecret``) and the encrypted
private keys of sigstore/cosign ``pkg/cosign/keys_test.go`` (password ``hello``).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from labhelpers.trust import keys

# go-securesystemslib kdfVectors: Legacy (N=2^15), Standard (2^16), OWASP (2^17). The plaintext is the JSON
# encoding of the []byte "reallyimportant" (Marshal wraps it), i.e. a quoted base64 string.
KDF_VECTORS = {
    32768: b'{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"WO3mVvyTwJ9vwT5/Tk5OW5WPIBUofMjcpEfrLnfY4uA="},"cipher":{"name":"nacl/secretbox","nonce":"tCy7HcTFr4uxv4Nrg/DWmncuZ148U1MX"},"ciphertext":"08n43p5G5yviPEZpO7tPPF4aZQkWiWjkv4taFdhDBA0tamKH4nw="}',  # noqa: E501
    65536: b'{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"FhzPOt9/bJG4PTq6lQ6ecG6GzaOuOy/ynG5+yRiFlNs="},"cipher":{"name":"nacl/secretbox","nonce":"aw1ng1jHaDz/tQ7V2gR9O2+IGQ8xJEuE"},"ciphertext":"HycvuLZL4sYH0BrYTh4E/H20VtAW6u5zL5Pr+IBjYLYnCPzDkq8="}',  # noqa: E501
    131072: b'{"kdf":{"name":"scrypt","params":{"N":131072,"r":8,"p":1},"salt":"m38E3kouJTtiheLQN22NQ8DTito5hrjpUIskqcd375k="},"cipher":{"name":"nacl/secretbox","nonce":"Y6PM13yA+o44pE/W1ZBwczeGnTV/m9Zc"},"ciphertext":"6H8sqj1K6B6yDjtH5AQ6lbFigg/C2yDDJc4rYJ79w9aVPImFIPI="}',  # noqa: E501
}
MARSHALLED_PLAINTEXT = b'"' + base64.b64encode(b"reallyimportant") + b'"'
UNSUPPORTED_PARAMS = b'{"kdf":{"name":"scrypt","params":{"N":99,"r":99,"p":99},"salt":"cZFcQJdwPhPyhU1R4qkl0qVOIjZd4V/7LYYAavq166k="},"cipher":{"name":"nacl/secretbox","nonce":"7vhRS7j0hEPBWV05skAdgLj81AkGeE7U"},"ciphertext":"6WYU/YSXVbYzl/NzaeAzmjLyfFhOOjLc0d8/GFV0aBFdJvyCcXc="}'  # noqa: E501

# sigstore/cosign keys_test.go: a key written by cosign (N=2^15) and an old COSIGN-labelled one holding SEC 1.
PEM_SIGSTORE_KEY = """-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----
eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjozMjc2OCwiciI6
OCwicCI6MX0sInNhbHQiOiI3T3VGd2VsbWZZNXVId2NoaURSc210anNwZ2ZlZjFG
Mk5lOGFDTjVLYVpZPSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94
Iiwibm9uY2UiOiJQNHk4OGhCb3ZTa09MbXN0bFVBaGJwdDJ0K2xTNUxQSCJ9LCJj
aXBoZXJ0ZXh0IjoiMnB1QzdyZldJOWh3bnJlQ2s4aUZDRlVwQlRrSzRJNlIvbFBF
cnBDekpXUGpJWXl4eGVIL1A2VW52cFJHdVhla1NNb3JMdGhLamdoQ1JlNy82NDVH
QWtoVm1LRC92eEF0S2EvbE1abENSQ3FlekJGUFd1dzNpeFRtZ2xhb2J1ZFVSbUVs
bmNGOGlZbzBTMVl6Y1ZOMVFwY2J2c0dNcUlYRzVlbmdteGp5dCtBcXlyZTF0Q0Y0
V01tU1BlaEljNlBqd2h1Q2xHaVpJUWRvTGc9PSJ9
-----END ENCRYPTED SIGSTORE PRIVATE KEY-----"""
PEM_COSIGN_EC_KEY = """-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----
eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjo2NTUzNiwiciI6
OCwicCI6MX0sInNhbHQiOiJHK3F5WTYrNzhNS0JzMXNGTGs1ajYwcS9kS3Z1czBW
VkhlSHZybC9POTF3PSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94
Iiwibm9uY2UiOiJRc2JGdG13WDRDK2ttV3ZCcVRaMEFGOUFYdk1jRmg1SCJ9LCJj
aXBoZXJ0ZXh0IjoiREM5T28zeldiYVQzSXYwdFVnWEdycjUxYW1samwwNlQ5MTNP
VkxPbWpuMWhnK2o2WXRUbWg3SGhZSlY1N2J5eGE0Q281bE9YYmRqbTJ3aklubEd1
Um5aZCt5OExnekpSNzFSeEhKVzgrWmRlcFJmYWJMTjdHbDgrSFZEcERVQ3NxQnRh
VngyblpGbFEwWUl1anZwbFphblNGaUVvdERLVGkxZ3VhUXIwUHNzYU01NXZxbTRY
WS9rPSJ9
-----END ENCRYPTED COSIGN PRIVATE KEY-----"""


@pytest.fixture(scope="module")
def pair() -> tuple[bytes, bytes]:
    return keys.generate_key_pair("s3cret")


@pytest.mark.parametrize("n", sorted(KDF_VECTORS))
def test_decrypts_securesystemslib_envelopes(n: int) -> None:
    assert keys.decrypt_envelope(KDF_VECTORS[n], b"supersecret") == MARSHALLED_PLAINTEXT


def test_encrypt_reproduces_the_go_envelope_byte_for_byte() -> None:
    """Same salt and nonce -> the exact bytes Go's encrypted.Encrypt + json.Marshal wrote."""
    vector = KDF_VECTORS[65536]
    doc = json.loads(vector)
    salt, nonce = base64.b64decode(doc["kdf"]["salt"]), base64.b64decode(doc["cipher"]["nonce"])
    assert keys.encrypt_envelope(MARSHALLED_PLAINTEXT, "supersecret", salt=salt, nonce=nonce) == vector


def test_envelope_errors_carry_securesystemslib_text() -> None:
    with pytest.raises(keys.CosignKeyError, match="^unsupported scrypt parameters$"):
        keys.decrypt_envelope(UNSUPPORTED_PARAMS, b"supersecret")
    with pytest.raises(keys.CosignKeyError, match="^encrypted: decryption failed$"):
        keys.decrypt_envelope(KDF_VECTORS[32768], b"Supersecret")
    wrong_cipher = KDF_VECTORS[32768].replace(b"nacl/secretbox", b"aes")
    with pytest.raises(keys.CosignKeyError, match='^encrypted: unknown cipher name "aes"$'):
        keys.decrypt_envelope(wrong_cipher, b"supersecret")


def test_reads_a_key_written_by_cosign() -> None:
    private = keys.load_private_key(PEM_SIGSTORE_KEY, "hello")
    payload = b'{"critical":{}}'
    signature = keys.sign_payload(private, payload)
    keys.verify_signature(private.public_key(), signature, payload)


def test_old_cosign_ec_key_fails_like_cosign() -> None:
    """cosign's own test expects this error: the box holds SEC 1, and Go's PKCS#8 parser points that out."""
    with pytest.raises(keys.CosignKeyError) as e:
        keys.load_private_key(PEM_COSIGN_EC_KEY, "hello")
    assert str(e.value) == ("parsing private key: x509: failed to parse private key "
                            "(use ParseECPrivateKey instead for this key format)")


def test_generated_pair_has_cosigns_formats(pair: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = pair
    [(ptype, body)] = keys.pem_blocks(private_pem)
    assert ptype == "ENCRYPTED SIGSTORE PRIVATE KEY"
    assert private_pem.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    assert all(len(line) <= 64 for line in private_pem.splitlines())
    envelope = json.loads(body)
    assert list(envelope) == ["kdf", "cipher", "ciphertext"]
    assert envelope["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}
    assert len(base64.b64decode(envelope["kdf"]["salt"])) == 32
    assert len(base64.b64decode(envelope["cipher"]["nonce"])) == 24
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    public = serialization.load_pem_public_key(public_pem)
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"


def test_generated_pair_round_trips_and_signs(pair: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = pair
    private = keys.load_private_key(private_pem, "s3cret")
    assert keys.public_key_pem(private.public_key()) == public_pem
    [plain] = [der for _, der in keys.pem_blocks(private_pem)]
    der = keys.decrypt_envelope(plain, "s3cret")
    assert serialization.load_der_private_key(der, None).private_numbers() == private.private_numbers()
    payload = b"payload"
    signature = keys.sign_payload(private, payload)
    decode_dss_signature(signature)  # ASN.1 DER, as cosign stores it
    [pub] = keys.load_public_keys(public_pem)
    pub.verify(signature, payload)
    with pytest.raises(keys.InvalidSignatureError, match="^invalid signature when validating ASN.1 encoded"):
        pub.verify(signature, payload + b"!")


def test_p1363_signatures_are_accepted(pair: tuple[bytes, bytes]) -> None:
    private = keys.load_private_key(pair[0], "s3cret")
    r, s = decode_dss_signature(private.sign(b"x", ec.ECDSA(hashes.SHA256())))
    keys.verify_signature(private.public_key(), r.to_bytes(32, "big") + s.to_bytes(32, "big"), b"x")


def test_wrong_password_error_is_cosigns(pair: tuple[bytes, bytes]) -> None:
    with pytest.raises(keys.CosignKeyError) as e:
        keys.load_private_key(pair[0], "S3cret")
    assert str(e.value) == "decrypt: encrypted: decryption failed"


def test_pem_type_errors(pair: tuple[bytes, bytes]) -> None:
    with pytest.raises(keys.CosignKeyError, match="^invalid pem block$"):
        keys.load_private_key(b"not a key", "x")
    with pytest.raises(keys.CosignKeyError, match="^unsupported pem type: PUBLIC KEY$"):
        keys.load_private_key(pair[1], "x")


def test_several_public_keys_in_one_string(pair: tuple[bytes, bytes]) -> None:
    other_private, other_public = keys.generate_key_pair("x")
    both = pair[1].decode() + "\n" + other_public.decode()
    found = keys.load_public_keys(both)
    assert [k.pem for k in found] == [pair[1], other_public]


SEED_POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-image-signatures
spec:
  rules:
  - name: verify-signature
    verifyImages:
    - imageReferences:
      - "docker.io/youruser/*"
      attestors:
      - count: 1
        entries:
        - keys:
            publicKeys: |-
              -----BEGIN PUBLIC KEY-----
              {body}
              -----END PUBLIC KEY-----
"""


def test_seed_exercise_14_heredoc_breaks_the_yaml(pair: tuple[bytes, bytes]) -> None:
    """``$(cat cosign.pub | tail -n +2 | head -n -1)`` indents only the first base64 line; the second starts at
    column 0, which ends the ``|-`` block and leaves YAML that does not parse (kubectl apply fails)."""
    import yaml

    body_lines = pair[1].decode().splitlines()[1:-1]
    assert len(body_lines) == 2  # a P-256 SPKI is two base64 lines
    broken = SEED_POLICY.replace("{body}", "\n".join(body_lines))  # what the shell substitution produces
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(broken)
    fixed = SEED_POLICY.replace("{body}", "\n              ".join(body_lines))  # every line indented
    doc = yaml.safe_load(fixed)
    pem = doc["spec"]["rules"][0]["verifyImages"][0]["attestors"][0]["entries"][0]["keys"]["publicKeys"]
    assert [k.pem for k in keys.load_public_keys(pem)] == [pair[1]]


# --------------------------------------------------------------------------- labctl sign generate-key-pair


def _generate(tmp_path: Path, stdin: str, env_password: str | None = None) -> subprocess.CompletedProcess[str]:

    env = {k: v for k, v in os.environ.items() if k != "COSIGN_PASSWORD"}
    if env_password is not None:
        env["COSIGN_PASSWORD"] = env_password
    return subprocess.run([sys.executable, "-m", "labhelpers.trust.cli", "sign", "generate-key-pair"],
                          cwd=tmp_path, env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_cli_piped_password_keeps_its_newline(tmp_path: Path) -> None:
    """cosign reads a piped password with io.ReadAll: ``echo pw | cosign generate-key-pair`` uses "pw\\n"."""
    r = _generate(tmp_path, "pw\n")
    assert r.returncode == 0, r.stderr
    key = (tmp_path / "cosign.key").read_bytes()
    keys.load_private_key(key, "pw\n")
    with pytest.raises(keys.CosignKeyError):
        keys.load_private_key(key, "pw")
    assert (tmp_path / "cosign.key").stat().st_mode & 0o777 == 0o600


def test_cli_refuses_to_overwrite_without_yes(tmp_path: Path) -> None:
    (tmp_path / "cosign.key").write_text("old")
    r = _generate(tmp_path, "n\n", env_password="pw")
    assert r.returncode == 1
    assert r.stderr == ("WARNING: File cosign.key already exists. Overwrite?\n"
                        "Are you sure you would like to continue? [y/N] Error: user declined the prompt\n"
                        "main.go:74: error during command execution: user declined the prompt\n")
    assert (tmp_path / "cosign.key").read_text() == "old"
