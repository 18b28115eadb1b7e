"""Seal / audit / recover through the Python API on SQLite, with exact findings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydicom
import pytest
from sqlalchemy import update

from radguard.archive import keys
from radguard.archive.audit import BurstThresholds, audit
from radguard.archive.ledger import EntryRow, Ledger
from radguard.archive.recover import recover
from radguard.archive.seal import plant_canaries, seal
from radguard.models import Finding, Severity
from radguard.store import Store, open_store
from tests.support.corpus import encrypt, read, write_tree


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    store = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    keys.generate(tmp_path / "k.pem")
    tree = tmp_path / "arc"
    paths = write_tree(tree)
    return {"store": store, "key": keys.load(tmp_path / "k.pem"), "pub": keys.trusted_public(tmp_path / "k.pem"),
            "tree": tree, "paths": paths, "tmp": tmp_path}


def _seal(env: dict[str, Any], *paths: Path, **kw: Any) -> Any:
    store: Store = env["store"]
    run = store.start_run("seal", {})
    return seal(store, [str(p) for p in (paths or (env["tree"],))], env["key"], run, **kw)


def _audit(env: dict[str, Any], **kw: Any) -> list[Finding]:
    store: Store = env["store"]
    run = store.start_run("audit", {})
    summary = audit(store, [str(env["tree"])], run, trusted_key=env["pub"], **kw)
    assert store.findings(run.id) == summary.findings  # written to the store as they came
    return summary.findings


def _rules(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return sorted((f.rule, f.severity.value, os.path.basename(f.target)) for f in findings)


def test_seal_then_audit_is_clean_and_incremental(env: dict[str, Any]) -> None:
    first = _seal(env)
    assert (first.files, first.hashed, first.unchanged, first.errors) == (8, 8, 0, 0)
    assert _audit(env) == []
    again = _seal(env)
    assert (again.hashed, again.unchanged) == (0, 8)
    assert again.roots[0]["merkle_root"] == first.roots[0]["merkle_root"]
    assert (_seal(env, rehash=True).hashed) == 8


def test_header_and_pixel_tampering_named_without_values(env: dict[str, Any]) -> None:
    _seal(env)
    by = {p.name: p for p in env["paths"]}
    ds = pydicom.dcmread(by["CT_small.dcm"])
    ds.PatientName, ds.PatientComments = "SOMEONE^ELSE", "changed"
    ds.save_as(by["CT_small.dcm"])
    ds = pydicom.dcmread(by["rtdose.dcm"])  # 15 frames of 10x10, 32-bit
    arr = ds.pixel_array.copy()
    arr[7, 6:9, 1:3] += 1000
    ds.PixelData = arr.tobytes()
    ds.save_as(by["rtdose.dcm"])
    found = _audit(env)
    assert _rules(found) == [("header-tampered", "high", "CT_small.dcm"), ("pixel-tampered", "critical", "rtdose.dcm")]
    header = next(f for f in found if f.rule == "header-tampered")
    assert header.evidence["changed"] == ["PatientName"] and header.evidence["removed"] == []
    assert header.evidence["added"] == ["PatientComments"]
    assert "SOMEONE" not in repr(found)
    pixel = next(f for f in found if f.rule == "pixel-tampered")
    assert pixel.evidence["frames"] == [7] and pixel.evidence["frames_total"] == 15
    assert pixel.evidence["bounding_boxes"] == [{"frame": 7, "rows": [6, 9], "cols": [1, 3]}]


def test_meta_rewrite_and_lossless_transcode_are_info(env: dict[str, Any]) -> None:
    _seal(env)
    by = {p.name: p for p in env["paths"]}
    ds = pydicom.dcmread(by["MR_small.dcm"])
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.file_meta.ImplementationVersionName = "OTHER_PACS"
    ds.save_as(by["MR_small.dcm"], enforce_file_format=True)
    ds = pydicom.dcmread(by["CT_small.dcm"])
    ds.compress(pydicom.uid.RLELossless, generate_instance_uid=False)
    ds.save_as(by["CT_small.dcm"], enforce_file_format=True)
    found = _audit(env)
    assert _rules(found) == [("transcoded", "info", "CT_small.dcm"), ("transcoded", "info", "MR_small.dcm")]
    assert all(f.evidence["pixels_verified"] for f in found)


def test_missing_unexpected_burst_canary_and_never_sealed(env: dict[str, Any], tmp_path: Path) -> None:
    other = tmp_path / "never"
    write_tree(other, ("CT_small.dcm",))
    run = env["store"].start_run("audit", {})
    assert audit(env["store"], [str(other)], run).findings == []  # never sealed: no missing/unexpected
    _seal(env)
    canaries = plant_canaries(str(env["tree"] / "study0"), 2)
    _seal(env, canaries=frozenset(canaries))
    assert _audit(env) == []
    p0, p1, p2 = env["paths"][:3]
    p0.unlink()
    for p in (p1, p2):
        Path(str(p) + ".akira").write_bytes(encrypt(p.read_bytes()))
        p.unlink()
    Path(canaries[0]).write_bytes(encrypt(Path(canaries[0]).read_bytes()))
    found = _audit(env, burst=BurstThresholds(min_count=4, min_share=0.3, window_s=600))
    assert _rules(found) == sorted([
        ("canary-touched", "critical", os.path.basename(canaries[0])),
        ("not-dicom", "critical", os.path.basename(canaries[0])),
        ("missing", "high", p0.name), ("missing", "high", p1.name), ("missing", "high", p2.name),
        ("not-dicom", "critical", p1.name + ".akira"), ("not-dicom", "critical", p2.name + ".akira"),
        ("unexpected", "medium", p1.name + ".akira"), ("unexpected", "medium", p2.name + ".akira"),
        ("ransomware-burst", "critical", "arc"),
    ])
    burst = next(f for f in found if f.rule == "ransomware-burst")
    assert (burst.evidence["changed"], burst.evidence["sealed"]) == (4, 10)
    assert "ransomware-burst" not in {f.rule for f in _audit(env, burst=BurstThresholds(min_count=5))}


def test_ledger_edits_are_detected(env: dict[str, Any]) -> None:
    _seal(env)
    store: Store = env["store"]
    with store.session() as s:
        s.execute(update(EntryRow).where(EntryRow.path == str(env["paths"][0])).values(file_sha256="0" * 64))
        s.commit()
    found = _audit(env)
    invalid = [f for f in found if f.rule == "ledger-invalid"]
    assert [(f.severity, f.evidence["problems"], f.evidence["entries_modified"]) for f in invalid] == [
        (Severity.CRITICAL, ["entries-modified"], 1)]
    other = keys.generate(env["tmp"] / "other.pem")
    run = store.start_run("audit", {})
    problems = [f.evidence["problems"] for f in audit(store, [str(env["tree"])], run, trusted_key=other).findings
                if f.rule == "ledger-invalid"]
    assert problems == [["entries-modified", "untrusted-key"]]


def test_recover_restores_only_verified_copies(env: dict[str, Any], tmp_path: Path) -> None:
    _seal(env)
    backup = tmp_path / "backup"
    write_tree(backup / "nested")
    tampered = backup / "nested" / "study1" / "rtdose.dcm"
    ds = pydicom.dcmread(tampered)
    ds.PatientName = "ATTACKER^COPY"
    ds.save_as(tampered)
    sealed = {p: p.read_bytes() for p in env["paths"]}
    for p in env["paths"]:
        Path(str(p) + ".locked").write_bytes(encrypt(p.read_bytes()))
        p.unlink()
    (env["tree"] / "HOW_TO_DECRYPT.txt").write_text("your files are encrypted, pay bitcoin to decrypt")
    dry = recover(Ledger(env["store"]), str(env["tree"]), str(backup))
    assert not any(p.exists() for p in env["paths"])
    counts = dry.to_dict()["counts"]
    assert counts == {"restore": 7, "unrecoverable": 1, "move-aside": 9}
    report = recover(Ledger(env["store"]), str(env["tree"]), str(backup), apply=True)
    assert [(os.path.basename(f.target), f.evidence["reason"]) for f in report.findings] == [
        ("rtdose.dcm", "1 backup copies, none matches the sealed SHA-256")]
    for p, data in sealed.items():
        if p.name == "rtdose.dcm":
            assert not p.exists()
        else:
            assert p.read_bytes() == data
    assert report.aside_dir and len(list(Path(report.aside_dir).rglob("*"))) >= 9
    assert _rules(_audit(env)) == [("missing", "high", "rtdose.dcm")]


def test_every_clean_encoding_seals_and_audits_clean(tmp_path: Path) -> None:
    from tests.support.corpus import CLEAN

    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    keys.generate(tmp_path / "k.pem")
    tree = tmp_path / "clean"
    tree.mkdir()
    for name in CLEAN:
        (tree / name).write_bytes(read(name))
    run = store.start_run("seal", {})
    summary = seal(store, [str(tree)], keys.load(tmp_path / "k.pem"), run, workers=2)
    assert (summary.hashed, summary.errors) == (len(CLEAN), 0)
    assert [f for f in summary.findings if f.severity > Severity.INFO] == []
    run = store.start_run("audit", {})
    result = audit(store, [str(tree)], run, workers=2, trusted_key=keys.trusted_public(tmp_path / "k.pem"))
    assert result.findings == [] and result.status == {"ok": len(CLEAN)}


def test_trusted_public_accepts_key_or_pub(tmp_path: Path) -> None:
    pub = keys.generate(tmp_path / "k.pem")
    assert keys.trusted_public(tmp_path / "k.pem") == pub == keys.trusted_public(tmp_path / "k.pem.pub")
    assert keys.trusted_public(tmp_path / "none.pem") is None


def test_sealing_a_parent_subsumes_a_sealed_subfolder(env: dict[str, Any]) -> None:
    _seal(env, env["tree"] / "study1")
    assert _audit(env) == []  # study0 etc. were never sealed under a root: nothing unexpected outside study1
    _seal(env)
    assert Ledger(env["store"]).roots_within(str(env["tree"])) == [str(env["tree"])]
    assert _audit(env) == []
    _seal(env, env["tree"] / "study2")  # a subfolder of a sealed root extends that root
    assert _audit(env) == []


def test_symlink_loops_broken_links_and_fifos_are_results(env: dict[str, Any]) -> None:
    tree: Path = env["tree"]
    (tree / "loop-dir").symlink_to(tree)  # directory symlinks are not followed
    (tree / "self").symlink_to(tree / "self")  # ELOOP
    (tree / "dangling.dcm").symlink_to(tree / "nowhere.dcm")
    os.mkfifo(tree / "fifo")
    (tree / "alias.dcm").symlink_to(env["paths"][0])  # file symlinks are followed
    run = env["store"].start_run("audit", {})
    summary = audit(env["store"], [str(tree)], run, workers=2)
    got = sorted((f.rule, os.path.basename(f.target), f.evidence.get("error")) for f in summary.findings)
    assert got == [("unreadable", "dangling.dcm", "FileNotFoundError"), ("unreadable", "self", "OSError")]
    assert summary.files == 11
