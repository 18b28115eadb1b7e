"""The re-seal of a few changed files without SQLAlchemy (archive/delta.py, issue 15): the same ledger as the
full seal (entries and their ids, roots, signatures, run summary, findings), or nothing written. Real files,
real SQLite stores, real workers."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from radguard.archive import delta, keys, quick, tables
from radguard.archive import seal as seal_mod
from radguard.archive.audit import audit
from radguard.archive.merkle import MerkleBuilder, fold, hex_leaf_nodes, tree_root
from radguard.archive.run import run_seal
from radguard.archive.tree import iter_files
from radguard.store import open_store
from tests.support.corpus import PE_STUB, read, with_preamble, write_tree

CHANGES = ["touch", "content", "threat", "new", "new-nested", "gone", "gone-dir", "mixed", "many"]


def _change(tree: Path, paths: list[Path], change: str) -> None:
    first, last = sorted(paths)[0], sorted(paths)[-1]
    if change == "touch":
        st = first.stat()
        os.utime(first, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    elif change == "content":
        first.write_bytes(read("MR_small.dcm"))
    elif change == "threat":  # a change the checks report (findings recorded as the full seal does)
        last.write_bytes(with_preamble("CT_small.dcm", PE_STUB))
    elif change == "new":
        (first.parent / "zz-new.dcm").write_bytes(read("CT_small.dcm"))
    elif change == "new-nested":  # iter_files order (a folder's files before its subfolders) != path order
        (tree / "study1" / "a").mkdir()
        (tree / "study1" / "a" / "x.dcm").write_bytes(read("rtplan.dcm"))
        (tree / "study1" / "z.dcm").write_bytes(read("CT_small.dcm"))
        (tree / "0-top.dcm").write_bytes(read("MR_small.dcm"))
    elif change == "gone":
        first.unlink()
    elif change == "gone-dir":
        shutil.rmtree(last.parent)
    elif change == "mixed":
        _change(tree, paths, "content")
        _change(tree, paths, "gone-dir")
        _change(tree, paths, "new-nested")
    else:  # enough files for the worker pool
        for i in range(12):
            (tree / "many" / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
            (tree / "many" / f"d{i % 3}" / f"f{i:02d}.dcm").write_bytes(read(("CT_small.dcm", "MR_small.dcm")[i % 2]))
        _change(tree, paths, "touch")


def _ledger(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a seal writes, but the wall-clock timestamps."""
    drop = {"sealed_at", "created", "started", "finished"}
    out = {}
    with sqlite3.connect(db) as conn:
        for t in ("runs", "archive_roots", "archive_entries", "archive_signatures", "findings"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({t})") if r[1] not in drop]
            out[t] = conn.execute(f"SELECT {', '.join(cols)} FROM {t} ORDER BY id").fetchall()
    out["runs"] = [(*r[:3], json.loads(r[3]), json.loads(r[4])) for r in out["runs"]]
    return out


@pytest.fixture
def two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """One tree sealed by the full path into two stores."""
    keys.generate(tmp_path / "k.pem")
    tree = tmp_path / "arc"
    paths = write_tree(tree)
    key = keys.load(tmp_path / "k.pem")
    for name in ("full", "delta"):
        monkeypatch.setenv("RADGUARD_DB", f"sqlite:///{tmp_path / name}.db")
        run_seal([str(tree)], key)
    return {"tree": tree, "paths": paths, "key": key, "tmp": tmp_path, "pub": keys.trusted_public(tmp_path / "k.pem")}


def _both(two: dict[str, Any], monkeypatch: pytest.MonkeyPatch, workers: int = 1) -> tuple[Any, Any]:
    """The re-seal by the full path into one store and by archive/delta.py into the other."""
    tmp = two["tmp"]
    with monkeypatch.context() as mp:
        mp.setenv("RADGUARD_DB", f"sqlite:///{tmp / 'full'}.db")
        mp.setattr(delta, "reseal", lambda *a, **k: None)
        full = run_seal([str(two["tree"])], two["key"], workers=workers)
    with monkeypatch.context() as mp:
        mp.setenv("RADGUARD_DB", f"sqlite:///{tmp / 'delta'}.db")
        mp.setattr(seal_mod, "seal", lambda *a, **k: pytest.fail("the full seal ran"))
        quick_one = run_seal([str(two["tree"])], two["key"], workers=workers)
    return full, quick_one


@pytest.mark.parametrize("change", CHANGES)
def test_writes_what_the_full_seal_writes(two: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                          change: str) -> None:
    _change(two["tree"], two["paths"], change)
    if change == "many":
        monkeypatch.setattr(delta, "IN_PROCESS", 4)  # the pool, in batches of 4
    (full_id, full), (run_id, summary) = _both(two, monkeypatch, workers=2)
    assert run_id == full_id
    assert summary.to_dict() == full.to_dict()
    assert summary.hashed + summary.dropped > 0
    assert summary.findings == full.findings
    assert (len(full.findings) > 0) == (change == "threat")
    tmp = two["tmp"]
    assert _ledger(tmp / "delta.db") == _ledger(tmp / "full.db")
    monkeypatch.setenv("RADGUARD_DB", f"sqlite:///{tmp / 'delta'}.db")
    store = open_store()
    try:  # the ledger audits as the full path's: no ledger finding, the threat only
        found = audit(store, [str(two["tree"])], store.start_run("audit", {}), trusted_key=two["pub"]).findings
        assert {f.rule for f in found} <= {f.rule for f in full.findings}
    finally:
        store.close()
    # and nothing changed since: the unchanged re-seal signs the new root again
    done = quick.reseal_unchanged([str(two["tree"])], two["key"], {})
    assert done is not None and done[1].roots == summary.roots


def test_a_subfolder_and_two_roots(two: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    other = two["tmp"] / "other"
    write_tree(other, ("CT_small.dcm", "MR_small.dcm"))
    for name in ("full", "delta"):
        monkeypatch.setenv("RADGUARD_DB", f"sqlite:///{two['tmp'] / name}.db")
        run_seal([str(other)], two["key"])
    _change(two["tree"], two["paths"], "content")
    (other / "study0" / "CT_small.dcm").unlink()
    sub = two["paths"][0].parent
    for paths in ([sub], [two["tree"], other]):
        for name, off in (("full", delta), ("delta", seal_mod)):
            with monkeypatch.context() as mp:
                mp.setenv("RADGUARD_DB", f"sqlite:///{two['tmp'] / name}.db")
                mp.setattr(off, "reseal" if off is delta else "seal", lambda *a, **k: None)
                run_seal([str(p) for p in paths], two["key"])
        assert _ledger(two["tmp"] / "delta.db") == _ledger(two["tmp"] / "full.db")


def test_left_to_the_full_seal(two: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Too many changes, an unreadable file, a changed canary: nothing written, the full seal's work."""
    monkeypatch.setenv("RADGUARD_DB", f"sqlite:///{two['tmp'] / 'delta'}.db")
    before = _ledger(two["tmp"] / "delta.db")

    def none() -> None:
        assert delta.reseal([str(two["tree"])], two["key"], {}) is None
        assert _ledger(two["tmp"] / "delta.db") == before

    _change(two["tree"], two["paths"], "new-nested")
    monkeypatch.setattr(delta, "MAX_CHANGES", 2)
    none()
    monkeypatch.setattr(delta, "MAX_CHANGES", 3)
    assert delta.reseal([str(two["tree"])], two["key"], {}) is not None
    before = _ledger(two["tmp"] / "delta.db")
    unreadable = two["tree"] / "study0" / "locked.dcm"
    unreadable.write_bytes(b"x")
    unreadable.chmod(0)
    if os.access(unreadable, os.R_OK):  # root reads anything
        unreadable.unlink()
    else:
        none()
        unreadable.unlink()
    with sqlite3.connect(two["tmp"] / "delta.db") as conn:
        conn.execute("UPDATE archive_entries SET canary = 1 WHERE path = ?", (str(two["paths"][0]),))
    before = _ledger(two["tmp"] / "delta.db")
    _change(two["tree"], two["paths"], "content")
    none()


def test_walk_order_is_iter_files_order(tmp_path: Path) -> None:
    for rel in ("a/x", "a-b", "a.txt", "a0", "a/b/c", "a/b-c", "b/a", "é", "z", "Z", "a/b/d/e", "a/c"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rel.encode())
    walked = [i.path for i in iter_files(str(tmp_path))]
    assert sorted(walked, key=lambda p: delta.walk_order(str(tmp_path), p)) == walked
    assert sorted(walked) != walked


def test_tree_root_is_the_streamed_root() -> None:
    for n in (*range(70), 1000, 1025):
        leaves = [bytes([i % 251, i // 251]) * 16 for i in range(n)]
        m = MerkleBuilder()
        for leaf in leaves:
            m.add(leaf)
        assert tree_root(leaves) == m.root() == fold(hex_leaf_nodes(leaf.hex() for leaf in leaves)), n


def test_entry_columns_are_the_tables() -> None:
    assert set(delta.ENTRY_COLUMNS) == set(tables._INSERT_COLUMNS)


def test_seal_cli_does_not_load_sqlalchemy_when_one_file_changed(two: dict[str, Any]) -> None:
    _change(two["tree"], two["paths"], "content")
    code = ("import sys; from radguard.cli.main import main; rc = main(['seal', sys.argv[1], '--json']); "
            "print('sqlalchemy' in sys.modules, file=sys.stderr); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code, str(two["tree"])], capture_output=True, text=True,
                         env=dict(os.environ, RADGUARD_KEY=str(two["tmp"] / "k.pem"),
                                  RADGUARD_DB=f"sqlite:///{two['tmp'] / 'delta'}.db"), check=False)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1] == "False"
    assert '"hashed": 1' in out.stdout


def test_a_seal_that_began_meanwhile_wins(two: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the walk and the write another seal began on the root: nothing is written."""
    db = two["tmp"] / "delta.db"
    monkeypatch.setenv("RADGUARD_DB", f"sqlite:///{db}")
    _change(two["tree"], two["paths"], "content")
    real = delta._hash

    def meanwhile(deltas: list[Any], workers: int, decode_pixels: bool) -> None:
        real(deltas, workers, decode_pixels)
        with sqlite3.connect(db) as other:
            other.execute("INSERT INTO archive_signatures (run_id, scope, key, root_hash, leaves, public_key, "
                          "signature, created) VALUES (99, 'begin', ?, 'x', 0, 'x', 'x', '2026-01-01 00:00:00')",
                          (deltas[0].plan.root,))

    monkeypatch.setattr(delta, "_hash", meanwhile)
    before = _ledger(db)
    assert delta.reseal([str(two["tree"])], two["key"], {}) is None
    after = _ledger(db)
    assert after["archive_signatures"][:-1] == before["archive_signatures"]
    assert {t: v for t, v in after.items() if t != "archive_signatures"} == \
        {t: v for t, v in before.items() if t != "archive_signatures"}
