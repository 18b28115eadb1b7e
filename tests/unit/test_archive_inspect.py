"""The stateless inspection API (``radguard.inspect.api``) on clean files, the corpus on disk, bare data sets
and mutated files. Each check has its own file with its corpus cases: tests/unit/test_check_<name>.py."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from radguard.archive.merkle import MerkleBuilder
from radguard.dicom.dataset import IssueKind
from radguard.dicom.part10 import parse
from radguard.inspect.api import inspect_bytes, inspect_dataset, inspect_path
from radguard.inspect.magic import ContentKind, classify
from radguard.models import Severity
from tests.support.corpus import CLEAN, read, write_threats


@pytest.mark.parametrize("name", CLEAN)
def test_clean_bundled_files_give_nothing_above_info(name: str) -> None:
    findings = inspect_bytes(read(name), name)
    assert [f for f in findings if f.severity > Severity.INFO] == []


def test_inspect_path_reads_corpus_and_reports_unreadable(tmp_path: Path) -> None:
    threats = write_threats(tmp_path / "c")
    for name, t in threats.items():
        assert [f.rule for f in inspect_path(tmp_path / "c" / name)] == [e.rule for e in t.expected]
    missing = inspect_path(tmp_path / "nope.dcm")
    assert [(f.rule, f.evidence["error"]) for f in missing] == [("unreadable", "FileNotFoundError")]
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert [f.evidence["error"] for f in inspect_path(loop)] == ["OSError"]


def _bare(name: str, implicit: bool) -> tuple[bytes, str]:
    import pydicom
    from pydicom.filebase import DicomBytesIO

    ds = pydicom.dcmread(io.BytesIO(read(name)))
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, implicit
    pydicom.filewriter.write_dataset(fp, ds)
    return fp.getvalue(), "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"


@pytest.mark.parametrize("implicit", [True, False])
def test_inspect_dataset_bare_c_store_data_sets(implicit: bool) -> None:
    data, ts = _bare("CT_small.dcm", implicit)
    assert inspect_dataset(data, ts, "peer") == []
    bad = inspect_dataset(data + b"PK\x03\x04" + bytes(40), ts, "peer")
    assert [(f.rule, f.severity, f.evidence["offset"]) for f in bad] == [("trailing-data", Severity.HIGH, len(data))]
    cut = inspect_dataset(data[:2999], ts, "peer")
    assert [(f.rule, f.evidence["problem"]) for f in cut] == [("malformed", "truncated")]


def test_parse_layout_offsets() -> None:
    p = parse(read("CT_small.dcm"))
    assert p.has_magic and p.transfer_syntax == "1.2.840.10008.1.2.1" and p.issue is None
    assert p.pixel is not None and (p.pixel.offset, p.pixel.value_offset, p.pixel.length) == (6288, 6300, 32768)
    assert parse(b"").issue is not None and parse(b"\x00" * 131).issue is not None
    assert parse(read("MR_truncated.dcm")).issue.kind == IssueKind.TRUNCATED  # type: ignore[union-attr]


def test_classify_and_merkle() -> None:
    assert classify(b"II*\x00") == ContentKind.TIFF and classify(b"MZ\x90") == ContentKind.PE
    assert classify(bytes(8)) == ContentKind.EMPTY and classify(b"<script>x") == ContentKind.HTML
    import hashlib

    def mth(leaves: list[bytes]) -> bytes:  # RFC 6962 §2.1, recursive definition
        if len(leaves) == 1:
            return hashlib.sha256(b"\x00" + leaves[0]).digest()
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()

    for n in (1, 2, 3, 5, 8, 13):
        leaves = [bytes([i]) * 4 for i in range(n)]
        m = MerkleBuilder()
        for leaf in leaves:
            m.add(leaf)
        assert m.root() == mth(leaves).hex()


def test_mutated_files_never_raise() -> None:
    """Random byte flips, item/delimiter/VR injections, truncations, insertions: results, not exceptions."""
    import random

    from radguard.archive.digest import fingerprint
    from radguard.inspect.obj import from_bytes

    rnd = random.Random(4)
    tokens = [b"\xff\xff\xff\xff", b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0", b"SQ\x00\x00", b"UN\x00\x00"]
    for _ in range(400):
        data = bytearray(read(rnd.choice(CLEAN)))
        for _m in range(rnd.randint(1, 6)):
            if not data:
                break
            i = rnd.randrange(len(data))
            op = rnd.random()
            if op < 0.5:
                data[i] = rnd.randrange(256)
            elif op < 0.7:
                data[i : i + 4] = rnd.choice(tokens)
            elif op < 0.85:
                del data[i:]
            else:
                data[i:i] = rnd.randbytes(rnd.randint(1, 20))
        obj = from_bytes(bytes(data), "m.dcm")
        assert isinstance(inspect_bytes(bytes(data), "m.dcm"), list)
        assert len(fingerprint(obj).file_sha256) == 64


def test_every_archive_rule_cites_known_controls() -> None:
    from radguard import rulebook
    from radguard.archive import audit, recover, verify
    from radguard.catalog import is_known
    from radguard.inspect import api as inspect
    from radguard.inspect.checks import MODULES
    from radguard.models import Rule

    found = [m.RULE for m in MODULES]
    for mod in (audit, inspect, recover, verify):
        found += [v for v in vars(mod).values() if isinstance(v, Rule)]
    tables = {e.id for e in rulebook.entries() if e.table.endswith(("inspect/rules.toml", "archive/rules.toml"))}
    assert {r.id for r in found} == tables
    assert all(is_known(c) for r in found for c in r.controls)
