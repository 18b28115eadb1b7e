"""Bounded memory for captures of any size: detections over windows of records, records streamed to the store."""

from __future__ import annotations

from typing import Any

import pytest

from radguard.monitor import detections, records_store
from radguard.monitor.conversation import iso
from radguard.monitor.run import StoreRecorder
from radguard.monitor.streaming import WindowedDetections
from radguard.store import open_store


def _probe(i: int) -> dict[str, Any]:
    """A refused connection from one scanner to the i-th loopback host's DICOM port."""
    return {"kind": "connection", "ts": iso(1_700_000_000 + i), "ts_end": iso(1_700_000_000 + i), "uid": f"C{i}",
            "client": "127.0.0.99", "client_port": 40000 + i, "server": f"127.0.1.{i + 1}", "server_port": 104,
            "bytes_client": 0, "bytes_server": 0, "partial": False, "state": "refused", "protocol": "none",
            "dicom_port": True}


def _association(i: int) -> dict[str, Any]:
    return {"kind": "association", "ts": iso(1_700_000_000 + i), "ts_end": iso(1_700_000_001 + i), "uid": f"A{i}",
            "client": "127.0.0.7", "client_port": 50000 + i, "server": "127.0.0.8", "server_port": 11112,
            "calling_ae": "CT01", "called_ae": "PACS", "result": "accepted", "end": "released",
            "acceptor_implementation_class_uid": "1.2.3", "acceptor_implementation_version": "X1",
            "dimse_count": 0, "commands": {}, "violations": [], "phi_attributes": {}}


def test_below_the_window_findings_are_those_of_one_pass() -> None:
    records = [_probe(i) for i in range(40)]
    detector = WindowedDetections(["dicom-sweep"], {}, {}, window=1000)
    for r in records:
        detector(r)
    found = detector.finish()
    assert [f.to_dict() for f in found] == [f.to_dict() for f in detections.run(records, ["dicom-sweep"])]
    assert found[0].evidence["endpoints"] == 40
    assert detector.stats() == {"records": {"connection": 40}, "commands": {}}


def test_a_capture_larger_than_the_window_holds_only_the_window_and_raises_each_finding_once() -> None:
    detector = WindowedDetections(["dicom-sweep"], {}, {}, window=16)
    for i in range(100):
        detector(_probe(i))
        assert len(detector.records) < 16  # bounded, whatever the capture's size
    found = detector.finish()
    assert detector.windows > 5
    assert len(found) == 1 and found[0].rule == "dicom-sweep" and found[0].target == "127.0.0.99"
    assert found[0].evidence["endpoints"] >= 8  # raised in the first window that showed the sweep
    assert detector.stats()["records"] == {"connection": 100}


def test_records_reach_the_store_in_batches_while_they_come(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records_store, "BATCH", 3)
    recorder = StoreRecorder("pcap", {"files": ["x.pcap"]})
    records = [_association(i) for i in range(7)]
    for n, r in enumerate(records, 1):
        recorder(r)
        assert recorder.writer.count == n - n % 3  # written as each batch fills, not at the end
    run_id = recorder.finish([], {"frames": 1}, errors=0)
    store = open_store()
    try:
        assert records_store.load_records(store, run_id) == records
        info = store.get_run(run_id)
        assert info is not None and info.status == "done"
    finally:
        store.close()
    assets = recorder.assets.assets()
    assert [(a.target, a.product, a.attributes["associations"]) for a in assets] == [("127.0.0.8:11112", "1.2.3", 7)]
