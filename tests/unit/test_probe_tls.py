"""The ``tls`` probe: certificate judgement (expiry, self-signed, name, key size), the finding drawn from a
report, and a real handshake with an in-process TLS server on loopback (RFC 8446/5246; BCP 195)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from radguard.assess.evaluate import tls_findings
from radguard.assess.probes.tls import TlsIssue, TlsReport, assess_tls, judge_certificate


def _cert(*, days: int = 365, self_signed: bool = True, bits: int = 2048, san_ip: str | None = "127.0.0.1") -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    ca_key = key if self_signed else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pacs")])
    issuer = name if self_signed else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer).public_key(key.public_key())
               .serial_number(1).not_valid_before(now - dt.timedelta(days=2))
               .not_valid_after(now + dt.timedelta(days=days)))
    if san_ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_judge_certificate() -> None:
    info, issues = judge_certificate(_cert(self_signed=False), "127.0.0.1")
    assert issues == [] and info["key_bits"] == 2048 and info["ip_addresses"] == ["127.0.0.1"]
    _, issues = judge_certificate(_cert(days=-1, bits=1024), "127.0.0.1")
    assert set(issues) == {TlsIssue.CERT_EXPIRED, TlsIssue.CERT_SELF_SIGNED, TlsIssue.CERT_SHORT_KEY}
    _, issues = judge_certificate(_cert(self_signed=False), "10.9.9.9")
    assert issues == [TlsIssue.CERT_NAME_MISMATCH]
    _, issues = judge_certificate(_cert(self_signed=False, san_ip=None), "pacs")
    assert issues == []  # no SAN: falls back to the CN
    assert judge_certificate(b"not a certificate", "x") == ({"parse_error": True}, [])


def test_finding_from_a_report() -> None:
    report = TlsReport(handshake_ok=True, version="TLSv1.2", cipher="AES128-SHA",
                       issues=[TlsIssue.TLS10_ACCEPTED, TlsIssue.NON_AEAD_SUITE], certificate={"key_bits": 2048})
    (f,) = tls_findings("10.0.0.2:2762", report)
    assert (f.rule, f.target) == ("tls-weak", "10.0.0.2:2762") and f.controls and f.remediation
    assert f.evidence == {"negotiated_version": "TLSv1.2", "negotiated_cipher": "AES128-SHA",
                          "issues": ["tls1.0-accepted", "non-aead-suite-accepted"], "certificate": {"key_bits": 2048}}
    assert tls_findings("h:1", TlsReport(handshake_ok=True, version="TLSv1.3")) == []  # nothing weak
    assert tls_findings("h:1", TlsReport(issues=[TlsIssue.TLS10_ACCEPTED])) == []  # no handshake: no finding


@pytest.fixture(params=["ECDHE+AESGCM:ECDHE+CHACHA20", "ECDHE+AESGCM:ECDHE+AES+SHA"], ids=["aead", "cbc"])
def tls_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[int, str]]:
    """A TLS 1.2+ server (RSA 2048, self-signed, SAN IP 127.0.0.1) on a free loopback port, in a thread's loop,
    with the TLS 1.2 suites ``request.param`` (AEAD only as BCP 195 asks, or CBC suites too)."""
    import threading

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pacs")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    pem = tmp_path / "server.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pem)
    ctx.set_ciphers(request.param)
    loop = asyncio.new_event_loop()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.close()

    server = loop.run_until_complete(asyncio.start_server(serve, "127.0.0.1", 0, ssl=ctx))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield server.sockets[0].getsockname()[1], request.param
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    server.close()
    loop.close()


def test_handshake_with_a_real_server(tls_server: tuple[int, str]) -> None:
    port, ciphers = tls_server
    report = asyncio.run(assess_tls("127.0.0.1", port, timeout=5.0))
    assert report.handshake_ok and report.error is None and report.version == "TLSv1.3"
    weak = [TlsIssue.NON_AEAD_SUITE] if "SHA" in ciphers else []  # no TLS 1.0/1.1, no static RSA either way
    assert report.issues == [*weak, TlsIssue.CERT_SELF_SIGNED]
    assert report.certificate["subject"] == "CN=pacs" and report.certificate["ip_addresses"] == ["127.0.0.1"]
    other = asyncio.run(assess_tls("127.0.0.1", port, name="pacs.example.test"))
    assert TlsIssue.CERT_NAME_MISMATCH in other.issues


def test_no_tls_is_an_error_not_an_exception() -> None:
    async def go() -> TlsReport:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        async with server:
            return await assess_tls("127.0.0.1", server.sockets[0].getsockname()[1], timeout=2.0)

    report = asyncio.run(go())
    assert not report.handshake_ok and report.error is not None and report.error.startswith("TLS handshake failed")
    assert tls_findings("h:1", report) == []
