"""Foundation: models, store (SQLite), CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from radguard.catalog import frameworks, is_known
from radguard.cli.main import main
from radguard.models import Finding, Severity
from radguard.report.diff import diff_findings
from radguard.report.sarif import to_sarif
from radguard.store import open_store


def _f(rule: str, sev: Severity = Severity.HIGH, target: str = "127.0.0.1:104") -> Finding:
    return Finding(rule=rule, severity=sev, title=rule, target=target, remediation="fix it",
                   controls=("hipaa:164.312(e)(1)",))


def test_severity_order_and_parse() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.INFO
    assert Severity.parse("HIGH") is Severity.HIGH
    with pytest.raises(ValueError):
        Severity.parse("bad")


def test_finding_roundtrip() -> None:
    f = _f("dicom-cleartext")
    assert Finding.from_dict(f.to_dict()) == f
    assert f.to_dict()["severity"] == "high"


def test_store_roundtrip_and_diff(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    a = store.start_run("scan", {"targets": ["127.0.0.1"]})
    a.add_findings([_f("a"), _f("b")])
    a.finish({"n": 2})
    b = store.start_run("scan")
    b.add_findings([_f("b", Severity.LOW), _f("c")])
    b.finish()
    assert [f.rule for f in store.findings(a.id)] == ["a", "b"]
    d = diff_findings(store.findings(a.id), store.findings(b.id))
    assert [f.rule for f in d.new] == ["c"]
    assert [f.rule for f in d.fixed] == ["a"]
    assert [(x.severity, y.severity) for x, y in d.changed_severity] == [(Severity.HIGH, Severity.LOW)]
    # reopening is idempotent (migrations already at head)
    store.close()
    again = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    assert again.get_run(a.id) is not None and again.get_run(a.id).summary == {"n": 2}  # type: ignore[union-attr]


def test_sarif_shape() -> None:
    doc = to_sarif([_f("a"), _f("a", target="/tmp/x.dcm"), _f("b", Severity.INFO)])
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["a", "b"]
    assert [r["level"] for r in run["results"]] == ["error", "error", "note"]
    assert run["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "/tmp/x.dcm"


def test_cli_findings_json_and_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RADGUARD_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    store = open_store()
    r1 = store.start_run("scan")
    r1.add_findings([_f("a", Severity.MEDIUM)])
    r1.finish()
    r2 = store.start_run("scan")
    r2.add_findings([_f("a", Severity.MEDIUM), _f("z", Severity.CRITICAL)])
    r2.finish()
    capsys.readouterr()
    assert main(["findings", "list", str(r1.id), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "radguard.findings/1"
    assert doc["findings"][0]["rule"] == "a"
    assert main(["findings", "list", str(r1.id), "--json", "--fail-on", "medium"]) == 1
    capsys.readouterr()
    assert main(["findings", "diff", str(r1.id), str(r2.id), "--json"]) == 1
    diff = json.loads(capsys.readouterr().out)
    assert [f["rule"] for f in diff["new"]] == ["z"]
    sarif = tmp_path / "out.sarif"
    main(["findings", "list", str(r2.id), "--sarif", str(sarif)])
    assert json.loads(sarif.read_text())["runs"][0]["results"][1]["ruleId"] == "z"
    # errors are one line, exit 2, no traceback
    assert main(["findings", "list", "999"]) == 2
    err = capsys.readouterr().err
    assert "no such run" in err and "Traceback" not in err
    assert main(["findings", "list", "--fail-on", "bogus"]) == 2


def test_unreachable_store_is_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RADGUARD_DB", "postgresql://nobody:secret@127.0.0.1:1/none")
    assert main(["runs"]) == 2
    err = capsys.readouterr().err
    assert "cannot open store" in err and "secret" not in err


def test_help_is_fast_and_lean() -> None:
    heavy = "('pydicom', 'sqlalchemy', 'numpy', 'pynetdicom')"
    code = f"import sys, radguard.cli.main; print(','.join(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"heavy modules imported at start-up: {out}"


def test_catalog_frameworks_present() -> None:
    assert {"hipaa", "csf"} <= set(frameworks())
    assert is_known("hipaa:164.312(e)(1)")
    assert is_known("csf:PR.DS-02")
    assert not is_known("hipaa:999.999")


def test_fast_head_check_agrees_with_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from radguard.store.api import _MIGRATIONS, _script_heads

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    assert set(_script_heads()) == set(ScriptDirectory.from_config(cfg).get_heads())
