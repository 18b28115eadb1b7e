"""``bytes-changed`` (issue 16, item 11): a sealed object whose bytes changed outside its header and
pixels without being re-encoded (same transfer syntax and file meta) is its own finding, medium, not
``transcoded``; real re-encodings stay ``transcoded``. Python API on SQLite, real files."""

from __future__ import annotations

import struct
from pathlib import Path

import pydicom

from radguard.archive import keys
from radguard.archive.audit import audit
from radguard.archive.seal import plant_canaries, seal
from radguard.models import Finding
from radguard.store import open_store
from tests.support.corpus import read, write_tree

#: Data Set Trailing Padding (FFFC,FFFC), 64 bytes, implicit VR little endian (PS3.5 §7.1.3, PS3.10 §7.2)
PADDING = struct.pack("<HHI", 0xFFFC, 0xFFFC, 64) + bytes(64)


def _seal_and_audit(tmp: Path, tree: Path, change: list[Path], canaries: int = 0) -> None:
    """Seal ``tree`` (and ``canaries`` decoys, added to ``change``); the audit is clean."""
    store = open_store(f"sqlite:///{tmp / 'ledger.db'}")
    keys.generate(tmp / "k.pem")
    key = keys.load(tmp / "k.pem")
    seal(store, [str(tree)], key, store.start_run("seal", {}))
    planted = plant_canaries(str(tree / "study0"), canaries) if canaries else []
    if planted:
        seal(store, [str(tree)], key, store.start_run("seal", {}), canaries=frozenset(planted))
    change.extend(Path(p) for p in planted)
    assert _audit(tmp, tree) == [], "clean before the change"


def _by_file(findings: list[Finding]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for f in findings:
        out.setdefault(Path(f.target).name, set()).add((f.rule, f.severity.value))
    return out


def _audit(tmp: Path, tree: Path) -> list[Finding]:
    store = open_store(f"sqlite:///{tmp / 'ledger.db'}")
    run = store.start_run("audit", {})
    return audit(store, [str(tree)], run, trusted_key=keys.trusted_public(tmp / "k.pem")).findings


def test_padding_byte_canary_append_and_preamble_are_bytes_changed_not_transcoded(tmp_path: Path) -> None:
    tree = tmp_path / "arc"
    paths = write_tree(tree, ("rtplan.dcm", "CT_small.dcm", "MR_small.dcm"))
    padded, preamble, _plain = paths
    padded.write_bytes(read(padded.name) + PADDING)  # sealed with its trailing padding
    canaries: list[Path] = []
    _seal_and_audit(tmp_path, tree, canaries, canaries=1)
    data = bytearray(padded.read_bytes())
    data[-10] = 0x90  # one byte of the padding's value
    padded.write_bytes(bytes(data))
    preamble.write_bytes(b"\x4d\x5a" + preamble.read_bytes()[2:])  # "MZ" over the preamble
    canaries[0].write_bytes(canaries[0].read_bytes() + b"\0")  # one byte appended to a decoy
    found = _by_file(_audit(tmp_path, tree))
    assert found[padded.name] == {("bytes-changed", "medium")}
    assert ("bytes-changed", "medium") in found[preamble.name]
    assert {("bytes-changed", "medium"), ("canary-touched", "critical")} <= found[canaries[0].name]
    assert all(rule != "transcoded" for rules in found.values() for rule, _sev in rules)
    ev = next(f.evidence for f in _audit(tmp_path, tree) if Path(f.target) == padded)
    assert ev["size"] == ev["sealed_size"] and ev["transfer_syntax"] == "1.2.840.10008.1.2"


def test_a_real_reencoding_stays_transcoded(tmp_path: Path) -> None:
    tree = tmp_path / "arc"
    (mr,) = write_tree(tree, ("MR_small.dcm",))
    _seal_and_audit(tmp_path, tree, [])
    ds = pydicom.dcmread(mr)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.save_as(mr, enforce_file_format=True)
    assert {(f.rule, f.severity.value) for f in _audit(tmp_path, tree)} == {("transcoded", "info")}
