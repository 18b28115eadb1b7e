"""The top-level element walker (PS3.5 §7) against pydicom on real files, both VR encodings."""

from __future__ import annotations

import pytest
from pydicom import Dataset, dcmread
from pydicom.data import get_testdata_file
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence

from radguard.dicom import dataset as scan


def _encode(ds: Dataset, implicit: bool) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return fp.getvalue()


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "waveform_ecg.dcm"])
@pytest.mark.parametrize("implicit", [True, False])
def test_walk_matches_pydicom(name: str, implicit: bool) -> None:
    ds = dcmread(get_testdata_file(name))
    data = _encode(ds, implicit)
    elements, complete = scan.walk(data, implicit=implicit)
    assert complete
    assert [e.tag for e in elements] == [int(e.tag) for e in ds]
    pid = next(e for e in elements if e.tag == 0x00100020)
    assert scan.value(data, pid).rstrip(b" \x00").decode() == ds.PatientID


def test_undefined_length_sequences_and_truncation() -> None:
    ds = Dataset()
    ds.PatientName = "A^B"
    inner = Dataset()
    inner.CodeValue = "1"
    inner.ConceptCodeSequence = Sequence([Dataset()])
    ds.ProcedureCodeSequence = Sequence([inner, inner])
    ds.PatientID = "X"
    for implicit in (True, False):  # nested defined-length sequences are skipped whole
        elements, complete = scan.walk(_encode(ds, implicit), implicit=implicit)
        assert complete and [e.tag for e in elements] == [0x00081032, 0x00100010, 0x00100020]
    undefined = (b"\x08\x00\x32\x10" + b"\xff\xff\xff\xff"  # (0008,1032) SQ, undefined length, implicit VR
                 + b"\xfe\xff\x00\xe0\xff\xff\xff\xff"  # item, undefined length
                 + b"\x08\x00\x00\x01\x02\x00\x00\x001\x00"  # (0008,0100) CodeValue "1"
                 + b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"  # item delimiter
                 + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"  # sequence delimiter
                 + b"\x10\x00\x20\x00\x02\x00\x00\x00X\x00")  # (0010,0020) PatientID
    elements, complete = scan.walk(undefined, implicit=True)
    assert complete and [e.tag for e in elements] == [0x00081032, 0x00100020]
    elements, complete = scan.walk(undefined[:30], implicit=True)
    assert not complete
    elements, complete = scan.walk(undefined, implicit=True, stop_after_group=0x0008)
    assert complete and [e.tag for e in elements] == [0x00081032]
    assert scan.walk(b"\x10\x00\x10\x00PN\xff\xff", implicit=False) == ([scan.Element(0x00100010, "PN", 8, 0xFFFF)],
                                                                          False)
