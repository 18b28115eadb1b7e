"""Fingerprints, vulnerability knowledge base, first-reply classification and the scan rules (no network)."""

from __future__ import annotations

import pytest

from radguard import rulebook
from radguard.assess import evaluate
from radguard.assess.evaluate import version_findings
from radguard.assess.identify import FirstReply, classify_first_bytes
from radguard.assess.knowledge import (
    Fingerprint,
    default_credentials,
    identify_implementation,
    kb_data,
    lookup,
    version_key,
    vuln_entries,
)
from radguard.catalog import is_known
from radguard.models import Rule, Severity


def test_every_rule_cites_known_controls() -> None:
    rules = [e.rule for e in rulebook.for_producer("scan")]
    assert {r.id for r in rules} == {v.id for v in vars(evaluate).values() if isinstance(v, Rule)}
    for rule in rules:
        assert rule.controls and rule.remediation
        for ref in rule.controls:
            assert is_known(ref), (rule.id, ref)


def test_fingerprints() -> None:
    fp = identify_implementation("1.2.276.0.7230010.3.0.3.6.7", "OFFIS_DCMTK_367")
    assert fp is not None and (fp.product, fp.version) == ("dcmtk", "3.6.7")
    fp = identify_implementation("1.2.826.0.1.3680043.9.3811.2.0.0", "PYNETDICOM_200")
    assert fp is not None and (fp.product, fp.version) == ("pynetdicom", "2.0.0")
    fp = identify_implementation("1.2.40.0.13.1.3", "dcm4che-5.31.0")
    assert fp is not None and (fp.product, fp.version) == ("dcm4che", "5.31.0")
    fp = identify_implementation("1.2.3.4", "SOMETHING")
    assert fp is not None and fp.product == "unknown" and fp.version is None
    assert identify_implementation(None, None) is None


def test_kb_is_well_formed_and_ranges() -> None:
    assert kb_data()["version"]
    for e in vuln_entries():
        assert e.cves and all(c.startswith("CVE-") for c in e.cves)
        assert e.ranges
    assert version_key("3.6.7") == (3, 6, 7) < version_key("3.6.8")
    assert version_key("1.12.10+dfsg-1") == (1, 12, 10)
    assert {e.id for e in lookup("dcmtk", "3.6.6")} >= {"dcmtk-2022-path-traversal", "dcmtk-2022-null-deref"}
    assert [e.id for e in lookup("dcmtk", "3.6.7")] == ["dcmtk-2022-assoc-leak"]
    assert lookup("dcmtk", "3.6.9") == []
    assert {e.id for e in lookup("orthanc", "1.12.10")} == {"orthanc-2026-decoding"}
    assert lookup("orthanc", "1.12.11") == []
    assert lookup("orthanc", None) == []


def test_version_findings_confidence() -> None:
    dicom_fp = Fingerprint(product="dcmtk", version="3.6.7", source="dicom-implementation")
    [f] = version_findings("127.0.0.1:104", dicom_fp, toolkit_only=True)
    assert f.rule == "known-vulnerable-version"
    assert f.severity is Severity.MEDIUM  # KB says high; lowered: toolkit version, backports likely
    assert f.evidence["confidence"] == "low" and "backport" in f.evidence["caveat"]
    web_fp = Fingerprint(product="orthanc", version="1.10.1", source="http-rest-api")
    [g] = version_findings("127.0.0.1:8042", web_fp, toolkit_only=False)
    assert g.severity is Severity.CRITICAL and g.evidence["confidence"] == "medium"
    assert version_findings("x:1", Fingerprint(product="dcmtk", version="3.6.9", source="d"), toolkit_only=True) == []


def test_default_credentials_file() -> None:
    creds = default_credentials()
    assert ("orthanc", "orthanc") in {(c["username"], c["password"]) for c in creds}
    assert all(c["path"].startswith("/") and c["source"] for c in creds)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", FirstReply.NONE),
        (b"HTTP/1.0 400 Bad Request\r\n", FirstReply.HTTP),
        (b"\x15\x03\x03\x00\x02\x02\x46", FirstReply.TLS),
        (b"\x02\x00\x00\x00\x00\xba", FirstReply.DICOM),
        (b"\x03\x00\x00\x00\x00\x04", FirstReply.DICOM),
        (b"SSH-2.0-OpenSSH", FirstReply.OTHER),
    ],
)
def test_first_reply(data: bytes, kind: FirstReply) -> None:
    assert classify_first_bytes(data) is kind
