"""A re-seal with nothing changed writes no entry and signs the settled Merkle root again without reading
the leaves; anything else (a change, a file gone, an unfinished seal before, an edited ledger) is not
taken for "nothing changed" (issue 15). Python API on SQLite with real files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from radguard.archive import keys
from radguard.archive import seal as seal_mod
from radguard.archive.audit import audit
from radguard.archive.ledger import EntryRow, Ledger, SignatureRow, leaf_of
from radguard.archive.tree import PathSet
from radguard.store import Store, open_store
from tests.support.corpus import write_tree


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    keys.generate(tmp_path / "k.pem")
    tree = tmp_path / "arc"
    return {"store": open_store(f"sqlite:///{tmp_path / 'ledger.db'}"), "key": keys.load(tmp_path / "k.pem"),
            "pub": keys.trusted_public(tmp_path / "k.pem"), "tree": tree, "paths": write_tree(tree)}


def _seal(env: dict[str, Any]) -> Any:
    store: Store = env["store"]
    return seal_mod.seal(store, [str(env["tree"])], env["key"], store.start_run("seal", {}))


def _entries(env: dict[str, Any]) -> list[tuple[Any, ...]]:
    with env["store"].session() as s:
        return [tuple(r) for r in s.execute(select(EntryRow.id, EntryRow.path, EntryRow.leaf, EntryRow.seen_run,
                                                   EntryRow.sealed_at).order_by(EntryRow.id))]


def _audit_rules(env: dict[str, Any]) -> list[str]:
    store: Store = env["store"]
    return sorted(f.rule for f in audit(store, [str(env["tree"])], store.start_run("audit", {}),
                                        trusted_key=env["pub"]).findings)


def _read_leaves(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each root whose leaves are read."""
    calls: list[str] = []
    real = Ledger._root_leaves

    def spy(self: Ledger, root: str) -> Any:
        calls.append(root)
        return real(self, root)

    monkeypatch.setattr(Ledger, "_root_leaves", spy)
    return calls


def test_nothing_changed_writes_nothing_and_signs_the_same_root(env: dict[str, Any],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    first = _seal(env)
    before = _entries(env)
    read = _read_leaves(monkeypatch)
    again = _seal(env)
    assert (again.hashed, again.unchanged, again.dropped) == (0, 8, 0)
    assert again.roots == first.roots and read == []
    assert _entries(env) == before  # not one row rewritten
    with env["store"].session() as s:
        sigs = list(s.scalars(select(SignatureRow).where(SignatureRow.scope == "root")))
    assert len(sigs) == 2 and sigs[1].root_hash == sigs[0].root_hash and sigs[1].run_id != sigs[0].run_id
    assert _audit_rules(env) == []


def test_a_change_or_a_file_gone_reads_the_leaves(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    first = _seal(env)
    read = _read_leaves(monkeypatch)
    env["paths"][0].unlink()
    gone = _seal(env)
    assert (gone.dropped, gone.roots[0]["objects"]) == (1, 7) and len(read) == 1
    assert gone.roots[0]["merkle_root"] != first.roots[0]["merkle_root"]
    p = env["paths"][1]
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))  # touched: hashed again
    changed = _seal(env)
    assert (changed.hashed, changed.dropped, len(read)) == (1, 0, 2)
    assert _audit_rules(env) == []


def test_after_an_unfinished_seal_the_leaves_are_read(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _seal(env)
    ledger = Ledger(env["store"])
    ledger.ensure_root(str(env["tree"]), 999, env["key"])  # a seal that began and never signed the root
    read = _read_leaves(monkeypatch)
    _seal(env)
    assert read == [str(env["tree"])]
    assert _audit_rules(env) == []


def test_an_edited_ledger_is_not_signed_again(env: dict[str, Any]) -> None:
    """An entry rewritten in the store, leaf and all, between two seals: the re-seal signs the root of
    the last seal again (the edit stays visible), not a root recomputed from the edited leaves."""
    _seal(env)
    store: Store = env["store"]
    target = str(env["paths"][2])
    with store.session() as s:
        row = s.scalars(select(EntryRow).where(EntryRow.path == target)).one()
        fields = {k: getattr(row, k) for k in ("path", "size", "mtime_ns", "dicom", "sop_instance_uid",
                                               "series_uid", "study_uid", "sop_class_uid", "transfer_syntax",
                                               "meta_sha256", "header_sha256", "pixel_sha256",
                                               "pixel_canonical_sha256", "canary")}
        fields["file_sha256"] = "0" * 64
        s.execute(update(EntryRow).where(EntryRow.path == target).values(file_sha256="0" * 64,
                                                                           leaf=leaf_of(fields)))
        s.commit()
    _seal(env)
    assert "ledger-invalid" in _audit_rules(env)


def test_path_set() -> None:
    seen = PathSet()
    for p in ("/a/1", "/a/2", "/b/é"):
        seen.add(p)
    assert len(seen) == 3 and "/a/2" in seen and "/b/é" in seen and "/a/3" not in seen and 7 not in seen
    seen.add("/a/3")
    assert "/a/3" in seen


def test_no_automatic_checkpoint_while_the_entries_are_written(env: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    store: Store = env["store"]

    def autocheckpoint() -> int:
        with store.session() as s:
            return int(s.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())

    during: list[int] = []
    real = Ledger.write_batch

    def spy(self: Ledger, *args: Any, **kw: Any) -> int:
        during.append(autocheckpoint())
        return real(self, *args, **kw)

    monkeypatch.setattr(Ledger, "write_batch", spy)
    assert _seal(env).hashed == 8
    assert during and set(during) == {0}
    assert autocheckpoint() == 1000  # restored, the log checkpointed
    assert _audit_rules(env) == []
