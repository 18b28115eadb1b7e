"""The decoy's alert sink: a flushed JSON line per touch, an ATNA Security Alert on the trail, a store event,
one ``decoy-touched`` finding per source; a flood is capped per source per minute and counted, not lost."""

from __future__ import annotations

import json
import time
from pathlib import Path

from radguard.audittrail.trail import AuditTrail
from radguard.policy.decoy_alerts import ALERTS_PER_MINUTE, AlertSink
from radguard.store import open_store


class Clock:
    """A settable clock (the sink's sliding window is read from it)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_lines_trail_store_and_findings(tmp_path: Path) -> None:
    store = open_store()
    run = store.start_run("decoy", {})
    trail = AuditTrail(jsonl=tmp_path / "atna.jsonl")
    sink = AlertSink("127.0.0.1:11112", "Orthanc 1.12.1", path=tmp_path / "alerts.jsonl", trail=trail,
                     store_events=run.add_events)
    t0 = time.time()
    doc = sink.alert("C-FIND", "10.0.0.9", 40000, t0, calling_ae="WS01", called_ae="ORTHANC",
                     detail={"level": "STUDY", "keys": ["PatientName"], "matches": 3})
    line = json.loads((tmp_path / "alerts.jsonl").read_text())  # on disk as soon as alert() returns
    assert doc is not None and line == doc and line["rule"] == "decoy-touched" and line["severity"] == "critical"
    assert (line["event"], line["source"], line["calling_ae"], line["product"]) == ("C-FIND", "10.0.0.9", "WS01",
                                                                                     "Orthanc 1.12.1")
    sink.alert("association", "10.0.0.8", 40001, t0, calling_ae="X", called_ae="Y")
    sink.close()  # flushes the trail and the store worker
    atna = [json.loads(x) for x in (tmp_path / "atna.jsonl").read_text().splitlines()]
    assert [r["event"] for r in atna] == ["110113", "110113"] and atna[1]["event_types"] == ["110126"]
    assert "decoy-touched (critical)" in atna[0]["description"]
    events = store.events(kind="decoy-alert")
    assert len(events) == 2 and {e.severity.value for e in events} == {"critical"}
    findings = sink.findings()
    assert [f.evidence["source"] for f in findings] == ["10.0.0.8", "10.0.0.9"]
    assert findings[1].evidence["events"] == {"C-FIND": 1} and findings[1].evidence["calling_aes"] == ["WS01"]
    store.close()


def test_a_flood_is_capped_per_source_and_counted(tmp_path: Path) -> None:
    clock = Clock()
    sink = AlertSink("127.0.0.1:11112", "x", path=tmp_path / "alerts.jsonl", clock=clock)
    written = [sink.alert("association", "10.0.0.66", 1, clock.now) for _ in range(ALERTS_PER_MINUTE + 50)]
    assert sum(d is not None for d in written) == ALERTS_PER_MINUTE
    assert sink.alert("association", "10.0.0.7", 1, clock.now) is not None  # other sources are not affected
    clock.now += 61
    again = sink.alert("C-ECHO", "10.0.0.66", 1, clock.now)
    assert again is not None and again["suppressed"] == 50
    sink.close()
    flood = next(f for f in sink.findings() if f.evidence["source"] == "10.0.0.66")
    assert flood.evidence["suppressed_alerts"] == 50 and flood.evidence["events"]["association"] == 170
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == ALERTS_PER_MINUTE + 2
