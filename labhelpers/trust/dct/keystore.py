"""The private half of a Docker trust directory: ``~/.docker/trust/private/<keyID>.key``.

Notary (and so Docker) stores every signing key as PEM ``ENCRYPTED PRIVATE KEY`` with ``gun:``/``role:``
headers, the file named by the key's canonical ID. The body is PKCS#8 encrypted with PBES2: PBKDF2 with
HMAC-SHA1, 2048 iterations and an 8-byte salt, then AES-256-CBC (``tuf/utils/pkcs8.go``). The plaintext is
Notary's PrivateKeyInfo: version 1, the curve OIDs, and the SEC1 ECPrivateKey.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from . import der
from .tufjson import ecdsa_public_key

__all__ = ["IncorrectPassphraseError", "KeyFile", "KeyStore", "decrypt_pem", "encrypt_pem"]

OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_P256 = "1.2.840.10045.3.1.7"
ITERATIONS = 2048
ENCRYPTED = "ENCRYPTED PRIVATE KEY"
PLAIN = "PRIVATE KEY"


class IncorrectPassphraseError(ValueError):
    """The passphrase does not decrypt the key (Notary: ``pkcs8: incorrect password``)."""


def _pbkdf2_sha1(passphrase: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha1", passphrase.encode(), salt, iterations, 32)


def _plain_pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    sec1 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
    return der.sequence(der.integer(1), der.sequence(der.oid(OID_EC_PUBLIC_KEY), der.oid(OID_P256)),
                        der.octets(sec1))


def _parse_plain_pkcs8(data: bytes) -> ec.EllipticCurvePrivateKey:
    node, _ = der.read(data)  # trailing bytes (CBC padding) are ignored, as Go's asn1.Unmarshal does
    version, algorithm, private = node.children()[:3]
    version.as_int()
    if algorithm.children()[0].as_oid() != OID_EC_PUBLIC_KEY:
        raise ValueError("only ECDSA keys are used by Docker Content Trust")
    key = serialization.load_der_private_key(private.as_octets(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an EC private key")
    return key


def _pem(block_type: str, body: bytes, headers: dict[str, str]) -> bytes:
    """Go's ``pem.Encode``: sorted headers, a blank line, base64 in 64-column lines."""
    lines = [f"-----BEGIN {block_type}-----"]
    if headers:
        lines += [f"{k}: {headers[k]}" for k in sorted(headers)] + [""]
    b64 = base64.b64encode(body).decode()
    lines += [b64[i:i + 64] for i in range(0, len(b64), 64)]
    lines.append(f"-----END {block_type}-----")
    return ("\n".join(lines) + "\n").encode()


def _unpem(pem: bytes) -> tuple[str, dict[str, str], bytes]:
    text = pem.decode("ascii", errors="replace").strip().splitlines()
    if not text or not text[0].startswith("-----BEGIN ") or not text[-1].startswith("-----END "):
        raise ValueError("no valid private key found")
    block_type = text[0][len("-----BEGIN "):].rstrip("-")
    headers: dict[str, str] = {}
    body: list[str] = []
    for line in text[1:-1]:
        if ":" in line and not body:
            k, _, v = line.partition(":")
            headers[k.strip()] = v.strip()
        elif line.strip():
            body.append(line.strip())
    return block_type, headers, base64.b64decode("".join(body))


def encrypt_pem(key: ec.EllipticCurvePrivateKey, role: str, gun: str, passphrase: str) -> bytes:
    """``utils.ConvertPrivateKeyToPKCS8``: encrypted when a passphrase is given, headers role/gun."""
    headers = {k: v for k, v in (("role", role), ("gun", gun)) if v}
    plain = _plain_pkcs8(key)
    if not passphrase:
        return _pem(PLAIN, plain, headers)
    salt, iv = secrets.token_bytes(8), secrets.token_bytes(16)
    pad = 16 - len(plain) % 16
    enc = Cipher(algorithms.AES(_pbkdf2_sha1(passphrase, salt, ITERATIONS)), modes.CBC(iv)).encryptor()
    ciphertext = enc.update(plain + bytes([pad]) * pad) + enc.finalize()
    info = der.sequence(
        der.sequence(der.oid(OID_PBES2), der.sequence(
            der.sequence(der.oid(OID_PBKDF2), der.sequence(der.octets(salt), der.integer(ITERATIONS))),
            der.sequence(der.oid(OID_AES256_CBC), der.octets(iv)))),
        der.octets(ciphertext))
    return _pem(ENCRYPTED, info, headers)


def decrypt_pem(pem: bytes, passphrase: str) -> ec.EllipticCurvePrivateKey:
    """``utils.ParsePEMPrivateKey`` for PKCS#8 keys; raises :class:`IncorrectPassphraseError`."""
    block_type, _, body = _unpem(pem)
    if block_type == PLAIN:
        return _parse_plain_pkcs8(body)
    if block_type != ENCRYPTED:
        raise ValueError(f'unsupported key type "{block_type}"')
    outer = der.read(body)[0].children()
    algorithm, data = outer[0].children(), outer[1].as_octets()
    if algorithm[0].as_oid() != OID_PBES2:
        raise ValueError("pkcs8: only PBES2 supported")
    kdf, scheme = algorithm[1].children()
    kdf_parts = kdf.children()
    if kdf_parts[0].as_oid() != OID_PBKDF2:
        raise ValueError("pkcs8: only PBKDF2 supported")
    params = kdf_parts[1].children()
    salt, iterations = params[0].as_octets(), params[1].as_int()
    scheme_parts = scheme.children()
    if scheme_parts[0].as_oid() != OID_AES256_CBC:
        raise ValueError("pkcs8: only AES-256-CBC supported")
    dec = Cipher(algorithms.AES(_pbkdf2_sha1(passphrase, salt, iterations)),
                 modes.CBC(scheme_parts[1].as_octets())).decryptor()
    plain = dec.update(data) + dec.finalize()
    try:
        return _parse_plain_pkcs8(plain)
    except (ValueError, IndexError) as e:
        raise IncorrectPassphraseError("pkcs8: incorrect password") from e


@dataclass(frozen=True)
class KeyFile:
    """One key on disk: canonical ID (the file name), role and GUN from the PEM headers."""

    key_id: str
    role: str
    gun: str
    path: Path
    encrypted: bool

    def decrypt(self, passphrase: str) -> ec.EllipticCurvePrivateKey:
        return decrypt_pem(self.path.read_bytes(), passphrase)


class KeyStore:
    """``trust_dir/private``: list, add and unlock keys the way Notary's file keystore does."""

    def __init__(self, trust_dir: str | Path) -> None:
        self.trust_dir = Path(trust_dir)

    @property
    def private_dir(self) -> Path:
        return self.trust_dir / "private"

    def __iter__(self) -> Iterator[KeyFile]:
        if not self.private_dir.is_dir():
            return
        for path in sorted(self.private_dir.glob("*.key")):
            try:
                block_type, headers, _ = _unpem(path.read_bytes())
            except (OSError, ValueError):
                continue
            yield KeyFile(path.stem, headers.get("role", ""), headers.get("gun", ""), path, block_type == ENCRYPTED)

    def find(self, role: str, gun: str = "") -> list[KeyFile]:
        """Keys for ``role`` (root keys have no GUN; sorted by ID like ``ListKeys`` + ``sort.Strings``)."""
        return sorted((k for k in self if k.role == role and (role == "root" or k.gun == gun)),
                      key=lambda k: k.key_id)

    def get(self, key_id: str) -> KeyFile | None:
        return next((k for k in self if k.key_id == key_id), None)

    def add(self, key: ec.EllipticCurvePrivateKey, role: str, gun: str, passphrase: str) -> KeyFile:
        """Write ``<id>.key`` (0600 in a 0700 directory, as Notary's file store does)."""
        self.private_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.private_dir, 0o700)
        kid = ecdsa_public_key(key.public_key()).id
        path = self.private_dir / f"{kid}.key"
        path.write_bytes(encrypt_pem(key, role, "" if role == "root" else gun, passphrase))
        path.chmod(0o600)
        return KeyFile(kid, role, "" if role == "root" else gun, path, bool(passphrase))
