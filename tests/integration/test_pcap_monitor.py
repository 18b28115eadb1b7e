"""``radguard monitor`` live on loopback (through tcpdump) while DCMTK clients talk to storescp."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.peers import LOOPBACK, Peer, dcmtk_env

pytestmark = pytest.mark.integration
RADGUARD = str(Path(sys.executable).with_name("radguard"))


def test_monitor_live(storescp: Peer, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("live capture needs root (tcpdump)")
    records = tmp_path / "live.jsonl"
    proc = subprocess.Popen(
        [RADGUARD, "monitor", "-i", "lo", "--filter", f"tcp port {storescp.port}", "--duration", "6",
         "--interval", "1", "--json", "--no-store", "--records", str(records), "--zeek-log", str(tmp_path / "z"),
         "--status-file", str(tmp_path / "status.json"),
         "--threshold", "association-flood.min_associations=5", "--threshold", "association-flood.window_seconds=30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2)  # tcpdump up
    started = time.time()
    for _ in range(6):
        subprocess.run(["echoscu", "-aet", "LIVE01", "-aec", storescp.ae, LOOPBACK, str(storescp.port)],
                       env=dcmtk_env(), check=True, capture_output=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    doc = json.loads(out)
    assert doc["schema"] == "radguard.monitor/1"
    assert [r["command"] for r in doc["records"] if r["kind"] == "dimse"] == ["C-ECHO"] * 6
    assert {r["calling_ae"] for r in doc["records"] if r["kind"] == "association"} == {"LIVE01"}
    assert [f["rule"] for f in doc["findings"]] == ["association-flood"]
    assert b"alert medium association-flood" in err
    assert len(records.read_text().splitlines()) == 12
    assert (tmp_path / "z" / "dicom.log").read_text().count("\tC-ECHO\t") == 6
    # the status file: rewritten after each detection pass, with the capture time of the last frame covered
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["frames"] > 0 and status["findings"] == 1 and status["last_frame_time"] >= started - 1
