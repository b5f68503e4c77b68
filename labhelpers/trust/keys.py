"""cosign key files, byte-compatible with ``cosign generate-key-pair``.

``cosign.pub`` is a PKIX ``PUBLIC KEY`` PEM. ``cosign.key`` is a PEM block of type ``ENCRYPTED SIGSTORE PRIVATE
KEY`` (``ENCRYPTED COSIGN PRIVATE KEY`` is still read) whose body is the JSON envelope of
go-securesystemslib's ``encrypted`` package: the PKCS#8 DER key sealed with NaCl secretbox (XSalsa20-Poly1305)
under ``scrypt(password, salt, N=2^16, r=8, p=1)``. Real cosign reads the keys written here and vice versa, so
a student can move between the sandbox and the real tool with the same files. Errors carry cosign's own text
(``decrypt: encrypted: decryption failed``) because students meet them when they mistype the password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.secret
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = [
    "COSIGN_PRIVATE_KEY_PEM_TYPE",
    "SIGSTORE_PRIVATE_KEY_PEM_TYPE",
    "CosignKeyError",
    "PublicKey",
    "decrypt_envelope",
    "InvalidSignatureError",
    "encrypt_envelope",
    "generate_key_pair",
    "load_private_key",
    "load_public_key",
    "load_public_keys",
    "pem_blocks",
    "pem_encode",
    "public_key_pem",
    "sign_payload",
    "verify_signature",
]

SIGSTORE_PRIVATE_KEY_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_PRIVATE_KEY_PEM_TYPE = "ENCRYPTED COSIGN PRIVATE KEY"

# go-securesystemslib/encrypted: Legacy, Standard (the default for new keys) and OWASP scrypt strengths.
SCRYPT_LEGACY_N = 1 << 15
SCRYPT_STANDARD_N = 1 << 16
SCRYPT_OWASP_N = 1 << 17
_ACCEPTED_SCRYPT = {(SCRYPT_LEGACY_N, 8, 1), (SCRYPT_STANDARD_N, 8, 1), (SCRYPT_OWASP_N, 8, 1)}
_SALT_SIZE = 32
_KEY_SIZE = 32
_NONCE_SIZE = nacl.secret.SecretBox.NONCE_SIZE  # 24

_PEM_RE = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)

ECDSA_HASH_NAMES = {"sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
                    "sha512": hashes.SHA512}


class CosignKeyError(ValueError):
    """A key that cosign would refuse; ``str()`` is cosign's message (``decrypt: encrypted: decryption failed``)."""


# ------------------------------------------------------------------------------------------------ PEM


def pem_encode(pem_type: str, der: bytes) -> bytes:
    """Go's ``pem.EncodeToMemory`` without headers: 64-character base64 lines and a trailing newline."""
    b64 = base64.b64encode(der).decode()
    lines = "".join(b64[i:i + 64] + "\n" for i in range(0, len(b64), 64))
    return f"-----BEGIN {pem_type}-----\n{lines}-----END {pem_type}-----\n".encode()


def pem_blocks(data: bytes | str) -> list[tuple[str, bytes]]:
    """Every PEM block in ``data`` as (type, DER); text around and between blocks is ignored, as by Go."""
    raw = data.encode() if isinstance(data, str) else data
    out = []
    for m in _PEM_RE.finditer(raw):
        body = b"".join(line.strip() for line in m.group(2).splitlines() if b":" not in line)
        try:
            out.append((m.group(1).decode(), base64.b64decode(body, validate=True)))
        except (binascii.Error, ValueError):
            continue  # Go's pem.Decode skips a block whose body is not base64
    return out


# ------------------------------------------------------------------------------------- the envelope


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=_KEY_SIZE, maxmem=256 * 1024 * 1024)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def encrypt_envelope(plaintext: bytes, password: bytes | str, *, n: int = SCRYPT_STANDARD_N,
                     salt: bytes | None = None, nonce: bytes | None = None) -> bytes:
    """``encrypted.Encrypt``: the JSON envelope exactly as Go's ``json.Marshal`` writes it (field order kept)."""
    pw = password.encode() if isinstance(password, str) else password
    salt = os.urandom(_SALT_SIZE) if salt is None else salt
    nonce = os.urandom(_NONCE_SIZE) if nonce is None else nonce
    key = _scrypt(pw, salt, n, 8, 1)
    sealed = nacl.secret.SecretBox(key).encrypt(plaintext, nonce).ciphertext
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": 8, "p": 1}, "salt": _b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(sealed),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _go_bytes(value: Any) -> bytes:
    """A Go ``[]byte`` JSON field: base64 text (``null`` is empty)."""
    if value is None:
        return b""
    if not isinstance(value, str):
        raise CosignKeyError("json: cannot unmarshal into Go value of type []uint8")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CosignKeyError("illegal base64 data at input byte 0") from None


def decrypt_envelope(envelope: bytes, password: bytes | str) -> bytes:
    """``encrypted.Decrypt`` with its checks in its order and its error texts."""
    pw = password.encode() if isinstance(password, str) else password
    try:
        doc = json.loads(envelope)
    except ValueError:
        raise CosignKeyError("invalid character looking for beginning of value") from None
    if not isinstance(doc, dict):
        raise CosignKeyError("json: cannot unmarshal into Go value of type encrypted.data")
    kdf = doc.get("kdf") or {}
    cipher = doc.get("cipher") or {}
    if kdf.get("name", "") != "scrypt":
        raise CosignKeyError(f"encrypted: unknown kdf name {json.dumps(kdf.get('name', ''))}")
    if cipher.get("name", "") != "nacl/secretbox":
        raise CosignKeyError(f"encrypted: unknown cipher name {json.dumps(cipher.get('name', ''))}")
    params = kdf.get("params") or {}
    n, r, p = params.get("N", 0), params.get("r", 0), params.get("p", 0)
    if (n, r, p) not in _ACCEPTED_SCRYPT:
        raise CosignKeyError("unsupported scrypt parameters")
    salt, nonce, sealed = _go_bytes(kdf.get("salt")), _go_bytes(cipher.get("nonce")), _go_bytes(doc.get("ciphertext"))
    key = _scrypt(pw, salt, n, r, p)
    if len(nonce) != _NONCE_SIZE:
        raise CosignKeyError("encrypted: incorrect nonce size")
    try:
        return nacl.secret.SecretBox(key).decrypt(sealed, nonce)
    except nacl.exceptions.CryptoError:
        raise CosignKeyError("encrypted: decryption failed") from None


# ----------------------------------------------------------------------------------------- key pairs


def public_key_pem(public_key: Any) -> bytes:
    """``cryptoutils.MarshalPublicKeyToPEM``: PKIX ``PUBLIC KEY``."""
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_key_pair(password: bytes | str) -> tuple[bytes, bytes]:
    """(cosign.key, cosign.pub) bytes: a fresh ECDSA P-256 key, as ``cosign generate-key-pair`` writes them."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem_encode(SIGSTORE_PRIVATE_KEY_PEM_TYPE, encrypt_envelope(der, password)), public_key_pem(private.public_key())


def _parse_pkcs8(der: bytes) -> Any:
    """``x509.ParsePKCS8PrivateKey``: PKCS#8 only (OpenSSL would also take SEC 1 and PKCS#1; Go refuses them)."""
    body = _sequence_body(der)
    if body is None or body[:3] != b"\x02\x01\x00" or body[3:4] != b"\x30":
        raise CosignKeyError("parsing private key: " + _pkcs8_error(body))
    try:
        return serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CosignKeyError("parsing private key: " + _pkcs8_error(None)) from None


def _sequence_body(der: bytes) -> bytes | None:
    if len(der) < 2 or der[0] != 0x30:
        return None
    if der[1] < 0x80:
        return der[2:]
    n = der[1] & 0x7F
    return der[2 + n:]


def _pkcs8_error(body: bytes | None) -> str:
    """Go answers a SEC 1 or PKCS#1 key passed as PKCS#8 with a pointer to the right parser."""
    if body is not None and body[:3] == b"\x02\x01\x01" and body[3:4] == b"\x04":
        return "x509: failed to parse private key (use ParseECPrivateKey instead for this key format)"
    if body is not None and body[:3] == b"\x02\x01\x00" and body[3:4] == b"\x02":
        return "x509: failed to parse private key (use ParsePKCS1PrivateKey instead for this key format)"
    return "asn1: structure error: tags don't match"


def load_private_key(pem: bytes | str, password: bytes | str) -> Any:
    """``cosign.LoadPrivateKey``: decrypt a cosign.key; raises :class:`CosignKeyError` with cosign's text."""
    blocks = pem_blocks(pem)
    if not blocks:
        raise CosignKeyError("invalid pem block")
    pem_type, body = blocks[0]
    if pem_type not in (SIGSTORE_PRIVATE_KEY_PEM_TYPE, COSIGN_PRIVATE_KEY_PEM_TYPE):
        raise CosignKeyError(f"unsupported pem type: {pem_type}")
    try:
        der = decrypt_envelope(body, password)
    except CosignKeyError as e:
        raise CosignKeyError(f"decrypt: {e}") from None
    return _parse_pkcs8(der)


# --------------------------------------------------------------------------------------- public keys


@dataclass(frozen=True)
class PublicKey:
    """A verification key plus its PEM (Kyverno expands a multi-key ``publicKeys`` into one entry per key)."""

    key: Any
    pem: bytes

    def verify(self, signature: bytes, payload: bytes, hash_name: str = "sha256") -> None:
        verify_signature(self.key, signature, payload, hash_name)


def load_public_key(pem: bytes | str) -> PublicKey:
    """``cryptoutils.UnmarshalPEMToPublicKey`` for the first PEM block (a ``PUBLIC KEY`` or a certificate)."""
    blocks = pem_blocks(pem)
    if not blocks:
        raise CosignKeyError("PEM decoding failed")
    return _public_from_block(*blocks[0])


def load_public_keys(pems: bytes | str) -> list[PublicKey]:
    """Every key in a string holding several PEM blocks (``publicKeys: |`` with more than one key)."""
    keys = [_public_from_block(t, der) for t, der in pem_blocks(pems)]
    if not keys:
        raise CosignKeyError("PEM decoding failed")
    return keys


def _public_from_block(pem_type: str, der: bytes) -> PublicKey:
    from cryptography import x509

    try:
        if pem_type == "CERTIFICATE":
            key = x509.load_der_x509_certificate(der).public_key()
        elif pem_type == "PUBLIC KEY":
            key = serialization.load_der_public_key(der)
        else:
            raise CosignKeyError(f"unknown Public key PEM file type: {pem_type}. Are you passing the correct "
                                 "public key?")
    except (ValueError, UnsupportedAlgorithm):
        raise CosignKeyError("asn1: structure error: tags don't match") from None
    return PublicKey(key, public_key_pem(key))


# ------------------------------------------------------------------------------------------ signatures


def _default_hash(key: Any) -> hashes.HashAlgorithm:
    """sigstore's ``LoadDefaultSignerVerifier``: the hash follows the curve size."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return {384: hashes.SHA384(), 521: hashes.SHA512()}.get(key.curve.key_size, hashes.SHA256())
    return hashes.SHA256()


def sign_payload(private_key: Any, payload: bytes) -> bytes:
    """The raw signature cosign stores (base64) in ``dev.cosignproject.cosign/signature``: ECDSA ASN.1 DER."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(payload, ec.ECDSA(_default_hash(private_key)))
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    raise CosignKeyError(f"unsupported private key type {type(private_key).__name__}")


def verify_signature(public_key: Any, signature: bytes, payload: bytes, hash_name: str = "sha256") -> None:
    """sigstore's verifier; raises :class:`InvalidSignatureError` with its message on mismatch."""
    algo = ECDSA_HASH_NAMES.get(hash_name.lower(), hashes.SHA256)()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        try:
            public_key.verify(_as_der(public_key, signature), payload, ec.ECDSA(algo))
            return
        except (InvalidSignature, ValueError):
            raise InvalidSignatureError("invalid signature when validating ASN.1 encoded signature") from None
    if isinstance(public_key, rsa.RSAPublicKey):
        try:
            public_key.verify(signature, payload, padding.PKCS1v15(), algo)
            return
        except InvalidSignature:
            raise InvalidSignatureError("crypto/rsa: verification error") from None
    raise InvalidSignatureError(f"unsupported public key type {type(public_key).__name__}")


def _as_der(public_key: ec.EllipticCurvePublicKey, signature: bytes) -> bytes:
    """Accept an IEEE P1363 ``r||s`` signature too (newer sigstore verifiers do)."""
    size = (public_key.curve.key_size + 7) // 8
    if len(signature) == 2 * size and signature[:1] != b"\x30":
        return encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
    return signature


class InvalidSignatureError(ValueError):
    """A signature that does not verify; ``str()`` is sigstore's text."""
