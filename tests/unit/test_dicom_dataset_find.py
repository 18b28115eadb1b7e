"""radguard.dicom.dataset.find: a few early attributes of a bare data set (the gateway's audit identifiers)."""

from __future__ import annotations

import struct
from io import BytesIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.filebase import DicomFileLike
from pydicom.filewriter import write_dataset

from radguard.dicom.dataset import find
from radguard.gateway.dataset import identifiers
from radguard.range.samples import bundled

PID, STUDY = 0x00100020, 0x0020000D
WANTED = frozenset({PID, STUDY})


def _bare(ds: Dataset, implicit: bool) -> bytes:
    """The data set as a C-STORE carries it: no preamble, no file meta, little endian."""
    buf = BytesIO()
    fp = DicomFileLike(buf)
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return buf.getvalue()


def test_find_explicit_and_implicit_match_pydicom() -> None:
    ds = pydicom.dcmread(bundled("CT_small.dcm"))
    del ds.file_meta
    for implicit in (True, False):
        data = _bare(ds, implicit)
        found = find(data, WANTED, implicit=implicit)
        assert found is not None
        assert found[PID].decode().strip(" \x00") == ds.PatientID
        assert found[STUDY].decode().strip(" \x00") == ds.StudyInstanceUID
        ts = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
        assert identifiers(data, ts) == (ds.PatientID, ds.StudyInstanceUID)


def test_undefined_length_before_the_tags_is_skipped() -> None:
    # (0008,1110) SQ of undefined length with one empty item of undefined length, then Patient ID
    seq = struct.pack("<HH2sHL", 0x0008, 0x1110, b"SQ", 0, 0xFFFFFFFF)
    seq += struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
    seq += struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    pid = struct.pack("<HH2sH", 0x0010, 0x0020, b"LO", 2) + b"P1"
    assert find(seq + pid, WANTED, implicit=False) == {PID: b"P1"}
    assert identifiers(seq + pid, "1.2.840.10008.1.2.1") == ("P1", "")
    # a sequence that does not end: the head is damaged before the tags
    assert find(seq[:-8] + pid, WANTED, implicit=False) is None
    assert identifiers(seq[:-8] + pid, "1.2.840.10008.1.2.1") == ("", "")
    assert find(pid, WANTED, implicit=False) == {PID: b"P1"}


def test_value_cut_short_is_read_as_far_as_it_goes() -> None:
    pid = struct.pack("<HH2sH", 0x0010, 0x0020, b"LO", 8) + b"P1"
    assert find(pid, WANTED, implicit=False) == {PID: b"P1"}
    assert identifiers(pid, "1.2.840.10008.1.2.1") == ("P1", "")
    long_header_cut = struct.pack("<HH2sH", 0x0008, 0x1110, b"SQ", 0)
    assert find(long_header_cut, WANTED, implicit=False) is None


def test_garbage_never_raises() -> None:
    for blob in (b"", b"\x00" * 3, b"\xff" * 64, bytes(range(256)) * 4):
        for implicit in (True, False):
            result = find(blob, WANTED, implicit=implicit)
            assert result is None or set(result) <= WANTED
