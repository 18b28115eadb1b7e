"""The ``web`` probe against real web front ends: Orthanc's REST API (default and hardened) and a
DICOMweb stub over HTTPS (tests/support/tlspeers.py)."""

from __future__ import annotations

import asyncio

import pytest

from radguard.assess.evaluate import web_findings
from radguard.assess.probes.web import probe_web
from tests.support.peers import OrthancPeer
from tests.support.scan import rules, scan
from tests.support.tlspeers import Certs

pytestmark = pytest.mark.integration


def test_orthanc_default_and_hardened(orthanc: OrthancPeer, orthanc_hardened: OrthancPeer) -> None:
    report = asyncio.run(probe_web(orthanc.host, orthanc.http_port, "http", timeout=5.0, intrusive=False))
    assert (report.is_pacs, report.product, report.dicom_aet, report.dicom_port) == (
        True, "orthanc", orthanc.ae, orthanc.dicom_port)
    assert report.version == orthanc.rest("GET", "/system")["Version"] and not report.auth_required
    assert set(report.open_paths) == {"/system", "/studies"}
    assert {f.rule for f in web_findings("t", report)} == {"web-no-auth", "web-cleartext"}
    hard = asyncio.run(probe_web(orthanc_hardened.host, orthanc_hardened.http_port, "http", timeout=5.0,
                                 intrusive=True))
    assert hard.is_pacs and hard.auth_required and hard.open_paths == {} and hard.version is None
    assert hard.default_credentials == []  # a random admin password: no vendor default works
    assert {f.rule for f in web_findings("t", hard)} == {"web-cleartext"}


def test_dicomweb_over_https(certs: Certs) -> None:
    from tests.support.tlspeers import DicomWebStub

    weak, good = DicomWebStub(certs, weak=True), DicomWebStub(certs, weak=False)
    try:
        res = scan([weak.port, good.port])
    finally:
        weak.stop()
        good.stop()
    for peer in (weak, good):
        assert res[peer.port].service is not None and res[peer.port].service.value == "https"  # type: ignore[union-attr]
    assert rules(res[good.port]) == {"web-no-auth"}
    assert rules(res[weak.port]) == {"web-no-auth", "tls-weak"}
    [noauth] = [f for f in res[good.port].findings if f.rule == "web-no-auth"]
    assert noauth.evidence["readable_without_credentials"] == {"/dicom-web/studies": {"status": 200, "studies": 0}}
