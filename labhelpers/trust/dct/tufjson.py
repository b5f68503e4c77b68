"""Notary v1's TUF dialect: canonical JSON, key IDs, ECDSA signatures and the metadata Docker creates.

Notary predates TUF 1.0 and python-tuf cannot load its files (``_type`` is ``Root``/``Targets``, hashes are
base64, keys are ``ecdsa``/``ecdsa-x509`` with base64 DER/PEM, signatures are raw ``r||s``), so this module
speaks the dialect directly with ``cryptography``. Rules, as Notary implements them:

* canonical JSON = Go's encoding/json of a generic map: sorted keys, no spaces, ``<>&`` escaped as ``\\u003c``...
* key ID = sha256 hex of the canonical JSON of ``{"keytype", "keyval": {"private": null, "public"}}``;
  an ``ecdsa-x509`` key's *canonical* ID is the ID of the bare public key inside the certificate
* signature = ECDSA P-256 over sha256(canonical ``signed``), encoded as 32-byte ``r`` || 32-byte ``s``
* expiry defaults (``notary.NotaryDefaultExpiries``): root 10 x 365 days, targets/snapshot 3 x 365 days,
  timestamp 14 days; the root certificate is valid for 10 x 365 days with CN = the GUN.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "ROOT_EXPIRY",
    "TARGETS_EXPIRY",
    "PublicKey",
    "canonical_id",
    "canonical_json",
    "ecdsa_public_key",
    "go_time",
    "key_id",
    "root_certificate",
    "sign_metadata",
    "signed_envelope",
    "verify_signature",
]

YEAR = dt.timedelta(days=365)
ROOT_EXPIRY = 10 * YEAR
TARGETS_EXPIRY = 3 * YEAR
SNAPSHOT_EXPIRY = 3 * YEAR
TIMESTAMP_EXPIRY = dt.timedelta(days=14)
CERT_VALIDITY = 10 * YEAR

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def canonical_json(obj: Any) -> bytes:
    """The bytes Notary signs and hashes: Go's canonical encoding of the decoded object."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for raw, esc in _GO_ESCAPES.items():
        text = text.replace(raw, esc)
    return text.encode()


def go_time(t: dt.datetime | None = None, *, ns: int | None = None) -> str:
    """RFC 3339 with nanoseconds, trailing zeros trimmed, ``Z`` (Go's ``time.Time`` JSON in UTC)."""
    if ns is None:
        ns = time.time_ns() if t is None else int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000
    secs, frac = divmod(ns, 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(secs, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return stamp + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"


def parse_go_time(value: str) -> dt.datetime:
    """Inverse of :func:`go_time` to microsecond precision."""
    head, _, rest = value.rstrip("Z").partition(".")
    base = dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    return base + dt.timedelta(microseconds=int((rest + "000000")[:6])) if rest else base


@dataclass(frozen=True)
class PublicKey:
    """A TUF key as Notary serialises it; ``public`` is the raw bytes (DER, or PEM for ``*-x509``)."""

    keytype: str
    public: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"keytype": self.keytype, "keyval": {"private": None, "public": base64.b64encode(self.public).decode()}}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> PublicKey:
        return cls(doc["keytype"], base64.b64decode(doc["keyval"]["public"]))

    @property
    def id(self) -> str:
        return key_id(self.to_dict())

    def crypto_key(self) -> ec.EllipticCurvePublicKey:
        """The ``cryptography`` key (from the leaf certificate for ``ecdsa-x509``)."""
        if self.keytype == "ecdsa-x509":
            pub = x509.load_pem_x509_certificate(self.public).public_key()
        elif self.keytype == "ecdsa":
            pub = serialization.load_der_public_key(self.public)
        else:
            raise ValueError(f"unsupported key type {self.keytype}")
        if not isinstance(pub, ec.EllipticCurvePublicKey):
            raise ValueError(f"{self.keytype} key is not an EC key")
        return pub


def key_id(key_doc: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a key document (``data.PublicKey.ID``)."""
    doc = {"keytype": key_doc["keytype"], "keyval": {"private": None, "public": key_doc["keyval"]["public"]}}
    return hashlib.sha256(canonical_json(doc)).hexdigest()


def ecdsa_public_key(pub: ec.EllipticCurvePublicKey) -> PublicKey:
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return PublicKey("ecdsa", der)


def canonical_id(key: PublicKey) -> str:
    """``utils.CanonicalKeyID``: x509 keys are named by the bare public key they carry."""
    if key.keytype.endswith("-x509"):
        return ecdsa_public_key(key.crypto_key()).id
    return key.id


def _printable(value: str) -> bool:
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")
    return all(c in allowed for c in value)


def _common_name(value: str) -> x509.NameAttribute:
    """CN as Go's crypto/x509 encodes it: PrintableString when possible, UTF8String otherwise, and no
    64-character cap (GUNs may be longer; Go does not enforce the X.520 upper bound, cryptography does)."""
    from cryptography.x509.name import _ASN1Type

    kind = _ASN1Type.PrintableString if _printable(value) else _ASN1Type.UTF8String
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x509.NameAttribute(NameOID.COMMON_NAME, value, kind, _validate=False)


def root_certificate(private_key: ec.EllipticCurvePrivateKey, gun: str, start: dt.datetime) -> x509.Certificate:
    """``cryptoservice.GenerateCertificate``: self-signed, CN=GUN, 128-bit serial, code signing, not a CA."""
    name = x509.Name([_common_name(gun)])
    serial = secrets.randbelow(1 << 128) or 1  # Go: rand.Int(rand.Reader, 2^128)
    start = start.replace(microsecond=0)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private_key.public_key())
            .serial_number(serial).not_valid_before(start).not_valid_after(start + CERT_VALIDITY)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(private_key, hashes.SHA256()))


def x509_public_key(cert: x509.Certificate) -> PublicKey:
    """``utils.CertToKey``: an ``ecdsa-x509`` TUF key whose public part is the PEM certificate."""
    return PublicKey("ecdsa-x509", cert.public_bytes(serialization.Encoding.PEM))


def _raw_signature(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
    size = (private_key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def sign_metadata(signed: dict[str, Any], signers: list[tuple[str, ec.EllipticCurvePrivateKey]]) -> dict[str, Any]:
    """``{"signed": ..., "signatures": [{"keyid","method":"ecdsa","sig"}]}`` for each (key ID, key)."""
    message = canonical_json(signed)
    sigs = [{"keyid": kid, "method": "ecdsa", "sig": base64.b64encode(_raw_signature(k, message)).decode()}
            for kid, k in signers]
    return {"signed": signed, "signatures": sigs}


def signed_envelope(doc: dict[str, Any]) -> bytes:
    """Wire bytes as the notary client writes them: ``signed`` canonical, then ``signatures``."""
    sigs = json.dumps(doc["signatures"], separators=(",", ":"))
    return b'{"signed":' + canonical_json(doc["signed"]) + b',"signatures":' + sigs.encode() + b"}"


def verify_signature(signed: dict[str, Any], signature: dict[str, Any], key: PublicKey) -> bool:
    """Check one Notary ``ecdsa`` signature over the canonical form of ``signed``."""
    if signature.get("method") != "ecdsa":
        return False
    raw = base64.b64decode(signature.get("sig", ""))
    half = len(raw) // 2
    if len(raw) % 2 or half == 0:
        return False
    der = encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
    try:
        key.crypto_key().verify(der, canonical_json(signed), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def new_root(keys: dict[str, PublicKey], roles: dict[str, list[str]], now_ns: int) -> dict[str, Any]:
    """``data.NewRoot`` + ``InitRoot`` at version 1 (threshold 1, no consistent snapshots)."""
    expires = now_ns + int(ROOT_EXPIRY.total_seconds()) * 1_000_000_000
    return {"_type": "Root", "consistent_snapshot": False, "expires": go_time(ns=expires),
            "keys": {kid: k.to_dict() for kid, k in keys.items()},
            "roles": {name: {"keyids": ids, "threshold": 1} for name, ids in roles.items()},
            "version": 1}


def new_targets(now_ns: int) -> dict[str, Any]:
    """``InitTargets("targets")`` at version 1: no targets, no delegations."""
    expires = now_ns + int(TARGETS_EXPIRY.total_seconds()) * 1_000_000_000
    return {"_type": "Targets", "delegations": {"keys": {}, "roles": []}, "expires": go_time(ns=expires),
            "targets": {}, "version": 1}
