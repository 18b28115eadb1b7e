"""The one data-set layer (radguard.dicom.dataset): the lenient head walk against pydicom on real files, both
VR encodings; the parse counter."""

from __future__ import annotations

import struct

import pytest
from pydicom import Dataset, dcmread
from pydicom.data import get_testdata_file
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence

from radguard.dicom import dataset, part10
from radguard.gateway.dataset import identifiers, identifiers_from, query_keys


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
    elements, complete = dataset.walk(data, implicit=implicit)
    assert complete
    assert [e.tag for e in elements] == [int(e.tag) for e in ds]
    pid = next(e for e in elements if e.tag == 0x00100020)
    assert dataset.value(data, pid).rstrip(b" \x00").decode() == ds.PatientID


def test_undefined_length_sequences_and_truncation() -> None:
    ds = Dataset()
    ds.PatientName = "A^B"
    inner = Dataset()
    inner.CodeValue = "1"
    inner.ConceptCodeSequence = Sequence([Dataset()])
    ds.ProcedureCodeSequence = Sequence([inner, inner])
    ds.PatientID = "X"
    for implicit in (True, False):  # nested defined-length sequences are skipped whole
        elements, complete = dataset.walk(_encode(ds, implicit), implicit=implicit)
        assert complete and [e.tag for e in elements] == [0x00081032, 0x00100010, 0x00100020]
    undefined = (b"\x08\x00\x32\x10" + b"\xff\xff\xff\xff"  # (0008,1032) SQ, undefined length, implicit VR
                 + b"\xfe\xff\x00\xe0\xff\xff\xff\xff"  # item, undefined length
                 + b"\x08\x00\x00\x01\x02\x00\x00\x001\x00"  # (0008,0100) CodeValue "1"
                 + b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"  # item delimiter
                 + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"  # sequence delimiter
                 + b"\x10\x00\x20\x00\x02\x00\x00\x00X\x00")  # (0010,0020) PatientID
    elements, complete = dataset.walk(undefined, implicit=True)
    assert complete and [e.tag for e in elements] == [0x00081032, 0x00100020]
    elements, complete = dataset.walk(undefined[:30], implicit=True)
    assert not complete
    elements, complete = dataset.walk(undefined, implicit=True, stop_after_group=0x0008)
    assert complete and [e.tag for e in elements] == [0x00081032]
    assert dataset.walk(b"\x10\x00\x10\x00PN\xff\xff", implicit=False) == (
        [dataset.Element(0x00100010, "PN", 0, 8, 0xFFFF)], False)


def test_lenient_walk_reads_what_the_strict_walk_rejects() -> None:
    # out of tag order, odd length, a VR of two upper-case letters that is no VR: the monitor still sees them
    data = (b"\x10\x00\x20\x00LO\x03\x00P1 " + b"\x10\x00\x10\x00ZZ\x02\x00AB")
    elements, complete = dataset.walk(data, implicit=False)
    assert complete and [(e.tag, e.vr, e.length) for e in elements] == [(0x00100020, "LO", 3), (0x00100010, "ZZ", 2)]
    p = part10.parse(data, transfer_syntax="1.2.840.10008.1.2.1")
    assert p.issue is not None and p.issue.kind == dataset.IssueKind.BAD_LENGTH


def test_parse_count_counts_every_entry_point_once() -> None:
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    data = _encode(ds, False)
    before = dataset.parse_count()
    dataset.walk(data, implicit=False)
    dataset.find(data, frozenset({0x00100020}), implicit=False)
    part10.parse(data, transfer_syntax="1.2.840.10008.1.2.1")
    part10.parse(b"\x08\x00\x05\x00CS\x00\x00" + data[8:])  # guessed encoding: walked more than once, one parse
    identifiers(data, "1.2.840.10008.1.2.1")
    assert dataset.parse_count() - before == 5


@pytest.mark.parametrize("name", ["CT_small.dcm", "rtplan.dcm"])
@pytest.mark.parametrize(("implicit", "little", "ts"), [(True, True, "1.2.840.10008.1.2"),
                                                        (False, True, "1.2.840.10008.1.2.1"),
                                                        (False, False, "1.2.840.10008.1.2.2")])
def test_gateway_readers_match_pydicom(name: str, implicit: bool, little: bool, ts: str) -> None:
    ds = dcmread(get_testdata_file(name))
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = little, implicit
    write_dataset(fp, ds)
    data = fp.getvalue()
    assert identifiers(data, ts) == (str(ds.get("PatientID", "")), str(ds.get("StudyInstanceUID", "")))
    assert query_keys(data, ts, limit=1000) == tuple(dataset.keyword(int(e.tag)) for e in ds)
    assert identifiers(data, "1.2.840.10008.1.2.1.99") == ("", "") and query_keys(data, "1.2.840.10008.1.2.1.99") == ()
    before = dataset.parse_count()
    p = part10.parse(data, transfer_syntax=ts)
    assert identifiers_from(p) == identifiers(data, ts)
    assert dataset.parse_count() - before == 2  # the parse and identifiers(), not identifiers_from()


def test_lenient_depth_limit_is_seventeen_nested_sequences() -> None:
    def nested(levels: int) -> bytes:  # implicit VR, undefined-length sequences and items, then Patient ID
        body = struct.pack("<HHI", 0x0008, 0x0100, 2) + b"1 "
        for _ in range(levels):
            item = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + body + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
            body = struct.pack("<HHI", 0x0008, 0x1110, 0xFFFFFFFF) + item + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
        return body + struct.pack("<HHI", 0x0010, 0x0020, 2) + b"P1"

    elements, complete = dataset.walk(nested(17), implicit=True)
    assert complete and [e.tag for e in elements] == [0x00081110, 0x00100020] and elements[0].undefined
    elements, complete = dataset.walk(nested(18), implicit=True)
    assert not complete and elements == [dataset.Element(0x00081110, "", 0, 8, dataset.UNDEFINED, True)]


def test_part10_value_by_binary_search_equals_a_dict_of_the_elements() -> None:
    """Part10.value/element search the (ascending) elements; the answer is what a dict of them gave, also for
    absent tags and for a list built out of order by hand (searched through, the last duplicate wins)."""
    import dataclasses

    from radguard.dicom.part10 import parse
    from radguard.range.samples import bundled_files

    checked = 0
    for path in list(bundled_files("*"))[:40]:
        p = parse(path.read_bytes())
        index = {e.tag: e for e in p.elements}
        probes = [e.tag for e in p.elements] + [0, 0x00100021, 0x7FE00011, 0xFFFFFFFF]
        for tag in probes:
            assert p.element(tag) == index.get(tag)
            checked += 1
        if len(p.elements) > 3:
            shuffled = dataclasses.replace(p, elements=[*reversed(p.elements), p.elements[0]._replace(length=0)])
            first = p.elements[0]
            assert shuffled.element(first.tag) == first._replace(length=0)
            assert shuffled.element(p.elements[2].tag) == p.elements[2]
            assert shuffled.element(0x00100021) is None
    assert checked > 500
