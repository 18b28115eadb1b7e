"""The range's own small PKI for DICOM TLS (PS3.15 B.1 / BCP 195): a CA, the gateway's server certificate
and the department modalities' client certificate, made fresh by ``radguard range up`` (EC P-256, valid 7
days, keys 0600 in the run directory). Nothing here is for production: a site uses its own CA.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 7


@dataclass(frozen=True, slots=True)
class RangePki:
    """Paths of the PEM files (certificates 0644, keys 0600)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "radguard range"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: ec.EllipticCurvePrivateKey,
          *, ca: bool = False, server: bool = False, host: str = "127.0.0.1") -> x509.Certificate:
    now = datetime.now(UTC)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
         .not_valid_after(now + timedelta(days=VALID_DAYS))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                          content_commitment=False, key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)),
                                                             x509.DNSName("localhost")]), critical=False)
    return b.sign(signer, hashes.SHA256())


def make_pki(directory: Path, *, host: str = "127.0.0.1") -> RangePki:
    """Write a CA, a server certificate for ``host`` (the gateway) and a client certificate (the modalities)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _cert("radguard range CA", ca_key, _name("radguard range CA"), ca_key, ca=True)
    pki = load_pki(directory)
    pem = serialization.Encoding.PEM
    pki.ca.write_bytes(ca_cert.public_bytes(pem))
    for cert_path, key_path, cn, server in ((pki.server_cert, pki.server_key, "radguard gateway", True),
                                            (pki.client_cert, pki.client_key, "department modality", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        _write_key(key_path, key)
        cert_path.write_bytes(_cert(cn, key, ca_cert.subject, ca_key, server=server, host=host).public_bytes(pem))
    return pki


def load_pki(directory: Path) -> RangePki:
    """The PKI :func:`make_pki` wrote into ``directory``."""
    return RangePki(ca=directory / "ca.pem", server_cert=directory / "gateway.pem",
                    server_key=directory / "gateway.key", client_cert=directory / "modality.pem",
                    client_key=directory / "modality.key")
