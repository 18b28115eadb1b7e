"""radguard monitor live on loopback (a fake patient's stores), and the CLI on a PostgreSQL store."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from radguard.range.samples import bundled
from tests.e2e.cli import json_doc, radguard, usage_error
from tests.e2e.phi import leaks, make_phi_files
from tests.support.peers import LOOPBACK, Peer, dcmtk_env

pytestmark = pytest.mark.integration


def test_monitor_live_records_without_phi(storescp: Peer, tmp_path: Path) -> None:
    files = make_phi_files(tmp_path / "files")
    records = tmp_path / "live.jsonl"
    mon = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", "monitor", "-i", "lo", "--duration", "6",
                            "--filter", f"tcp port {storescp.port}", "--interval", "1", "--json",
                            "--records", str(records), "--fail-on", "critical"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for pause in (2.5, 1.5):  # no start signal from the monitor: a second batch in case the first was early
        time.sleep(pause)
        proc = subprocess.run(["storescu", "-aet", "CT01", "-aec", storescp.ae, LOOPBACK, str(storescp.port),
                               *map(str, files)], env=dcmtk_env(), capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
    out, err = mon.communicate(timeout=30)
    doc = json_doc(subprocess.CompletedProcess(mon.args, mon.returncode, out, err), "monitor", rc=(0, 1))
    stores = [r for r in doc["records"] if r["kind"] == "dimse" and r["command"] == "C-STORE"]
    assert len(stores) in (2, 4) and all(r["status"] == 0 for r in stores), stores
    assert "cleartext-phi" in {f["rule"] for f in doc["findings"]}
    texts = {"stdout": out, "stderr": err, "records": records.read_text()}
    assert {k: leaks(v) for k, v in texts.items() if leaks(v)} == {}


def test_cli_on_postgresql(postgres_url: str, storescp: Peer, tmp_path: Path) -> None:
    env = {"RADGUARD_DB": postgres_url, "RADGUARD_KEY": str(tmp_path / "k.pem")}
    arc = tmp_path / "arc"
    arc.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(bundled(name), arc)
    json_doc(radguard(["keygen", "--json"], env=env), "keygen")
    seal = json_doc(radguard(["seal", str(arc), "--workers", "1", "--json"], env=env), "seal")
    (arc / "MR_small.dcm").unlink()
    audit = json_doc(radguard(["audit", str(arc), "--workers", "1", "--json"], env=env), "audit", rc=1)
    assert [(f["rule"], f["severity"]) for f in audit["findings"]] == [("missing", "high")]
    scan = json_doc(radguard(["scan", "127.0.0.1", "-p", str(storescp.port), "--json"], env=env), "scan", rc=1)
    runs = json_doc(radguard(["runs", "--json"], env=env), "runs")
    assert [(r["id"], r["kind"]) for r in runs["runs"]] == [(scan["run"], "scan"), (audit["run"], "audit"),
                                                           (seal["run"], "seal")]
    listed = json_doc(radguard(["findings", "list", str(scan["run"]), "--json"], env=env), "findings", rc=1)
    assert sorted(f["rule"] for f in listed["findings"]) == sorted(f["rule"] for f in scan["findings"])
    # the same database, server gone: exit 2 with one line
    usage_error(radguard(["runs", "--json"], env={"RADGUARD_DB": postgres_url.replace(
        postgres_url.split("@", 1)[1].split("/", 1)[0], "127.0.0.1:1")}))
