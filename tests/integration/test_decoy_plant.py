"""``radguard decoy plant`` into a real Orthanc, then the gateway in front of it: a planted honeytoken study
retrieved (C-GET, C-MOVE) or queried through the gateway raises a Security Alert; an ordinary study does
not; the planted UIDs are in the store and the honeytoken file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radguard.cli.main import main
from radguard.store import honeytokens as tokens
from radguard.store import open_store
from tests.integration.test_gateway_helpers import LOOPBACK, dcmtk, gateway_config, make_files
from tests.support.gateway_harness import GatewayThread
from tests.support.peers import free_port, start_orthanc, start_storescp

pytestmark = pytest.mark.integration


def test_a_planted_honeytoken_retrieved_through_the_gateway_is_alerted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gw_port = free_port()
    ws01 = start_storescp(tmp_path, ae="WS01")
    orthanc = start_orthanc(tmp_path, modalities={"CT01": ("CT01", LOOPBACK, 104),
                                                  "WS01": ("WS01", LOOPBACK, gw_port)})
    try:
        code = main(["decoy", "plant", "--pacs", f"{LOOPBACK}:{orthanc.port}", "--called-ae", "ORTHANC",
                     "--calling-ae", "CT01", "--count", "2", "--json"])
        doc = json.loads(capsys.readouterr().out)
        assert code == 0 and doc["schema"] == "radguard.decoy-plant/1" and doc["planted"] == 2, doc
        assert doc["instances_stored"] == 4 and doc["error"] is None and "PatientName" not in json.dumps(doc)
        planted = [s["study_uid"] for s in doc["studies"]]
        assert len(orthanc.rest("GET", "/studies")) == 2
        store = open_store()
        try:
            recorded = tokens.load(store)
        finally:
            store.close()
        assert set(planted) <= set(recorded) and recorded[planted[0]]["level"] == "STUDY"
        assert set(planted) <= tokens.read_file()
        ordinary = make_files(tmp_path / "in", 1)
        cfg = gateway_config(
            tmp_path, upstream=(LOOPBACK, orthanc.port), upstream_ae="ORTHANC", listen_port=gw_port,
            peers=[{"ae": "CT01", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-STORE"]},
                   {"ae": "WS01", "hosts": [LOOPBACK], "port": ws01.port,
                    "allow": ["C-ECHO", "C-FIND", "C-MOVE", "C-GET"], "move_destinations": ["WS01"]}])
        with GatewayThread(cfg) as gw:
            port = str(gw.port)
            assert gw.gateway is not None
            assert len(gw.gateway.honeytokens.uids) == 2 * (2 + 2)  # study, series, 2 images each
            stored = dcmtk(["storescu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, port, str(ordinary[0])])
            assert stored.returncode == 0
            other = dcmtk(["findscu", "-S", "-aet", "WS01", "-aec", "RADGUARD", "-k", "QueryRetrieveLevel=STUDY",
                           "-k", "PatientID=GW-PAT-1", "-k", "StudyInstanceUID", LOOPBACK, port])
            assert other.returncode == 0 and gw.gateway.honeytokens.alerts == 0  # ordinary traffic: no alert
            (tmp_path / "got").mkdir()
            get = dcmtk(["getscu", "-S", "-aet", "WS01", "-aec", "RADGUARD", "-od", str(tmp_path / "got"),
                         "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={planted[0]}", LOOPBACK, port])
            assert get.returncode == 0, get.stderr
            assert len(list((tmp_path / "got").iterdir())) == 2  # the attacker got the (synthetic) images
            move = dcmtk(["movescu", "-S", "-aet", "WS01", "-aec", "RADGUARD", "-aem", "WS01", "-k",
                          "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={planted[1]}", LOOPBACK, port])
            assert move.returncode == 0, move.stderr
            assert gw.gateway.trail is not None and gw.gateway.trail.flush()
            alerts = gw.gateway.honeytokens.alerts
    finally:
        orthanc.stop()
        ws01.stop()
    events = [json.loads(x) for x in (tmp_path / "gw" / "audit.jsonl").read_text().splitlines()]
    touched = [e["description"] for e in events if e["event"] == "110113" and "honeytoken-touched" in
               str(e.get("description"))]
    assert alerts == len(touched) >= 3
    assert any("C-GET by WS01" in t for t in touched) and any("C-MOVE by WS01" in t for t in touched)
    assert any("C-STORE" in t for t in touched)  # the sub-operations carried honeytoken studies too
