"""The SQLAlchemy-free read of the runs (radguard.store.lite) gives what the full store gives."""

from __future__ import annotations

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
