"""Notary's encrypted key files: read what notary 0.7.0 wrote, write what it reads."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from labhelpers.trust.dct import der
from labhelpers.trust.dct.keystore import IncorrectPassphraseError, KeyStore, decrypt_pem, encrypt_pem
from labhelpers.trust.dct.tufjson import ecdsa_public_key

# A lab-only targets key written by `notary init -p` (passphrase "targpass123").
NOTARY_KEY_ID = "ef464b40573f3ae0da81c33d6e55d6b97cd748814db00adf05e98919cf79bdd8"
NOTARY_KEY_PEM = b"""-----BEGIN ENCRYPTED PRIVATE KEY-----
gun: docker.io/youruser/trusted-app
role: targets

MIHuMEkGCSqGSIb3DQEFDTA8MBsGCSqGSIb3DQEFDDAOBAiIbqRqXoK/HgICCAAw
HQYJYIZIAWUDBAEqBBC1zuVtN2kzFaGoHbXGZ6oaBIGggGp+dXrvisoAA5VFqSTU
JOfm8aalMpIZbP1sl5e66fhnGbe1kK3d5MJP+mupN1+rZEq5hXxoy/b1vAX4dRY+
qG4A8rLSZJ1VSn4WU+aHtYj1KHZWJs4fP+RzHLzIwspzPiD3WlsRRXdA1AI+swge
6fIHhWjpiBPZQvpXpO3PNkyvCeKOoBjITJggck4Y9f32j6dLF1wLQIdJ4eJw93v4
Tg==
-----END ENCRYPTED PRIVATE KEY-----
"""


def _body(pem: bytes) -> bytes:
    lines = [ln for ln in pem.decode().splitlines() if ln and not ln.startswith("-----") and ": " not in ln]
    return base64.b64decode("".join(lines))


def test_decrypts_a_key_written_by_notary() -> None:
    key = decrypt_pem(NOTARY_KEY_PEM, "targpass123")
    assert ecdsa_public_key(key.public_key()).id == NOTARY_KEY_ID
    with pytest.raises(IncorrectPassphraseError, match="pkcs8: incorrect password"):
        decrypt_pem(NOTARY_KEY_PEM, "wrong-passphrase")


def test_written_files_have_notarys_shape() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = encrypt_pem(key, "targets", "docker.io/a/b", "s3cret-pass")
    lines = pem.decode().splitlines()
    assert lines[:4] == ["-----BEGIN ENCRYPTED PRIVATE KEY-----", "gun: docker.io/a/b", "role: targets", ""]
    assert lines[-1] == "-----END ENCRYPTED PRIVATE KEY-----"
    assert all(len(line) <= 64 for line in lines[4:-1])
    # PBES2 / PBKDF2 (8-byte salt, 2048 iterations, no PRF = HMAC-SHA1) / AES-256-CBC, like notary's writer
    algorithm = der.read(_body(pem))[0].children()[0].children()
    assert algorithm[0].as_oid() == "1.2.840.113549.1.5.13"
    kdf, scheme = algorithm[1].children()
    salt, iterations = kdf.children()[1].children()
    assert len(salt.as_octets()) == 8 and iterations.as_int() == 2048
    assert len(kdf.children()[1].children()) == 2
    assert scheme.children()[0].as_oid() == "2.16.840.1.101.3.4.1.42"
    assert ecdsa_public_key(decrypt_pem(pem, "s3cret-pass").public_key()) == ecdsa_public_key(key.public_key())
    with pytest.raises(IncorrectPassphraseError):
        decrypt_pem(pem, "s3cret-pasS")


def test_root_keys_carry_no_gun_and_listing_reads_headers(tmp_path) -> None:
    store = KeyStore(tmp_path)
    root = store.add(ec.generate_private_key(ec.SECP256R1()), "root", "docker.io/ignored", "rootpass1")
    targets = store.add(ec.generate_private_key(ec.SECP256R1()), "targets", "docker.io/a/b", "repopass1")
    assert root.gun == "" and b"gun:" not in root.path.read_bytes()
    assert root.path.name == f"{root.key_id}.key" and (root.path.stat().st_mode & 0o777) == 0o600
    assert [k.key_id for k in store.find("root")] == [root.key_id]
    assert [k.key_id for k in store.find("targets", "docker.io/a/b")] == [targets.key_id]
    assert store.find("targets", "docker.io/other") == []
    assert store.get(targets.key_id) == targets and targets.encrypted


def test_der_round_trip() -> None:
    blob = der.sequence(der.integer(0), der.integer(128), der.integer(2048), der.oid("1.2.840.10045.3.1.7"),
                        der.octets(b"x" * 200))
    nodes = der.read(blob)[0].children()
    assert [nodes[0].as_int(), nodes[1].as_int(), nodes[2].as_int()] == [0, 128, 2048]
    assert nodes[3].as_oid() == "1.2.840.10045.3.1.7"
    assert nodes[4].as_octets() == b"x" * 200
    with pytest.raises(der.DerError):
        der.read(blob[:-5])
