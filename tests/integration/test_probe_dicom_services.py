"""The ``dicom_services`` probe against real peers: DCMTK dcmqrscp with an AE table (query, retrieve, the
``--intrusive`` match counts), DCMTK storescp and Orthanc (``--intrusive`` store of the labelled test object)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from radguard.assess.probes import dicom_services
from tests.support.peers import OrthancPeer, Peer, dcmtk_env, start_dcmqrscp, storescu, wait_port
from tests.support.scan import rules, scan

pytestmark = pytest.mark.integration


def _multi_process(peer: Peer) -> Peer:
    """Restart a dcmqrscp peer without ``--single-process``: Debian's dcmqrscp 3.6.7 segfaults after each
    association in single-process mode (DCMTK's own echoscu triggers it too), so a peer that must serve
    several associations runs in its default forking mode."""
    peer.stop()
    log = peer.workdir / "dcmqrscp-multi.log"
    with log.open("wb") as fh:
        peer.proc = subprocess.Popen(["dcmqrscp", "-c", str(peer.extra["cfg"])], cwd=peer.workdir, stdout=fh,
                                     stderr=subprocess.STDOUT, env=dcmtk_env())
    wait_port(peer.host, peer.port, proc=peer.proc)
    return peer


def test_dcmqrscp_known_called_ae(dcmqrscp: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the AE table's own title, unknown calling AEs are still refused; a peer that accepts any
    calling AE shows what an outsider may do (query, and C-MOVE/C-GET not refused)."""
    res = scan([dcmqrscp.port], called_aes=("QRSCP",), calling_ae="KNOWNSCU")
    r = res[dcmqrscp.port]
    assert rules(r) == {"dicom-cleartext", "known-vulnerable-version"}  # no open-*: only the configured AE got in
    assert r.asset is not None and r.asset.attributes["probes"]["query"]["verdict"] == "open"
    open_peer = _multi_process(start_dcmqrscp(tmp_path, ae="OPENQR", peers={"KNOWNSCU": ("127.0.0.1", 1)},
                                              any_peer=True))
    try:
        r = scan([open_peer.port], called_aes=("OPENQR",))[open_peer.port]
        files = [get_testdata_file(n) for n in ("CT_small.dcm", "MR_small.dcm")]
        sent = storescu(open_peer.host, open_peer.port, [str(f) for f in files], called_ae="OPENQR")
        assert sent.returncode == 0, sent.stderr
        intrusive = scan([open_peer.port], called_aes=("OPENQR",), intrusive=True)[open_peer.port]
        monkeypatch.setattr(dicom_services, "MATCH_COUNT_CAP", 1)
        capped = scan([open_peer.port], called_aes=("OPENQR",), intrusive=True)[open_peer.port]
    finally:
        open_peer.stop()
    [q] = [f for f in intrusive.findings if f.rule == "dicom-open-query"]
    assert q.evidence["match_counts"] == {"cap": 100, "studies": 2, "studies_capped": False, "patients": 2,
                                          "patients_capped": False}
    assert "dicom-open-store" in rules(intrusive)
    [q] = [f for f in capped.findings if f.rule == "dicom-open-query"]  # C-CANCEL after the first match
    assert q.evidence["match_counts"]["studies"] == 1 and q.evidence["match_counts"]["studies_capped"] is True
    assert rules(r) == {"dicom-any-calling-ae", "dicom-open-query", "dicom-open-retrieve", "dicom-cleartext",
                        "known-vulnerable-version"}
    [q] = [f for f in r.findings if f.rule == "dicom-open-query"]
    assert q.evidence["matches"] == 0 and q.evidence["query"] == "non-existent StudyInstanceUID"


def test_intrusive_store_and_query_count(storescp: Peer, orthanc: OrthancPeer) -> None:
    res = scan([storescp.port, orthanc.dicom_port, orthanc.http_port], intrusive=True)
    assert "dicom-open-store" in rules(res[storescp.port])
    assert "dicom-open-store" in rules(res[orthanc.dicom_port])  # Orthanc's default DicomAlwaysAllowStore
    stored = list(storescp.extra["store"].rglob("*"))
    files = [p for p in stored if p.is_file()]
    assert len(files) == 1
    import pydicom

    ds = pydicom.dcmread(files[0])
    assert ds.PatientID == "RADGUARD-TEST-NOT-A-PATIENT" and "NOT PATIENT DATA" in ds.StudyDescription
    [f] = [f for f in res[storescp.port].findings if f.rule == "dicom-open-store"]
    assert f.evidence["status"] == "0x0000"
