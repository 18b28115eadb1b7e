"""Issue 16 item 12 (for people): at 80 columns (a pipe, an SSH session) tables never cut a rule id, a
target or a control id; ``findings diff`` refuses runs of different kinds instead of calling every
finding "fixed"; ``audit`` prints a summary line as ``seal`` does. (The demo's closing hint is checked
where the demo runs: tests/integration/test_demo.py.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from radguard.models import Finding, Severity
from radguard.range.samples import bundled
from radguard.store import open_store
from tests.e2e.cli import json_doc, radguard, usage_error

NARROW = {"COLUMNS": "80", "LINES": "50"}
RULES = ["dicom-any-calling-ae-accepted-for-query", "dicom-any-calling-ae-accepted-for-store"]
TARGETS = ["/srv/pacs/storage/1.2.840.113619.2.55.3.604688119.969.1268071029.320/IM000001.dcm",
           "pacs-archive-01.radiology.department.hospital.example.org:11112"]


def _run(kind: str, findings: list[Finding]) -> int:
    store = open_store()
    run = store.start_run(kind)
    run.add_findings(findings)
    run.finish({})
    return run.id


def _long_findings() -> list[Finding]:
    return [Finding(rule=rule, severity=Severity.HIGH, title="Any calling AE title is accepted for this service "
                    "class, so any device on the network can use it", target=target,
                    remediation="Configure the peer list.", controls=("csf:PR.AA-05", "hipaa:164.312(a)(1)",
                                                                       "hicp:TV1-5.M.A"))
            for rule in RULES for target in TARGETS]


def test_findings_list_at_80_columns_cuts_no_rule_or_target() -> None:
    run_id = _run("scan", _long_findings())
    proc = radguard(["findings", "list", str(run_id)], env=NARROW)
    assert proc.returncode == 1, proc.stderr
    assert "…" not in proc.stdout.replace(" …\n", "\n")  # no cell cut with an ellipsis
    for text in (*RULES, *TARGETS, "csf:PR.AA-05", "hipaa:164.312(a)(1)", "hicp:TV1-5.M.A"):
        assert text in proc.stdout, (text, proc.stdout)


def test_findings_list_at_80_columns_short_ids_stay_a_table() -> None:
    run_id = _run("scan", [Finding(rule="dicom-echo-open", severity=Severity.LOW, title="C-ECHO " * 20,
                                   target="10.0.0.1:104", controls=("csf:PR.AA-05",))])
    proc = radguard(["findings", "list", str(run_id)], env=NARROW)
    assert proc.returncode == 0, proc.stderr
    assert "┃" in proc.stdout and "dicom-echo-open" in proc.stdout and "10.0.0.1:104" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80


def test_controls_list_at_80_columns_cuts_no_control_id() -> None:
    proc = radguard(["controls", "list"], env=NARROW)
    assert proc.returncode == 0, proc.stderr
    refs = [c["ref"] for c in json_doc(radguard(["controls", "list", "--json"]), "controls")["controls"]]
    assert refs
    missing = [r for r in refs if r not in proc.stdout]
    assert missing == []
    assert "…" not in proc.stdout


def test_findings_diff_refuses_runs_of_different_kinds() -> None:
    scan = _run("scan", _long_findings())
    audit = _run("audit", [])
    line = usage_error(radguard(["findings", "diff", str(scan), str(audit)]))
    assert "different kinds" in line and "scan" in line and "audit" in line
    same = _run("scan", _long_findings()[:1])
    proc = radguard(["findings", "diff", str(scan), str(same), "--json"])
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["fixed"]) == 3


def test_audit_prints_a_summary_line(tmp_path: Path) -> None:
    env = {"RADGUARD_KEY": str(tmp_path / "site.pem")}
    arc = tmp_path / "arc"
    arc.mkdir()
    shutil.copy(bundled("CT_small.dcm"), arc)
    json_doc(radguard(["keygen", "--json"], env=env), "keygen")
    json_doc(radguard(["seal", str(arc), "--workers", "1", "--json"], env=env), "seal")
    proc = radguard(["audit", str(arc), "--workers", "1"], env=env)
    assert proc.returncode == 0, proc.stderr
    summary = [ln for ln in proc.stderr.splitlines() if ln.startswith("audited ")]
    assert summary == [summary[0]] and "1 files (1 verified against the ledger, 0 missing, 0 unexpected" in summary[0]
    assert "audited" not in radguard(["audit", str(arc), "--workers", "1", "--json"], env=env).stderr
