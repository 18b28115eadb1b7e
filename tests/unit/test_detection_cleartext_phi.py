"""``cleartext-phi``: patient attributes crossing the wire without TLS (C-STORE data sets, C-FIND
identifiers and matches), on records the analyzer builds from pydicom data sets; the finding counts
attributes by keyword and never carries their values (45 CFR 164.312(e)(1))."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from radguard.dicom import uids
from radguard.monitor import detections
from tests.support.wire import Traffic, assert_no_phi, echo, find, image, query, rq, store

RULE = "cleartext-phi"


def no_phi_image(sop: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = uids.CT_IMAGE_STORAGE, sop
    ds.Modality = "CT"
    ds.Rows, ds.Columns, ds.BitsAllocated = 16, 16, 16
    ds.PixelData = bytes(512)
    return ds


def traffic(*operations: Any) -> list[Any]:
    t = Traffic()
    t.association(rq("PACS", "CT01"), operations, client="10.0.0.5")
    return t.records()


def test_fires_on_a_stored_image_with_phi() -> None:
    found = detections.run(traffic(echo(), store(image())), [RULE])
    (f,) = found
    assert (f.rule, f.severity.value, f.target) == (RULE, "high", "10.0.0.2:104")
    assert f.evidence["attributes"] == {"PatientBirthDate": 1, "PatientID": 1, "PatientName": 1}
    assert f.evidence["datasets_with_phi"] == 1 and f.evidence["clients"] == 1
    assert_no_phi(found)


def test_query_matches_carry_phi_too() -> None:
    matches = [query("STUDY", PatientName=f"Doe^Jane{i}", PatientID=f"ID-123{i}") for i in range(3)]
    found = detections.run(traffic(find(query("STUDY", StudyInstanceUID="1.2.3", PatientName=""), matches)),
                           [RULE])
    (f,) = found
    assert f.evidence["attributes"] == {"PatientID": 3, "PatientName": 3} and f.evidence["datasets_with_phi"] == 3
    assert_no_phi(found, "Doe^Jane0", "ID-1231")


def test_quiet_without_phi() -> None:
    assert detections.run(traffic(echo(), store(no_phi_image("1.2.3.1"))), [RULE]) == []


def test_thresholds_are_tunable() -> None:
    one = traffic(store(image()))
    assert detections.run(one, [RULE], {RULE: {"min_datasets": 2}}) == []
    two = traffic(store(image("1.2.3.1"), 1), store(image("1.2.3.2"), 2))
    (f,) = detections.run(two, [RULE], {RULE: {"min_datasets": 2}})
    assert f.evidence["datasets_with_phi"] == 2
