"""The issue's "done when": the gateway in front of a hardened Orthanc. CT01 can store and nothing else,
WS01 can query and retrieve only to itself, an unknown AE gets nothing, everything is audited, and
``contain --peer CT01`` shuts CT01 out at once."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydicom import dcmread

from tests.integration.test_gateway_helpers import LOOPBACK, dcmtk, gateway_config, make_files, reject_line
from tests.support.gateway_harness import GatewayThread
from tests.support.peers import free_port, start_orthanc, start_storescp

pytestmark = pytest.mark.integration


def test_gateway_in_front_of_orthanc(tmp_path: Path) -> None:
    gw_port = free_port()
    ws01 = start_storescp(tmp_path, ae="WS01")
    orthanc = start_orthanc(tmp_path, hardened=True, modalities={
        "CT01": ("CT01", LOOPBACK, 104), "WS01": ("WS01", LOOPBACK, gw_port)})
    try:
        cfg = gateway_config(
            tmp_path, upstream=(LOOPBACK, orthanc.port), upstream_ae="ORTHANC", listen_port=gw_port,
            peers=[{"ae": "CT01", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-STORE"]},
                   {"ae": "WS01", "hosts": [LOOPBACK], "port": ws01.port,
                    "allow": ["C-ECHO", "C-FIND", "C-MOVE", "C-GET"], "move_destinations": ["WS01"]}])
        files = make_files(tmp_path / "in", 3, patient_id="ORTHANC-PAT")
        study = str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
        keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}"]
        with GatewayThread(cfg) as gw:
            port = str(gw.port)
            store = dcmtk(["storescu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, port, *map(str, files)])
            assert store.returncode == 0, store.stderr
            auth = httpx.BasicAuth(*orthanc.credentials) if orthanc.credentials else None
            instances = httpx.get(f"http://{LOOPBACK}:{orthanc.http_port}/instances", auth=auth).json()
            assert len(instances) == 3
            ct_find = dcmtk(["findscu", "-S", "-aet", "CT01", "-aec", "RADGUARD", *keys, LOOPBACK, port])
            assert "Status: 0x124" in ct_find.stderr or "0x0124" in ct_find.stderr
            find = dcmtk(["findscu", "-S", "-aet", "WS01", "-aec", "RADGUARD", *keys, LOOPBACK, port])
            assert find.stderr.count("Find Response: 1 (Pending)") == 1, find.stderr
            move = dcmtk(["movescu", "-S", "-aet", "WS01", "-aec", "RADGUARD", "-aem", "WS01", *keys,
                          LOOPBACK, port])
            assert move.returncode == 0, move.stderr
            assert len(list(ws01.extra["store"].iterdir())) == 3
            elsewhere = dcmtk(["movescu", "-S", "-aet", "WS01", "-aec", "RADGUARD", "-aem", "CT01", *keys,
                               LOOPBACK, port])
            assert "refused: movedestinationunknown" in elsewhere.stderr.lower()
            unknown = dcmtk(["echoscu", "-aet", "INTRUDER", "-aec", "RADGUARD", LOOPBACK, port])
            assert reject_line(unknown).endswith("Calling AE Title Not Recognized")
            assert gw.gateway is not None
            result = gw.call(lambda: gw.gateway.contain("peer", "CT01"))  # type: ignore[union-attr]
            assert result["state"]["peers"] == ["CT01"]
            again = dcmtk(["echoscu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, port])
            assert reject_line(again).endswith("Calling AE Title Not Recognized")
            assert gw.gateway.trail is not None and gw.gateway.trail.flush()
    finally:
        orthanc.stop()
        ws01.stop()
    events = [json.loads(x) for x in (tmp_path / "gw" / "audit.jsonl").read_text().splitlines()]
    codes = [e["event"] for e in events]
    assert codes.count("110104") == 6  # 3 stored by CT01 + 3 moved to WS01
    assert codes.count("110112") == 1 and codes.count("110102") == 1
    alerts = [e["description"] for e in events if e["event"] == "110113"]
    assert any("C-FIND refused" in a for a in alerts)
    assert any("INTRUDER" in a for a in alerts)
    assert any(a.startswith("contain peer") for a in alerts)
    assert "ORTHANC-PAT" not in (tmp_path / "gw" / "audit.jsonl").read_text()
