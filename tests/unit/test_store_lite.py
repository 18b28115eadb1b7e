"""The SQLAlchemy-free read of the runs (radguard.store.lite) gives what the full store gives."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from radguard.store import open_store
from radguard.store.lite import read_runs


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_same_runs_as_the_store(tmp_path: Path) -> None:
    store = open_store(_url(tmp_path))
    try:
        done = store.start_run("seal", {"paths": ["/a"], "rehash": False})
        done.finish({"files": 3, "roots": [{"root": "/a"}]})
        store.start_run("scan", {"targets": ["127.0.0.1"]})  # still running: finished is None
        want = [r.to_dict() for r in store.runs(limit=10)]
        want_seal = [r.to_dict() for r in store.runs(kind="seal", limit=10)]
    finally:
        store.close()
    got = read_runs(_url(tmp_path), limit=10)
    assert got is not None and [r.to_dict() for r in got] == want
    assert want[0]["finished"] is None and want[1]["summary"]["files"] == 3
    got_seal = read_runs(_url(tmp_path), kind="seal", limit=10)
    assert got_seal is not None and [r.to_dict() for r in got_seal] == want_seal
    one = read_runs(_url(tmp_path), limit=1)
    assert one is not None and [r.id for r in one] == [want[0]["id"]]


def test_left_to_the_store_when_it_cannot_read(tmp_path: Path) -> None:
    assert read_runs("postgresql+psycopg://u@127.0.0.1/db") is None
    assert read_runs("sqlite://") is None
    assert read_runs(_url(tmp_path)) is None  # no file yet: open_store creates and migrates it
    open_store(_url(tmp_path)).close()
    with sqlite3.connect(tmp_path / "store.db") as conn:
        conn.execute("DELETE FROM alembic_version WHERE version_num = (SELECT MIN(version_num) FROM alembic_version)")
    assert read_runs(_url(tmp_path)) is None  # a schema to migrate


def test_no_sqlalchemy_import() -> None:
    code = ("import sys, radguard.store, radguard.store.lite, radguard.cli.findings_cmd; "
            "print('sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_same_run_and_findings_as_the_store(tmp_path: Path) -> None:
    from radguard.models import Finding, Severity
    from radguard.store.lite import read_run_findings

    findings = [Finding(rule="r-1", severity=Severity.HIGH, title="t [x]", target="/a/b.dcm",
                        evidence={"n": 3, "tags": ["0010,0010"]}, remediation="fix it", controls=("A.1", "B.2")),
                Finding(rule="r-0", severity=Severity.INFO, title="", target="h:104")]
    store = open_store(_url(tmp_path))
    try:
        first = store.start_run("audit", {"paths": ["/a"]})
        first.add_findings(findings)
        first.finish({"findings": 2})
        other = store.start_run("audit", {"paths": ["/b"]})  # the latest audit, no finding, still running
        scan = store.start_run("scan", {})
        scan.add_findings(findings[1:])
        want = {(rid, kind): (store.get_run(rid) if rid else store.latest_run(kind)) for rid, kind in
                ((first.id, ""), (other.id, ""), (scan.id, ""), (None, "audit"), (None, "scan"))}
        want_findings = {key: store.findings(info.id) for key, info in want.items() if info is not None}
    finally:
        store.close()
    for (rid, kind), info in want.items():
        got = read_run_findings(_url(tmp_path), rid, kind)
        assert got is not None and info is not None
        assert got[0] is not None and got[0].to_dict() == info.to_dict()
        assert got[1] == want_findings[(rid, kind)]
    assert read_run_findings(_url(tmp_path), first.id, "")[1] == findings  # type: ignore[index]
    assert read_run_findings(_url(tmp_path), 999, "") == (None, [])
    assert read_run_findings(_url(tmp_path), None, "pcap") == (None, [])
    assert read_run_findings("postgresql+psycopg://u@127.0.0.1/db", None, "scan") is None


def test_findings_list_and_runs_without_sqlalchemy(tmp_path: Path) -> None:
    open_store(_url(tmp_path)).close()
    code = ("import sys; from radguard.cli.main import main; "
            "codes = [main(['runs', '--json']), main(['findings', 'list', '--kind', 'seal', '--json'])]; "
            "print(codes, 'sqlalchemy' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "RADGUARD_DB": _url(tmp_path)})
    assert proc.stderr.strip().splitlines()[-1] == "[0, 2] False", proc.stderr  # no seal run: exit 2
    assert "no such run: latest seal" in proc.stderr
