"""The re-seal of an unchanged tree without SQLAlchemy (archive/quick.py, issue 15): it writes what the full
seal writes, and leaves anything else to the full seal before writing a row. Real files, real SQLite stores."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from radguard.archive import delta, keys, quick
from radguard.archive import seal as seal_mod
from radguard.archive.audit import audit
from radguard.archive.run import run_seal
from radguard.archive.tree import iter_files
from radguard.store import open_store
from radguard.store.lite import read_runs
from tests.support.corpus import write_tree


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    db = tmp_path / "ledger.db"
    monkeypatch.setenv("RADGUARD_DB", f"sqlite:///{db}")
    keys.generate(tmp_path / "k.pem")
    tree = tmp_path / "arc"
    paths = write_tree(tree)
    return {"db": db, "key": keys.load(tmp_path / "k.pem"), "pub": keys.trusted_public(tmp_path / "k.pem"),
            "tree": tree, "paths": paths}


def _full(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch, *paths: Path) -> tuple[int, Any]:
    """A seal by the full path (the quick one switched off for it)."""
    with monkeypatch.context() as mp:
        mp.setattr(quick, "reseal_unchanged", lambda *a, **k: None)
        mp.setattr(delta, "reseal", lambda *a, **k: None)
        return run_seal([str(p) for p in paths or (env["tree"],)], env["key"])


def _quick(env: dict[str, Any], *paths: Path) -> tuple[int, quick.SealSummary] | None:
    return quick.reseal_unchanged([str(p) for p in paths or (env["tree"],)], env["key"],
                                  {"paths": [str(p) for p in paths or (env["tree"],)]})


def _rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()
                for t in ("runs", "archive_roots", "archive_entries", "archive_signatures")}


def _signatures(db: Path, run_id: int) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT scope, key, root_hash, leaves, public_key, signature FROM archive_signatures "
                            "WHERE run_id = ? AND scope != 'run' ORDER BY id", (run_id,)).fetchall()


def test_writes_what_the_full_reseal_writes(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _full(env, monkeypatch)
    full_id, full = _full(env, monkeypatch)  # the full path's re-seal of the unchanged tree
    entries = _rows(env["db"])["archive_entries"]
    done = _quick(env)
    assert done is not None
    run_id, summary = done
    assert summary.to_dict() == full.to_dict() and summary.unchanged == len(env["paths"]) > 0
    # the same begin and root records, signature for signature (Ed25519 is deterministic)
    assert _signatures(env["db"], run_id) == _signatures(env["db"], full_id)
    rows = _rows(env["db"])
    assert rows["archive_entries"] == entries  # not one entry written
    assert rows["archive_roots"][0][3] == run_id  # last_run
    store = open_store()
    try:  # SQLAlchemy and the standard-library reader read the run as the full path's
        info = store.get_run(run_id)
        assert info is not None and info.status == "done" and info.kind == "seal"
        assert info.finished is not None and info.finished >= info.started
        assert dict(info.summary) == full.to_dict() | {"roots": summary.roots}
        assert info.params == {"paths": [str(env["tree"])]}
        lite = read_runs(f"sqlite:///{env['db']}", "seal", 1)
        assert lite is not None and lite[0] == info
        findings = audit(store, [str(env["tree"])], store.start_run("audit", {}), trusted_key=env["pub"]).findings
        assert findings == []
        # and the full path takes the quick seal as settled: it signs the same root again
        again_id, again = _full(env, monkeypatch)
        assert again.roots == summary.roots
        assert _signatures(env["db"], again_id) == _signatures(env["db"], run_id)
    finally:
        store.close()


def test_run_seal_takes_it_and_a_subfolder_too(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _full(env, monkeypatch)
    called: list[object] = []
    monkeypatch.setattr(seal_mod, "seal", lambda *a, **k: called.append(a))
    run_id, summary = run_seal([str(env["tree"])], env["key"])
    sub = env["paths"][0].parent
    run_id2, summary2 = run_seal([str(sub)], env["key"])
    assert called == [] and run_id2 == run_id + 1
    assert summary2.files == len([p for p in env["paths"] if p.parent == sub])
    assert summary2.roots == summary.roots  # the root that holds the folder, signed again


def _unchanged_db(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[Any, ...]]]:
    _full(env, monkeypatch)
    return _rows(env["db"])


@pytest.mark.parametrize("change", ["mtime", "size", "new", "gone", "gone-last", "broken-link", "fifo-link"])
def test_any_change_leaves_it_to_the_full_seal(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                               change: str) -> None:
    before = _unchanged_db(env, monkeypatch)
    first, last = sorted(env["paths"])[0], sorted(env["paths"])[-1]
    if change == "mtime":
        st = first.stat()
        os.utime(first, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    elif change == "size":
        with first.open("ab") as fh:
            fh.write(b"\0")
    elif change == "new":
        (first.parent / "zz-new.dcm").write_bytes(first.read_bytes())
    elif change == "gone":
        first.unlink()
    elif change == "gone-last":
        last.unlink()
    elif change == "broken-link":
        (first.parent / "dangling").symlink_to(first.parent / "nowhere")
    else:
        os.mkfifo(env["tree"] / "fifo")
        (env["tree"] / "to-fifo").symlink_to(env["tree"] / "fifo")
    assert _quick(env) is None
    assert _rows(env["db"]) == before  # nothing written
    _run_id, summary = run_seal([str(env["tree"])], env["key"])  # the full seal does the work
    assert summary.hashed + summary.dropped + summary.errors > 0


def test_settled_roots_only(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert _quick(env) is None  # nothing sealed yet
    before = _unchanged_db(env, monkeypatch)
    other = tmp_path / "other.pem"
    keys.generate(other)
    assert quick.reseal_unchanged([str(env["tree"])], keys.load(other), {}) is None  # another key
    with sqlite3.connect(env["db"]) as conn:  # a seal that began and did not finish
        conn.execute("INSERT INTO archive_signatures (run_id, scope, key, root_hash, leaves, public_key, signature, "
                     "created) SELECT run_id, 'begin', key, root_hash, leaves, public_key, signature, created "
                     "FROM archive_signatures WHERE scope = 'root'")
    assert _quick(env) is None
    with sqlite3.connect(env["db"]) as conn:  # a root signature that does not verify
        conn.execute("DELETE FROM archive_signatures WHERE scope = 'begin' AND id = (SELECT max(id) FROM "
                     "archive_signatures)")
        conn.execute("UPDATE archive_signatures SET leaves = leaves + 1 WHERE scope = 'root'")
    assert _quick(env) is None
    with sqlite3.connect(env["db"]) as conn:
        conn.execute("UPDATE archive_signatures SET leaves = leaves - 1 WHERE scope = 'root'")
    assert _quick(env) is not None and _rows(env["db"])["archive_entries"] == before["archive_entries"]
    assert _quick(env, env["tree"], env["tree"]) is None  # the same root twice: the full seal
    assert quick.reseal_unchanged([str(env["tree"])], env["key"], {}, url="sqlite://") is None
    assert quick.reseal_unchanged([str(env["tree"])], env["key"], {},
                                  url="postgresql+psycopg://u@127.0.0.1:1/x") is None


def test_a_seal_that_began_meanwhile_wins(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the walk and the write another seal began on the root: nothing is written."""
    _unchanged_db(env, monkeypatch)
    real = quick._unchanged_files

    def meanwhile(conn: sqlite3.Connection, plan: Any) -> int:
        n = real(conn, plan)
        with sqlite3.connect(env["db"]) as other:
            other.execute("INSERT INTO archive_signatures (run_id, scope, key, root_hash, leaves, public_key, "
                          "signature, created) VALUES (99, 'begin', ?, 'x', 0, 'x', 'x', '2026-01-01 00:00:00')",
                          (plan.root,))
        return n

    monkeypatch.setattr(quick, "_unchanged_files", meanwhile)
    runs = _rows(env["db"])["runs"]
    assert _quick(env) is None
    assert _rows(env["db"])["runs"] == runs


def test_walk_in_path_order_is_the_walk_sorted_by_path(tmp_path: Path) -> None:
    for rel in ("a/x", "a-b", "a.txt", "a0", "a/b/c", "a/b-c", "b/a", "é", "z", "Z", ".radguard-aside"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rel.encode())
    (tmp_path / "link").symlink_to(tmp_path / "z")
    (tmp_path / "dirlink").symlink_to(tmp_path / "a")
    walked = list(quick.walk_in_path_order(str(tmp_path)))
    expected = sorted((i.path, i.size, i.mtime_ns) for i in iter_files(str(tmp_path)))
    assert walked == expected and len(walked) == 11
    with sqlite3.connect(":memory:") as conn:  # SQLite's order of the same text
        conn.execute("CREATE TABLE t (p TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [(w[0],) for w in walked[::-1]])
        assert [r[0] for r in conn.execute("SELECT p FROM t ORDER BY p")] == [w[0] for w in walked]


def test_seal_cli_does_not_load_sqlalchemy_when_nothing_changed(env: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    _full(env, monkeypatch)
    code = ("import sys; from radguard.cli.main import main; rc = main(['seal', sys.argv[1], '--json']); "
            "print('sqlalchemy' in sys.modules, file=sys.stderr); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code, str(env["tree"])], capture_output=True, text=True,
                         env=dict(os.environ, RADGUARD_KEY=str(tmp_path / "k.pem")), check=False)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines()[-1] == "False"
    assert '"hashed": 0' in out.stdout


def test_plain_pkcs8_key_is_the_same_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives import serialization

    keys.generate(tmp_path / "k.pem")
    pem = (tmp_path / "k.pem").read_bytes()
    theirs = serialization.load_pem_private_key(pem, password=None)
    assert keys.public_hex(keys.load(tmp_path / "k.pem")) == keys.public_hex(theirs)
    assert keys._plain_pkcs8(pem.replace(b"PRIVATE KEY-", b"PUBLIC KEY-")) is None
    monkeypatch.setenv("PW", "secret")
    keys.generate(tmp_path / "e.pem", passphrase_env="PW")
    assert keys._plain_pkcs8((tmp_path / "e.pem").read_bytes()) is None
    assert keys.public_hex(keys.load(tmp_path / "e.pem", passphrase_env="PW")) == \
        (tmp_path / "e.pem.pub").read_text().strip()
    with pytest.raises(Exception, match="cannot load"):  # a passphrase for a plain key: refused as before
        keys.load(tmp_path / "k.pem", passphrase_env="PW")


def test_a_folder_seal_leaves_a_sibling_differing_in_case_alone(env: dict[str, Any],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's LIKE ignores ASCII case: sealing arc/sub dropped the entries of arc/SUB (full path)."""
    sub, other = env["tree"] / "sub", env["tree"] / "SUB"
    for d, src in ((sub, env["paths"][0]), (other, env["paths"][1])):
        d.mkdir()
        (d / "x.dcm").write_bytes(src.read_bytes())
    _full(env, monkeypatch)
    entries = _rows(env["db"])["archive_entries"]
    _id, full = _full(env, monkeypatch, sub)
    assert (full.files, full.dropped) == (1, 0)
    done = _quick(env, sub)
    assert done is not None and done[1].files == 1
    assert _rows(env["db"])["archive_entries"] == entries
