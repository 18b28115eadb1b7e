"""``tls-weak``: what RFC 9325 (BCP 195) and DICOM PS3.15 B.9 forbid, as far as OpenSSL 3 can tell.

Checks, each one TLS handshake (nothing is sent inside the tunnel):

- TLS 1.0 / TLS 1.1 accepted (RFC 8996; probed at ``@SECLEVEL=0`` so the client side is
  not the one refusing),
- a TLS 1.2 suite without forward secrecy (static RSA key exchange) or without AEAD
  (CBC/stream ciphers) accepted (RFC 9325 §4.1-4.2),
- the certificate: expired or not yet valid, self-signed, host name / address not in it
  (RFC 9525), RSA/DSA key < 2048 bits, EC key < 256 bits, SHA-1/MD5 signature.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import ssl
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: cipher strings for the TLS 1.2 probes (OpenSSL syntax); TLS 1.3 suites are all AEAD + FS
NON_FS_CIPHERS = "kRSA:@SECLEVEL=0"
NON_AEAD_CIPHERS = "ALL:!AESGCM:!AESCCM:!CHACHA20:!ARIAGCM:@SECLEVEL=0"
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256


class TlsIssue(enum.StrEnum):
    """One reason for ``tls-weak`` (listed in the finding's evidence)."""

    TLS10_ACCEPTED = "tls1.0-accepted"
    TLS11_ACCEPTED = "tls1.1-accepted"
    NON_FS_SUITE = "non-forward-secret-suite-accepted"
    NON_AEAD_SUITE = "non-aead-suite-accepted"
    CERT_EXPIRED = "certificate-expired"
    CERT_NOT_YET_VALID = "certificate-not-yet-valid"
    CERT_SELF_SIGNED = "certificate-self-signed"
    CERT_NAME_MISMATCH = "certificate-name-mismatch"
    CERT_SHORT_KEY = "certificate-short-key"
    CERT_WEAK_SIGNATURE = "certificate-weak-signature"


@dataclass(kw_only=True)
class TlsReport:
    """What the TLS probes saw on one endpoint."""

    handshake_ok: bool = False
    version: str | None = None
    cipher: str | None = None
    client_cert_required: bool = False
    certificate: dict[str, Any] = field(default_factory=dict)
    issues: list[TlsIssue] = field(default_factory=list)
    error: str | None = None

    def evidence(self) -> dict[str, Any]:
        return {
            "negotiated_version": self.version,
            "negotiated_cipher": self.cipher,
            "issues": [i.value for i in self.issues],
            "certificate": dict(self.certificate),
        }


def client_context(
    *,
    version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    max_version: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """A scanning client context: no verification (we judge the certificate ourselves), SECLEVEL 0."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(ciphers or "ALL:@SECLEVEL=0")
    if version is not None:
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: probing for them is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = version
            ctx.maximum_version = version
    else:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        if max_version is not None:
            ctx.maximum_version = max_version
    return ctx


async def _handshake(
    host: str, port: int, ctx: ssl.SSLContext, timeout: float, server_name: str | None
) -> tuple[str | None, str | None, bytes | None]:
    """One handshake → (version, cipher, DER certificate); raises OSError/ssl.SSLError/TimeoutError."""
    _reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ctx, server_hostname=server_name or None), timeout
    )
    try:
        obj = writer.get_extra_info("ssl_object")
        if obj is None:  # pragma: no cover - asyncio always sets it for ssl transports
            return None, None, None
        cipher = obj.cipher()
        return obj.version(), cipher[0] if cipher else None, obj.getpeercert(binary_form=True)
    finally:
        writer.transport.abort()  # no TLS close_notify dance: some SCPs never answer it


async def _accepts(host: str, port: int, ctx: ssl.SSLContext, timeout: float, sni: str | None) -> bool:
    try:
        await _handshake(host, port, ctx, timeout, sni)
    except (OSError, ssl.SSLError, TimeoutError, EOFError, ValueError):
        return False
    return True


def _sni(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None


async def assess_tls(host: str, port: int, *, timeout: float = 5.0, name: str | None = None) -> TlsReport:
    """Run the TLS checks against ``host:port`` (the endpoint is already known to speak TLS).

    ``name``: the name the user scanned (a host name resolved to ``host``): sent as SNI and
    checked against the certificate; defaults to ``host``.
    """
    report = TlsReport()
    name = name or host
    sni = _sni(name)
    try:
        version, cipher, der = await _handshake(host, port, client_context(), timeout, sni)
    except ssl.SSLError as exc:
        reason = (exc.reason or str(exc)).lower()
        report.client_cert_required = "certificate" in reason and ("required" in reason or "handshake" in reason)
        report.error = f"TLS handshake failed: {exc.reason or exc.__class__.__name__}"
        return report
    except (OSError, TimeoutError, EOFError) as exc:
        report.error = f"TLS handshake failed: {exc.__class__.__name__}"
        return report
    report.handshake_ok = True
    report.version, report.cipher = version, cipher
    checks = [
        (TlsIssue.TLS10_ACCEPTED, client_context(version=ssl.TLSVersion.TLSv1)),
        (TlsIssue.TLS11_ACCEPTED, client_context(version=ssl.TLSVersion.TLSv1_1)),
        (TlsIssue.NON_FS_SUITE, client_context(ciphers=NON_FS_CIPHERS, max_version=ssl.TLSVersion.TLSv1_2)),
        (TlsIssue.NON_AEAD_SUITE, client_context(ciphers=NON_AEAD_CIPHERS, max_version=ssl.TLSVersion.TLSv1_2)),
    ]
    results = await asyncio.gather(*(_accepts(host, port, ctx, timeout, sni) for _, ctx in checks))
    report.issues.extend(issue for (issue, _), ok in zip(checks, results, strict=True) if ok)
    if der:
        info, issues = judge_certificate(der, name)
        report.certificate = info
        report.issues.extend(issues)
    return report


def judge_certificate(der: bytes, host: str, now: datetime | None = None) -> tuple[dict[str, Any], list[TlsIssue]]:
    """Facts about a DER certificate and the :class:`TlsIssue` list it raises for ``host``."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    now = now or datetime.now(UTC)
    issues: list[TlsIssue] = []
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return {"parse_error": True}, []
    key = cert.public_key()
    key_type, bits = "other", 0
    if isinstance(key, rsa.RSAPublicKey):
        key_type, bits = "rsa", key.key_size
    elif isinstance(key, dsa.DSAPublicKey):
        key_type, bits = "dsa", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, bits = "ec", key.curve.key_size
    not_after = cert.not_valid_after_utc
    not_before = cert.not_valid_before_utc
    hash_alg = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None
    self_signed = cert.issuer == cert.subject and _signed_by(cert, cert)
    names, addresses = _subject_names(cert)
    info: dict[str, Any] = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat(),
        "key_type": key_type,
        "key_bits": bits,
        "signature_hash": hash_alg,
        "self_signed": self_signed,
        "dns_names": names,
        "ip_addresses": addresses,
    }
    if not_after < now:
        issues.append(TlsIssue.CERT_EXPIRED)
    if not_before > now:
        issues.append(TlsIssue.CERT_NOT_YET_VALID)
    if self_signed:
        issues.append(TlsIssue.CERT_SELF_SIGNED)
    if not _name_matches(host, names, addresses):
        issues.append(TlsIssue.CERT_NAME_MISMATCH)
    if (key_type in ("rsa", "dsa") and bits < MIN_RSA_BITS) or (key_type == "ec" and bits < MIN_EC_BITS):
        issues.append(TlsIssue.CERT_SHORT_KEY)
    if hash_alg in ("sha1", "md5") and not self_signed:
        issues.append(TlsIssue.CERT_WEAK_SIGNATURE)
    return info, issues


def _signed_by(cert: Any, issuer: Any) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:
        return False
    return True


def _subject_names(cert: Any) -> tuple[list[str], list[str]]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        cns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        return cns, []
    return (
        [str(n) for n in san.get_values_for_type(x509.DNSName)],
        [str(a) for a in san.get_values_for_type(x509.IPAddress)],
    )


def _name_matches(host: str, names: list[str], addresses: list[str]) -> bool:
    """RFC 9525 §6.3: IP addresses match iPAddress SANs; names match DNS names (one left-most wildcard)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return any(_same_ip(ip, a) for a in addresses)
    host = host.lower().rstrip(".")
    for name in names:
        name = name.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _same_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, text: str) -> bool:
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False
