"""radguard govern as a practice manager runs it: a real scan of storescp, the self-assessment from a file
and interactively (pexpect on a pseudo-terminal, interrupted and resumed), the CLI contract."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.e2e.cli import no_traceback, radguard, usage_error
from tests.support.peers import Peer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "govern-answers.yaml"


def _status() -> dict[str, object]:
    proc = radguard(["govern", "status", "--json", "--fail-on", "none"])
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, object] = json.loads(proc.stdout)
    assert doc["schema"] == "radguard.govern-status/1"
    return doc


def _controls(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["ref"]: c for c in doc["controls"]}  # type: ignore[attr-defined,index]


def test_status_from_a_real_scan_and_answers(storescp: Peer) -> None:
    scan = radguard(["scan", "127.0.0.1", "-p", str(storescp.port), "--timeout", "2", "--json"])
    assert scan.returncode in (0, 1), scan.stderr
    doc = _status()
    by = _controls(doc)
    enc = by["hipaa:164.312(e)(2)(ii)"]
    assert enc["state"] in ("partial", "not-met")  # storescp speaks clear text
    assert any(e.get("rules") == ["dicom-cleartext"] and e["run_kind"] == "scan" for e in enc["evidence"])
    assert by["hipaa:164.312(d)"]["state"] == "not-met"  # any calling AE accepted (high)
    assert by["hipaa:164.310(c)"]["state"] == "unknown"  # no scan sees a modality room
    assert "vulnerability-scan" not in doc["overdue"] and "penetration-test" in doc["overdue"]
    # exit 1: a control is not met
    assert radguard(["govern", "status", "--json"]).returncode == 1

    imported = radguard(["govern", "assess", "--answers", str(EXAMPLE), "--who", "pm", "--json"])
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["answered"] == 24
    by = _controls(_status())
    assert by["hipaa:164.310(c)"]["state"] == "met"
    assert by["hipaa:164.310(c)"]["evidence"][0]["who"] == "pm"
    human = radguard(["govern", "status"])
    assert human.returncode == 1 and "hipaa:164.312(e)(1)" in human.stdout and "overdue" in human.stdout


@pytest.mark.parametrize(
    ("text", "where"),
    [("answers:\n  physical.modality-rooms: yes\n  physical.server-room: sometimes\n", ":3: "),
     ("answers:\n  physical.modality-rooms: [yes\n", ":3: ")],
)
def test_a_malformed_answers_file_is_exit_2_naming_the_line(tmp_path: Path, text: str, where: str) -> None:
    bad = tmp_path / "answers.yaml"
    bad.write_text(text)
    line = usage_error(radguard(["govern", "assess", "--answers", str(bad)]))
    assert f"{bad}{where}" in line
    by = _controls(_status())
    assert by["hipaa:164.310(c)"]["state"] == "unknown"  # nothing half-written


def test_bad_options_are_exit_2() -> None:
    usage_error(radguard(["govern", "status", "--interval", "vulnerability-scan=soon"]))
    usage_error(radguard(["govern", "status", "--framework", "nist"]))
    usage_error(radguard(["govern", "record", "no-such-obligation"]))
    usage_error(radguard(["govern", "assess", "--section", "nope"]))


def test_record_fulfils_an_obligation(tmp_path: Path) -> None:
    report = tmp_path / "aar.pdf"
    report.write_bytes(b"%PDF-1.4 after-action report")
    proc = radguard(["govern", "record", "ir-exercise", "--note", "ransomware tabletop", "--evidence", str(report),
                     "--json"])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["evidence"]["file"] == "aar.pdf"
    obls = {o["id"]: o for o in _status()["obligations"]}  # type: ignore[attr-defined]
    assert not obls["ir-exercise"]["overdue"] and obls["ir-exercise"]["proposed"]


def test_interactive_assessment_is_resumable_section_by_section() -> None:
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb", "RADGUARD_USER": "dr-who"}
    cmd = [sys.executable, "-m", "radguard.cli.main", "govern", "assess", "--section", "physical"]
    child = pexpect.spawn(cmd[0], cmd[1:], env=env, encoding="utf-8", timeout=60)
    child.expect("Physical security")
    child.expect("modality rooms")
    child.sendline("maybe")  # invalid: asked again
    child.expect("expected one of")
    child.sendline("yes")
    child.expect("note")
    child.sendline("badge readers on CT and MR")
    child.expect("reading-room")
    child.sendline("quit")
    child.expect("Resume with")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    by = _controls(_status())
    assert by["hipaa:164.310(c)"]["state"] == "met"
    assert by["hipaa:164.310(c)"]["evidence"][0]["who"] == "dr-who"

    child = pexpect.spawn(cmd[0], cmd[1:], env=env, encoding="utf-8", timeout=60)
    child.expect("Resuming")
    child.expect("reading-room")  # the answered question is not asked again
    child.sendline("partial")
    child.expect("note")
    child.sendline("")
    child.expect("server")
    child.sendline("no")
    child.expect("note")
    child.sendline("")
    child.expect("left for later")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    by = _controls(_status())
    assert by["hipaa:164.310(b)"]["state"] == "partial"
    assert by["hipaa:164.310(a)(2)(iii)"]["state"] == "not-met"


def test_risk_register_from_the_store_and_editable(storescp: Peer, tmp_path: Path) -> None:
    radguard(["scan", "127.0.0.1", "-p", str(storescp.port), "--timeout", "2", "--json"])
    proc = radguard(["risk", "--json", "--heatmap", str(tmp_path / "heat.svg")])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "radguard.risk/1"
    keys = {r["key"]: r for r in doc["risks"]}
    assert "pacs-exploitation:127.0.0.1" in keys  # any calling AE accepted
    assert (tmp_path / "heat.svg").read_text().startswith("<svg")
    rid = keys["pacs-exploitation:127.0.0.1"]["id"]
    done = radguard(["risk", "set", rid, "--treatment", "mitigate", "--owner", "PACS admin", "--due", "2027-02-01",
                     "--status", "in-progress", "--json"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["risk"]["owner"] == "PACS admin"
    assert radguard(["risk", "--fail-on", "moderate"]).returncode == 1
    usage_error(radguard(["risk", "set", rid, "--treatment", "pray"]))
    usage_error(radguard(["risk", "set", "R-nothere", "--owner", "x"]))
    usage_error(radguard(["risk", "--fail-on", "extreme"]))


def test_govern_report_cli(tmp_path: Path) -> None:
    radguard(["govern", "assess", "--answers", str(EXAMPLE)])
    proc = radguard(["govern", "report", "--out", str(tmp_path / "gov"), "--no-pdf", "--site", "West", "--json"])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "radguard.govern-report/1"
    assert set(doc["files"]) == {"governance.html", "assessment-results.json", "poam.json", "poam.csv"}
    assert doc["coverage"]["hipaa"]["answer_evidence"] > 0 and doc["poam"]
    (tmp_path / "file").write_text("x")
    usage_error(radguard(["govern", "report", "--out", str(tmp_path / "file")]))
