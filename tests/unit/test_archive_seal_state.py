"""An unfinished seal is a state audit reports, not tampering; a completed seal's missing or wrong
signature stays critical (issue 16, item 4). Python API and CLI on SQLite, a real seal interrupted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update

from radguard.archive import keys
from radguard.archive import seal as seal_mod
from radguard.archive.ledger import BEGIN, EntryRow, SignatureRow, signed_message
from radguard.archive.run import run_seal
from radguard.cli.main import main
from radguard.store import open_store
from radguard.store.schema import Run
from tests.support.corpus import write_tree


class _Interrupted(Exception):
    """Stands for the kill: raised from the progress callback in the middle of the walk."""


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


@pytest.fixture
def arc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RADGUARD_KEY", str(tmp_path / "k.pem"))
    assert main(["keygen"]) == 0
    tree = tmp_path / "arc"
    write_tree(tree)
    return tree


def _interrupted_seal(arc: Path, after: int = 2, rehash: bool = False) -> None:
    """A seal that commits every 2-file batch and dies after ``after`` of them (run marked failed)."""
    done = []

    def progress(n: int) -> None:
        done.append(n)
        if len(done) > after:
            raise _Interrupted

    key = keys.load(keys.default_key_path())
    with pytest.MonkeyPatch.context() as mp, pytest.raises(_Interrupted):
        mp.setattr(seal_mod, "BATCH", 2)
        mp.setattr(seal_mod, "COMMIT_EVERY", 1)
        run_seal([str(arc)], key, progress=progress, rehash=rehash)


def _entries() -> int:
    store = open_store()
    try:
        with store.session() as s:
            return s.query(EntryRow).count()
    finally:
        store.close()


def test_interrupted_first_seal_is_reported_as_incomplete_not_tampering(
        arc: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _interrupted_seal(arc)
    committed = _entries()
    assert 0 < committed < 8
    capsys.readouterr()
    assert main(["audit", str(arc), "--json", "--fail-on", "info"]) == 0
    doc = _json(capsys)
    assert doc["findings"] == []  # no ledger-invalid, no unexpected
    state = {"kind": "seal-incomplete", "root": str(arc), "files": 8, "committed": committed}
    assert [{k: e[k] for k in state} for e in doc["errors"]] == [state]
    assert doc["summary"]["seal_incomplete"] == doc["errors"]
    assert doc["summary"]["unexpected"] == 0
    assert main(["audit", str(arc)]) == 0
    err = capsys.readouterr().err
    assert f"seal incomplete: {committed} of 8 files committed under {arc}" in err
    assert "run `radguard seal" in err
    # tampering inside the unfinished part of the ledger is still found, and still critical
    store = open_store()
    with store.session() as s:
        first = s.query(EntryRow).order_by(EntryRow.id).first()
        assert first is not None
        s.execute(update(EntryRow).where(EntryRow.id == first.id).values(file_sha256="0" * 64))
        s.commit()
    store.close()
    assert main(["audit", str(arc), "--json"]) == 1
    doc = _json(capsys)
    assert [(f["rule"], f["severity"], f["evidence"]["problems"]) for f in doc["findings"]
            if f["rule"] == "ledger-invalid"] == [("ledger-invalid", "critical", ["entries-modified"])]
    # sealing again finishes the job: clean, no state
    assert main(["seal", str(arc), "--json", "--rehash"]) == 0
    capsys.readouterr()
    assert main(["audit", str(arc), "--json", "--fail-on", "info"]) == 0
    doc = _json(capsys)
    assert doc["findings"] == [] and doc["errors"] == []
    assert doc["summary"]["status"] == {"ok": 8}


def test_interrupted_reseal_keeps_missing_and_is_incomplete(
        arc: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seal", str(arc), "--json"]) == 0
    gone = next(arc.rglob("*.dcm"))
    gone.unlink()
    (arc / "study9").mkdir()
    (arc / "study9" / "new.txt").write_bytes(b"new file")
    _interrupted_seal(arc, after=1, rehash=True)
    capsys.readouterr()
    assert main(["audit", str(arc), "--json"]) == 1
    doc = _json(capsys)
    found = sorted((f["rule"], f["target"]) for f in doc["findings"])
    assert found == [("missing", str(gone)), ("not-dicom", str(arc / "study9" / "new.txt"))]  # not unexpected
    assert [e["kind"] for e in doc["errors"]] == ["seal-incomplete"]


def test_completed_seal_without_or_with_a_wrong_signature_stays_critical(
        arc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seal", str(arc), "--json"]) == 0
    capsys.readouterr()
    store = open_store()
    with store.session() as s:
        s.execute(update(SignatureRow).where(SignatureRow.scope == "root").values(signature="00" * 64))
        s.commit()
    assert main(["audit", str(arc), "--json"]) == 1
    doc = _json(capsys)
    assert [(f["rule"], f["severity"], f["evidence"]["problems"]) for f in doc["findings"]] == [
        ("ledger-invalid", "critical", ["bad-signature"])]
    assert doc["errors"] == []
    # the root signature removed after a completed seal: its (valid) begin record is then the latest,
    # but its run is done, so this is a removed signature, not an unfinished seal
    with store.session() as s:
        s.execute(delete(SignatureRow).where(SignatureRow.scope == "root"))
        s.commit()
    assert main(["audit", str(arc), "--json"]) == 1
    doc = _json(capsys)
    assert [(f["rule"], f["severity"], f["evidence"]["problems"]) for f in doc["findings"]] == [
        ("ledger-invalid", "critical", ["no-signature"])]
    assert doc["errors"] == []
    # ... nor does marking the run unfinished help without the key: a forged begin record is not one
    keys.generate(arc.parent / "other.pem")
    other = keys.load(arc.parent / "other.pem")
    with store.session() as s:
        s.execute(update(Run).values(status="failed"))
        begin = s.query(SignatureRow).filter(SignatureRow.scope == BEGIN).one()
        s.execute(update(SignatureRow).where(SignatureRow.id == begin.id).values(
            public_key=keys.public_hex(other),
            signature=keys.sign(other, signed_message(BEGIN, str(arc), begin.root_hash, begin.leaves))))
        s.commit()
    store.close()
    assert main(["audit", str(arc), "--json"]) == 1  # the trusted key is the keygen one (RADGUARD_KEY)
    doc = _json(capsys)
    assert [f["evidence"]["problems"] for f in doc["findings"]] == [["no-signature"]]
    assert doc["errors"] == []
