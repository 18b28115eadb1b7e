"""``radguard audit`` reads every file exactly once (issue 10): the worker compares in place.

Every open of a file under the audited tree, by any process (the workers are forked, so they inherit
the counting ``os.open``/``open``), is written to a log; after the audit of a tree with clean,
tampered, transcoded, replaced (encrypted), missing, unexpected and canary files each existing file
appears exactly once, whatever the number of workers and whether files are memory-mapped.
"""

from __future__ import annotations

import builtins
import io
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

from radguard.archive import keys
from radguard.archive.audit import audit
from radguard.archive.seal import plant_canaries, seal
from radguard.inspect import obj
from radguard.models import Finding
from radguard.store import open_store
from tests.support.corpus import encrypt, read, write_tree


@pytest.fixture
def opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Counter[str]]]:
    """Count opens of files under ``tmp_path / "arc"`` from now on, in this process and forked ones."""
    prefix = str(tmp_path / "arc") + os.sep
    log = tmp_path / "opens.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    real_os_open, real_open = os.open, builtins.open

    def note(path: Any) -> None:
        if isinstance(path, str | bytes | os.PathLike):
            name = os.fsdecode(path)
            if name.startswith(prefix):
                os.write(fd, (name + "\n").encode())  # one O_APPEND write per open: atomic across processes

    def os_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        note(path)
        return real_os_open(path, flags, mode, dir_fd=dir_fd)

    def py_open(file: Any, *args: Any, **kw: Any) -> Any:
        note(file)
        return real_open(file, *args, **kw)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", py_open)
    monkeypatch.setattr(io, "open", py_open)

    def counted() -> Counter[str]:
        with real_open(log) as fh:
            return Counter(fh.read().splitlines())

    yield counted
    os.close(fd)


def _build(tmp_path: Path) -> tuple[Path, list[Path], set[str]]:
    """A sealed tree, then changed: returns (tree, existing files, expected rules)."""
    tree = tmp_path / "arc"
    paths = write_tree(tree)
    canaries = plant_canaries(str(tree / "study0"), 2)
    store = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    keys.generate(tmp_path / "k.pem")
    seal(store, [str(tree)], keys.load(tmp_path / "k.pem"), store.start_run("seal", {}),
         canaries=frozenset(canaries))
    by = {p.name: p for p in paths}
    ds = pydicom.dcmread(by["CT_small.dcm"])
    ds.PatientName = "SOMEONE^ELSE"
    ds.save_as(by["CT_small.dcm"])  # header-tampered
    ds = pydicom.dcmread(by["MR_small.dcm"])
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    ds.save_as(by["MR_small.dcm"], enforce_file_format=True)  # transcoded
    by["rtplan.dcm"].write_bytes(encrypt(by["rtplan.dcm"].read_bytes()))  # replaced: not-dicom
    by["test-SR.dcm"].unlink()  # missing
    (tree / "study0" / "extra.dcm").write_bytes(read("MR_small_implicit.dcm"))  # unexpected
    (tree / "study1" / "notes.txt").write_text("not an image")  # unexpected, not DICOM
    Path(canaries[1]).write_bytes(Path(canaries[1]).read_bytes() + b"\0\0")  # canary-touched, bytes-changed
    existing = sorted(p for p in tree.rglob("*") if p.is_file())
    expected = {"header-tampered", "transcoded", "not-dicom", "missing", "unexpected", "canary-touched",
                "trailing-data", "bytes-changed"}
    return tree, existing, expected


@pytest.mark.parametrize(("workers", "mapped"), [(1, False), (2, False), (1, True), (2, True)])
def test_audit_opens_every_file_exactly_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             opens: Callable[[], Counter[str]], workers: int, mapped: bool) -> None:
    if mapped:  # every file memory-mapped (and unmapped) by the seal and audit workers
        monkeypatch.setattr(obj, "MMAP_THRESHOLD", 1)
    tree, existing, expected = _build(tmp_path)
    before = opens()
    store = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    summary = audit(store, [str(tree)], store.start_run("audit", {}), workers=workers,
                    trusted_key=keys.trusted_public(tmp_path / "k.pem"))
    assert opens() - before == Counter({str(p): 1 for p in existing})
    assert {f.rule for f in summary.findings} == expected
    assert all(type(f) is Finding for f in summary.findings)
    assert summary.status == {"ok": 5, "tampered": 2, "transcoded": 1, "replaced": 1, "new": 2}
    assert (summary.missing, summary.unexpected) == (1, 2)
