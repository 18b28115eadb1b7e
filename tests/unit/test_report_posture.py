"""The posture every face renders: built from a real SQLite store, latest run per kind, no PHI."""

from __future__ import annotations

from pathlib import Path

import html5lib
import pytest

from radguard.models import Finding, Severity
from radguard.report.document import posture_html
from radguard.report.posture import build_posture
from radguard.store import Store, open_store

PATIENT = "DOE^JANE"  # must never reach a page


def finding(rule: str, sev: str, target: str = "127.0.0.1:104", **evidence: object) -> Finding:
    return Finding(rule=rule, severity=Severity(sev), title=f"{rule} <script>alert(1)</script>", target=target,
                   evidence=evidence, remediation=f"fix {rule}", controls=("hipaa:164.312(e)(1)", "csf:PR.DS-02"))


def add_run(store: Store, kind: str, findings: list[Finding], status: str = "done") -> int:
    handle = store.start_run(kind, {})
    handle.add_findings(findings)
    if status != "running":
        handle.finish(status=status)
    return handle.id


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'r.db'}")


def test_open_findings_are_those_of_the_latest_finished_run_of_each_kind(store: Store) -> None:
    add_run(store, "scan", [finding("dicom-any-called-ae", "high"), finding("dicom-open-query", "critical")])
    latest_scan = add_run(store, "scan", [finding("dicom-any-called-ae", "high")])
    add_run(store, "scan", [finding("x", "critical")] * 5, status="running")  # unfinished: ignored
    add_run(store, "audit", [finding("pixel-tampered", "critical", "/a/1.dcm"), finding("transcoded", "info", "/a/2")])
    posture = build_posture(store)
    assert {lay.kind: lay.run_id for lay in posture.layers}["scan"] == latest_scan
    assert posture.open_counts == {"critical": 1, "high": 1, "medium": 0, "low": 0, "info": 1}
    assert posture.worst == "critical"
    assert [r.rule for r in posture.rules] == ["pixel-tampered", "dicom-any-called-ae", "transcoded"]
    assert posture.rules[0].layers == ("Archive integrity audit",)
    # the trend has every finished run, oldest first, with its own counts
    assert [(t.kind, t.counts["critical"]) for t in posture.trend] == [("scan", 1), ("scan", 0), ("audit", 1)]
    control = {c.ref: c for c in posture.controls}["hipaa:164.312(e)(1)"]
    assert control.findings == 3 and control.worst == "critical" and control.framework == "hipaa"
    assert control.title and control.title != control.ref


def test_layers_are_ordered_by_csf_function(store: Store) -> None:
    for kind in ("recover", "audit", "scan", "gateway"):
        add_run(store, kind, [])
    assert [lay.function for lay in build_posture(store).layers] == ["Identify", "Protect", "Detect", "Recover"]


def test_page_is_strict_html_escapes_findings_and_carries_no_phi(store: Store) -> None:
    add_run(store, "scan", [finding("dicom-open-query", "high", patients=3, patient_hash="9f" * 8)])
    posture = build_posture(store)
    html = posture_html(posture, site="St <Elsewhere>", store_url="sqlite:///x")
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(html)  # raises on any parse error
    assert not parser.errors
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "St &lt;Elsewhere&gt;" in html
    assert html.count("<svg") == 2  # both plots inlined
    assert PATIENT not in html
    assert "dicom-open-query" in html and "1 open finding across 1 layer" in " ".join(html.split())


def test_empty_store_says_what_to_run(store: Store) -> None:
    posture = build_posture(store)
    assert posture.layers == () and posture.total_open == 0 and posture.worst is None
    html = posture_html(posture, site="x", store_url="sqlite:///x")
    assert "No finished run is in the store yet" in html
    html5lib.HTMLParser(strict=True).parse(html)


def test_json_form_follows_the_finding_schema(store: Store) -> None:
    add_run(store, "pcap", [finding("query-harvesting", "medium")])
    data = build_posture(store).to_dict()
    assert data["open"]["medium"] == 1
    assert data["findings"][0]["rule"] == "query-harvesting" and data["findings"][0]["layer"] == "pcap"
    assert data["layers"][0]["function"] == "Detect"
