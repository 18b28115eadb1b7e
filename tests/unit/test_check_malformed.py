"""``malformed``: a data set that does not parse cleanly (PS3.5 §7 element encoding, PS3.10 §7.1 file
meta), a VR encoding that contradicts the transfer syntax, a data set without its Part 10 header; on
bundled files cut or corrupted, and pydicom-written files."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian

from radguard.inspect.checks import malformed
from radguard.inspect.obj import from_bytes
from tests.support.corpus import DATA, Threat, assert_exact_findings, read, threats_of
from tests.support.wire import dataset_bytes, image

RULE = "malformed"


@pytest.mark.parametrize("threat", threats_of(RULE), ids=lambda t: t.name)
def test_corpus_case_gives_exact_findings(threat: Threat) -> None:
    assert_exact_findings(threat, malformed.check)


def test_truncation_names_offset_and_tag() -> None:
    (f,) = malformed.check(from_bytes(read("CT_small.dcm")[:7000], "ct.dcm"))
    assert (f.rule, f.severity.value) == (RULE, "medium")
    assert {k: f.evidence[k] for k in ("problem", "offset", "tag", "keyword")} == {
        "problem": "truncated", "offset": 6300, "tag": "(7FE0,0010)", "keyword": "PixelData"}
    assert f.evidence["size"] == 7000 and f.evidence["elements_parsed"] > 0


def test_implicit_data_set_under_an_explicit_transfer_syntax() -> None:
    ds = pydicom.dcmread(DATA / "MR_small_implicit.dcm")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    fp.write(bytes(128) + b"DICM")
    write_file_meta_info(fp, ds.file_meta, enforce_standard=True)
    fp.is_implicit_VR = True  # the data set as it really is encoded
    write_dataset(fp, ds)
    (f,) = malformed.check(from_bytes(fp.getvalue(), "mr.dcm"))
    assert (f.severity.value, f.title) == ("low", "Data set VR encoding contradicts its transfer syntax")
    assert f.evidence == {"problem": "vr-encoding-mismatch", "transfer_syntax": ExplicitVRLittleEndian,
                          "encoded_as": "implicit"}


def test_headerless_file_is_low_but_a_c_store_data_set_is_fine() -> None:
    data = dataset_bytes(image())
    (f,) = malformed.check(from_bytes(data, "bare.dcm"))
    assert (f.severity.value, f.evidence) == ("low", {"problem": "no-part10-header", "size": len(data)})
    assert list(malformed.check(from_bytes(data, "peer", transfer_syntax="1.2.840.10008.1.2"))) == []


def test_quiet_on_clean_and_on_non_dicom() -> None:
    assert list(malformed.check(from_bytes(read("rtplan.dcm"), "rtplan.dcm"))) == []
    assert list(malformed.check(from_bytes(b"ward 4 reading list\n", "notes.txt"))) == []  # not-dicom's case
