"""`make demo` (`radguard demo`) end to end: the simulated department, every drill, the efficacy table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_demo_runs_every_drill(tmp_path: Path) -> None:
    env = dict(os.environ, TCP_NODELAY="1", RADGUARD_DEMO_ATTACKS="get-exfil,wiper")
    env.pop("RADGUARD_DB", None)
    proc = subprocess.run([sys.executable, "-m", "radguard.cli.main", "demo"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "demo-out" / "demo.json").read_text())
    steps = {s["name"]: s for s in summary["steps"]}
    assert set(steps) == {
        "identify: radguard scan",
        "protect: radguard gateway + contain",
        "detect+recover: radguard seal/audit/recover",
        "detect: radguard pcap",
    }
    failed = {n: s["summary"] for n, s in steps.items() if not s["ok"]}
    assert not failed, failed
    attacks = [a for s in summary["steps"] for a in s["data"].get("attacks", [])]
    assert len(attacks) == 11
    missed = [a["attack"] for a in attacks if not (a.get("blocked") or a.get("detected"))]
    assert missed == []
    assert proc.returncode == 0
    assert "11/11 attacks blocked or detected" in proc.stdout
    # the scan's SARIF and the capture's Zeek log are there for the user
    assert json.loads((tmp_path / "demo-out" / "scan.sarif").read_text())["version"] == "2.1.0"
    assert (tmp_path / "demo-out" / "zeek" / "dicom.log").exists()
    # the closing hint is a command that works as printed (issue 16 item 12)
    hint = [ln for ln in proc.stdout.splitlines() if ln.startswith("results: ")][-1]
    command = hint.split("(see them: ", 1)[1].removesuffix(")")
    assert command.endswith(" findings list") and "/radguard" in command
    shown = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert shown.returncode in (0, 1), shown.stderr
    assert "(scan)" in shown.stdout
    # the range phase: results, ablation and the report (the full library runs in test_range_library.py)
    measured = json.loads((tmp_path / "demo-out" / "range.json").read_text())
    assert measured["schema"] == "radguard.range/1"
    assert [a["attack"] for a in measured["attacks"]] == ["get-exfil", "wiper"]
    assert {r["attack"] for r in measured["ablation"]["rows"]} == {"get-exfil", "wiper"}
    assert "Defense measured on the range" in (tmp_path / "demo-out" / "report.html").read_text()
    assert (tmp_path / "demo-out" / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert "ablation (each layer off in turn" in proc.stdout
    assert not (tmp_path / "demo-out" / "range" / "range.json").exists() or json.loads(
        (tmp_path / "demo-out" / "range" / "range.json").read_text())["procs"] == []
