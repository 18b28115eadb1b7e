"""radguard scan as a PACS administrator runs it: real storescp and Orthanc (holding a fake patient),
--intrusive, JSON/SARIF/exit codes, findings diff between runs, and no PHI anywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.cli import check_sarif, json_doc, no_traceback, radguard
from tests.e2e.phi import leaks, make_phi_files, sqlite_dump
from tests.support.peers import OrthancPeer, Peer, free_port

pytestmark = pytest.mark.integration


def test_scan_storescp_and_orthanc_with_a_patient(storescp: Peer, orthanc: OrthancPeer, tmp_path: Path) -> None:
    for path in make_phi_files(tmp_path / "files"):
        orthanc.rest("POST", "/instances", path.read_bytes())
    closed = free_port()
    ports = f"{storescp.port},{orthanc.dicom_port},{orthanc.http_port},{closed}"
    outputs: list[str] = []
    sarif = tmp_path / "scan.sarif"
    first = radguard(["scan", "127.0.0.1", "-p", ports, "--timeout", "2", "--json", "--sarif", str(sarif)])
    doc = json_doc(first, "scan", rc=1)
    check_sarif(sarif, doc["findings"])
    outputs += [first.stdout, first.stderr, sarif.read_text()]
    targets = {f["target"] for f in doc["findings"]}
    assert f"127.0.0.1:{storescp.port}" in targets and f"127.0.0.1:{orthanc.dicom_port}" in targets
    assert f"127.0.0.1:{closed}" not in targets
    rules = {(f["target"].rsplit(":", 1)[1], f["rule"]) for f in doc["findings"]}
    assert (str(storescp.port), "dicom-any-calling-ae") in rules
    assert (str(orthanc.http_port), "web-no-auth") in rules
    assert not any(f["rule"] == "dicom-open-store" for f in doc["findings"])  # only with --intrusive

    intrusive = radguard(["scan", "127.0.0.1", "-p", ports, "--timeout", "2", "--intrusive", "--json",
                          "--fail-on", "critical"])
    doc2 = json_doc(intrusive, "scan", rc=(0, 1))
    outputs += [intrusive.stdout, intrusive.stderr]
    assert any(f["rule"] == "dicom-open-store" for f in doc2["findings"])
    table = radguard(["scan", "127.0.0.1", "-p", ports, "--timeout", "2", "--intrusive", "--fail-on", "info"])
    no_traceback(table)
    assert table.returncode == 1
    outputs += [table.stdout, table.stderr]

    diff = radguard(["findings", "diff", str(doc["run"]), str(doc2["run"]), "--json"])
    ddoc = json_doc(diff, "findings-diff", rc=(0, 1))
    assert "dicom-open-store" in {f["rule"] for f in ddoc["new"]}
    assert ddoc["fixed"] == []
    outputs += [diff.stdout, diff.stderr]
    listing = radguard(["findings", "list", "--json", "--fail-on", "critical"])  # latest scan run
    ldoc = json_doc(listing, "findings", rc=(0, 1))
    assert ldoc["run"]["id"] == max(doc["run"], doc2["run"]) + 1
    outputs += [listing.stdout, sqlite_dump(Path(os.environ["RADGUARD_DB"].removeprefix("sqlite:///")))]
    assert {i: leaks(t) for i, t in enumerate(outputs) if leaks(t)} == {}


def test_scan_no_store_leaves_the_store_alone(storescp: Peer) -> None:
    doc = json_doc(radguard(["scan", "127.0.0.1", "-p", str(storescp.port), "--no-store", "--json",
                             "--fail-on", "critical"]), "scan")
    assert doc.get("run") is None
    assert json_doc(radguard(["runs", "--json"]), "runs")["runs"] == []
