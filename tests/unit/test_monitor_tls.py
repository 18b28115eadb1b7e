"""TLS handshake facts (real OpenSSL handshakes through memory BIOs), the detection registry, the PHI tag table.

Each detection has its own file: tests/unit/test_detection_<name>.py."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from radguard.catalog import is_known
from radguard.monitor import detections, tls


def _cert(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pacs.example.test"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Radiology")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    kp, cp = tmp_path / "k.pem", tmp_path / "c.pem"
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return kp, cp


def _handshake(tmp_path: Path, version: ssl.TLSVersion) -> tuple[bytes, bytes]:
    """(client bytes, server bytes) of the first flight of a real handshake."""
    key, cert = _cert(tmp_path)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    sctx.maximum_version = version
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cin, cout, sin, sout = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = cctx.wrap_bio(cin, cout, server_hostname="pacs.example.test")
    server = sctx.wrap_bio(sin, sout, server_side=True)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    hello = cout.read()
    sin.write(hello)
    with pytest.raises(ssl.SSLWantReadError):
        server.do_handshake()
    return hello, sout.read()


def test_tls12_shows_the_certificate(tmp_path: Path) -> None:
    client, server = _handshake(tmp_path, ssl.TLSVersion.TLSv1_2)
    assert tls.looks_like_tls(client)
    info = tls.inspect(client, server)
    assert info["version"] == "TLSv1.2"
    assert info["server_name"] == "pacs.example.test"
    assert info["certificate_subject"] == "O=Radiology,CN=pacs.example.test"
    assert "TLSv1.3" in info["offered_versions"]


def test_tls13_hides_the_certificate(tmp_path: Path) -> None:
    client, server = _handshake(tmp_path, ssl.TLSVersion.TLSv1_3)
    info = tls.inspect(client, server)
    assert info["version"] == "TLSv1.3" and info["certificate_subject"] is None
    assert tls.inspect(b"\x16\x03\x01\x00\x05\x01\x00", b"")["version"] is None  # truncated: no crash


def test_every_rule_cites_known_controls() -> None:
    for rule_id in detections.MODULES:
        rule = detections.load(rule_id).RULE
        assert rule.id == rule_id and rule.controls and rule.attack and rule.remediation
        assert all(is_known(c) for c in rule.controls), rule.controls


def test_known_phi_tags_match_the_dictionary() -> None:
    from pydicom.datadict import tag_for_keyword

    from radguard.phi import PHI_TAGS

    assert {tag: tag_for_keyword(kw) for tag, kw in PHI_TAGS.items()} == {tag: tag for tag in PHI_TAGS}
