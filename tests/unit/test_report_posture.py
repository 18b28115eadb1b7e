"""The posture every face renders: built from a real SQLite store, latest run per kind, no PHI."""

from __future__ import annotations

from pathlib import Path

import html5lib
import pytest

from radguard.models import Finding, Severity
from radguard.range.report import store_results
from radguard.report.document import posture_html
from radguard.report.posture import build_posture
from radguard.store import Store, open_store
from tests.support.rangedoc import range_doc

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


def test_range_and_exercise_runs_show_in_their_own_sections(store: Store, tmp_path: Path) -> None:
    """The posture report reads the range's last measurement and the last exercise from the same store."""
    add_run(store, "scan", [finding("dicom-open-query", "high")])
    url = str(store.engine.url)
    range_run = store_results(range_doc(tmp_path), url=url)
    handle = store.start_run("exercise", {"scenario": "ransomware-night"})
    handle.finish(summary={"scenario": "ransomware-night", "title": "Ransomware on the PACS at night", "score": 3,
                           "possible": 9, "met": 1, "not_met": 2, "path": [],
                           "improvement_plan": [{"action": "Test restores monthly", "owner": "PACS administrator",
                                                 "priority": "high", "due": "2027-01-05", "why": "restore/late"}]})
    posture = build_posture(store)
    assert [lay.kind for lay in posture.layers] == ["scan"]  # programs are not layers of defense
    assert {t.kind for t in posture.trend} == {"scan"}
    assert posture.range is not None and posture.range.run_id == range_run
    assert posture.exercise is not None and posture.exercise.summary["score"] == 3
    doc = posture.to_dict()
    assert doc["range"]["totals"]["attacks"] == 3 and doc["range"]["ablation"] is True
    assert doc["exercise"]["improvement_plan"][0]["action"] == "Test restores monthly"
    html = posture_html(posture, site="x", store_url=url)
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(html)
    assert not parser.errors
    assert 'id="range"' in html and 'id="exercise"' in html and html.count("<svg") == 4
    text = " ".join(html.split())
    assert "1 of 3 attacks were stopped" in text and "Test restores monthly" in text and "gateway off" in text
    assert "scored 3 of 9" in text


def test_a_range_run_without_results_shows_no_section(store: Store) -> None:
    handle = store.start_run("range", {})
    handle.finish(summary={"error": "the range did not come up"})
    assert build_posture(store).range is None
