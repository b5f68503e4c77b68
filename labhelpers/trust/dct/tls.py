"""Certificates for the lab Notary service: one CA, a serving cert per process, mutual TLS in between.

A real deployment has three TLS links: clients -> notary-server (HTTPS, which Docker insists on for
``DOCKER_CONTENT_TRUST_SERVER``), and notary-server -> notary-signer over gRPC where the signer only accepts
clients whose certificate its ``client_ca_file`` vouches for. Keys are P-256 like everything else in the lab.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["NotaryPki", "ensure_pki"]

VALIDITY = dt.timedelta(days=3650)
SERVER_NAMES = ("notary-server", "localhost", "notary.docker.io")
SIGNER_NAMES = ("notary-signer", "localhost")


@dataclass(frozen=True)
class NotaryPki:
    """Paths of the PEM files under ``<state>/tls``."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "notary-server.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "notary-server.key"

    @property
    def signer_cert(self) -> Path:
        return self.directory / "notary-signer.crt"

    @property
    def signer_key(self) -> Path:
        return self.directory / "notary-signer.key"

    def files(self) -> tuple[Path, ...]:
        return (self.ca_cert, self.ca_key, self.server_cert, self.server_key, self.signer_cert, self.signer_key)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         encipher_only=False, decipher_only=False)


def _leaf(ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name, cn: str, names: tuple[str, ...],
          usages: list[x509.ObjectIdentifier], now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def ensure_pki(directory: str | Path) -> NotaryPki:
    """Create the CA and both service certificates once; a warm state dir keeps its CA (clients pin it)."""
    pki = NotaryPki(Path(directory))
    if all(p.is_file() for p in pki.files()):
        return pki
    pki.directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab-notary-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + VALIDITY)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(_usage(ca=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    # notary-server uses its serving certificate as the gRPC client certificate too, hence both usages.
    server_key, server = _leaf(ca_key, ca_name, "notary-server", SERVER_NAMES,
                               [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], now)
    signer_key, signer = _leaf(ca_key, ca_name, "notary-signer", SIGNER_NAMES,
                               [ExtendedKeyUsageOID.SERVER_AUTH], now)
    _write_key(pki.ca_key, ca_key)
    _write_key(pki.server_key, server_key)
    _write_key(pki.signer_key, signer_key)
    pki.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    pki.signer_cert.write_bytes(signer.public_bytes(serialization.Encoding.PEM))
    return pki
