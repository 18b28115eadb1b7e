"""``radguard report`` as a user runs it: real store, real WeasyPrint, the CLI contract."""

from __future__ import annotations

import json
from pathlib import Path

from radguard.models import Finding, Severity
from radguard.store import open_store
from tests.e2e.cli import radguard


def test_report_from_a_store_with_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    store = open_store(url)
    run = store.start_run("scan", {})
    run.add_findings([Finding(rule="dicom-any-called-ae", severity=Severity.HIGH, title="Any called AE accepted",
                              target="127.0.0.1:104", evidence={}, remediation="Set the AE title",
                              controls=("hipaa:164.312(a)(1)",))])
    run.finish()
    store.close()
    out = tmp_path / "out"
    proc = radguard(["report", "--out", str(out), "--json", "--no-pdf"], env={"RADGUARD_DB": url})
    assert proc.returncode == 1, proc.stderr  # a high finding is open and --fail-on defaults to high
    data = json.loads(proc.stdout)
    assert data["schema"] == "radguard.report/1"
    assert data["open"]["high"] == 1 and data["pdf"] is None
    assert Path(data["html"]).is_file() and not (out / "report.pdf").exists()
    proc = radguard(["report", "--out", str(out), "--fail-on", "critical"], env={"RADGUARD_DB": url})
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert proc.stdout == "" and "report.html" in proc.stderr


def test_report_bad_output_and_store_are_one_line_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for args, env in ((["report", "--out", str(blocker)], {"RADGUARD_DB": url}),
                      (["report", "--out", str(tmp_path / "o")], {"RADGUARD_DB": "postgresql://nobody@127.0.0.1:1/x"})):
        proc = radguard(args, env=env)
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("radguard: error:") and "Traceback" not in proc.stderr
