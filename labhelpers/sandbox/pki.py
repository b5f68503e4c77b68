"""The sandbox's own certificate authority and serving certificate.

kubectl (client-go) only sends a kubeconfig's credentials over TLS, so the API server needs HTTPS even on
loopback. The CA goes into the kubeconfig as certificate-authority-data, as kind and minikube do.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_CERT = "apiserver.crt"
SERVER_KEY = "apiserver.key"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def ensure(state: Path) -> None:
    """Create the CA and the apiserver certificate once per state directory."""
    if (state / SERVER_CERT).exists() and (state / SERVER_KEY).exists() and (state / CA_CERT).exists():
        return
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab-sandbox-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    state.mkdir(parents=True, exist_ok=True)
    _write_key(state / CA_KEY, ca_key)
    _write_key(state / SERVER_KEY, key)
    (state / CA_CERT).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (state / SERVER_CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def server_context(state: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(state / SERVER_CERT, state / SERVER_KEY)
    return ctx


def client_context(state: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(state / CA_CERT))
