"""Query/retrieve through the gateway with real DCMTK: C-FIND, C-MOVE with the sub-operations relayed back
through the gateway to a storescp standing in for WS01, C-GET, refusals; all audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_gateway_helpers import LOOPBACK, dcmtk, gateway_config, make_files, start_qrscp
from tests.support.gateway_harness import GatewayThread
from tests.support.peers import free_port, start_storescp

pytestmark = pytest.mark.integration


def test_find_move_get_through_gateway(tmp_path: Path) -> None:
    gw_port = free_port()
    ws01 = start_storescp(tmp_path, ae="WS01")
    qr = start_qrscp(tmp_path, ae="QRSCP",
                     peers={"WS01": (LOOPBACK, gw_port), "LOADER": (LOOPBACK, 1), "CT01": (LOOPBACK, 1)})
    try:
        files = make_files(tmp_path / "in", 4, patient_id="QR-PAT-7")
        load = dcmtk(["storescu", "-aet", "LOADER", "-aec", "QRSCP", LOOPBACK, str(qr.port), *map(str, files)])
        assert load.returncode == 0, load.stderr
        from pydicom import dcmread

        study = str(dcmread(files[0]).StudyInstanceUID)
        cfg = gateway_config(
            tmp_path, upstream=(LOOPBACK, qr.port), upstream_ae="QRSCP", listen_port=gw_port,
            peers=[
                {"ae": "CT01", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-STORE"]},
                {"ae": "NEWWS", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-FIND"]},
                {"ae": "WS01", "hosts": [LOOPBACK], "port": ws01.port,
                 "allow": ["C-ECHO", "C-FIND", "C-MOVE", "C-GET"], "move_destinations": ["WS01"]},
            ])
        keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}"]
        with GatewayThread(cfg) as gw:
            port = str(gw.port)
            find = dcmtk(["findscu", "-S", "-aet", "WS01", "-aec", "RADGUARD", *keys, LOOPBACK, port])
            assert find.returncode == 0, find.stderr
            assert (find.stdout + find.stderr).count("Find Response: 1 (Pending)") == 1
            ct_find = dcmtk(["findscu", "-S", "-aet", "CT01", "-aec", "RADGUARD", *keys, LOOPBACK, port])
            assert "Find Response: 1 (Pending)" not in ct_find.stdout + ct_find.stderr
            assert "0x0124" in (ct_find.stdout + ct_find.stderr).replace("0x124", "0x0124")
            # the upstream sees the client's calling AE: its own per-AE permissions still apply
            unknown_upstream = dcmtk(["findscu", "-S", "-aet", "NEWWS", "-aec", "RADGUARD", *keys, LOOPBACK, port])
            assert "Association Rejected" in unknown_upstream.stderr

            move = dcmtk(["movescu", "-S", "-aet", "WS01", "-aec", "RADGUARD", "-aem", "WS01", *keys, LOOPBACK, port])
            assert move.returncode == 0, move.stderr
            got = sorted(p.name for p in ws01.extra["store"].iterdir())
            assert len(got) == 4  # relayed back through the gateway to WS01's own SCP

            bad_move = dcmtk(["movescu", "-S", "-aet", "WS01", "-aec", "RADGUARD", "-aem", "CT01", *keys,
                              LOOPBACK, port])
            out = (bad_move.stdout + bad_move.stderr).lower()
            assert "final move response (refused: movedestinationunknown)" in out
            assert len(list(ws01.extra["store"].iterdir())) == 4

            get_dir = tmp_path / "get"
            get_dir.mkdir()
            get = dcmtk(["getscu", "-S", "-aet", "WS01", "-aec", "RADGUARD", "-od", str(get_dir), *keys,
                         LOOPBACK, port])
            assert get.returncode == 0, get.stderr
            assert len(list(get_dir.iterdir())) == 4
            stats = gw.stats()
            assert gw.gateway is not None and gw.gateway.trail is not None
            gw.gateway.trail.flush()
        assert stats["requests_refused"] == 2
        events = [json.loads(x) for x in (tmp_path / "gw" / "audit.jsonl").read_text().splitlines()]
        by = {}
        for e in events:
            by.setdefault(e["event"], []).append(e)
        assert len(by["110112"]) == 1  # the one allowed query
        query = by["110112"][0]["objects"][0]
        assert query["role"] == "24" and "StudyInstanceUID" in query["query_keys"]
        assert len(by["110102"]) == 2  # begin transferring: the C-MOVE and the C-GET
        transferred = by["110104"]
        # 4 C-MOVE sub-operations (QRSCP -> WS01 through the gateway) + 4 C-GET sub-operations
        assert len(transferred) == 8 and all(e["outcome"] == "0" for e in transferred)
        sub_ops = [e for e in transferred if e["participants"][0]["user_id"] == "QRSCP"
                   and e["participants"][1]["user_id"] == "WS01"]
        assert len(sub_ops) == 8
        assert "QR-PAT-7" not in (tmp_path / "gw" / "audit.jsonl").read_text()
    finally:
        qr.stop()
        ws01.stop()
