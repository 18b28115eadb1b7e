"""The ``tls`` probe against DCMTK ``storescp +tls`` with a weak and a good certificate and OpenSSL
configuration (tests/support/tlspeers.py): what the scan reports, and the probe's own report."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from radguard.assess.probes.tls import TlsIssue, assess_tls
from tests.support.scan import rules, scan
from tests.support.tlspeers import Certs, start_tls_storescp

pytestmark = pytest.mark.integration


def test_tls_storescp_weak_and_good(tmp_path: Path, certs: Certs) -> None:
    weak = start_tls_storescp(tmp_path, certs, weak=True)
    good = start_tls_storescp(tmp_path, certs, weak=False)
    try:
        res = scan([weak.port, good.port])
        by_name = scan([good.port], host="localhost")[good.port]  # SNI + name check against the DNS SAN
        other_address = scan([good.port], host="127.0.0.2")[good.port]  # DCMTK listens on every address
    finally:
        weak.stop()
        good.stop()
    assert by_name.target == f"localhost:{good.port}" and "tls-weak" not in rules(by_name)
    [mismatch] = [f for f in other_address.findings if f.rule == "tls-weak"]
    assert mismatch.evidence["issues"] == ["certificate-name-mismatch"]
    assert rules(res[weak.port]) == {"dicom-any-called-ae", "dicom-any-calling-ae", "tls-weak",
                                     "known-vulnerable-version"}
    assert rules(res[good.port]) == {"dicom-any-called-ae", "dicom-any-calling-ae", "known-vulnerable-version"}
    assert res[weak.port].service.value == res[good.port].service.value == "dicom-tls"  # type: ignore[union-attr]
    [tls] = [f for f in res[weak.port].findings if f.rule == "tls-weak"]
    assert set(tls.evidence["issues"]) == {
        "tls1.0-accepted", "tls1.1-accepted", "non-forward-secret-suite-accepted", "non-aead-suite-accepted",
        "certificate-expired", "certificate-self-signed", "certificate-name-mismatch", "certificate-short-key"}
    good_tls = res[good.port].asset.attributes["tls"]  # type: ignore[union-attr]
    assert good_tls["issues"] == [] and good_tls["certificate"]["issuer"] == "CN=radguard test CA"


def test_probe_report_of_the_weak_peer(tmp_path: Path, certs: Certs) -> None:
    weak = start_tls_storescp(tmp_path, certs, weak=True)
    try:
        report = asyncio.run(assess_tls("127.0.0.1", weak.port))
    finally:
        weak.stop()
    assert report.handshake_ok and report.version in ("TLSv1.2", "TLSv1.3")
    assert {TlsIssue.TLS10_ACCEPTED, TlsIssue.CERT_EXPIRED, TlsIssue.CERT_SHORT_KEY} <= set(report.issues)
    assert report.certificate["key_bits"] == 1024 and report.certificate["self_signed"] is True
