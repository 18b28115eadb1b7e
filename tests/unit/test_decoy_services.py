"""The decoy's answers without I/O (PS3.4 Annex A, B, C; PS3.7 §9.3): its product's A-ASSOCIATE-AC to any
called AE, C-FIND matching over its honeytoken studies, C-MOVE 0xA801, C-GET 0xB000, C-STORE success,
hostile identifiers answered 0xA900; checked against pynetdicom's and pydicom's decoders."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom.filereader import read_dataset

from radguard.dicom import uids
from radguard.dicom.dimse import c_echo_rq, c_find_rq, c_get_rq, c_move_rq, c_store_rq
from radguard.dicom.enums import ContextResult, Status
from radguard.dicom.pdu import AssociateRequest, PresentationContext, decode_pdu
from radguard.errors import UsageError
from radguard.policy.decoy_services import accept, answer, profile, profiles
from radguard.policy.honeytokens import generate, uid_root
from tests.support.wire import dataset_bytes, query

STUDIES = generate(6, root="2.25.4242", seed=b"test")
IMPLICIT = uids.IMPLICIT_VR_LITTLE_ENDIAN


def _find(ident: bytes, sop: str = uids.STUDY_ROOT_QR_FIND) -> tuple[list[dict[str, str]], int, object]:
    answers, served = answer(c_find_rq(1, sop), ident, IMPLICIT, STUDIES)
    rows = [{e.keyword: str(e.value) for e in read_dataset(BytesIO(data), True, True)}
            for _, data in answers if data is not None]
    return rows, int(answers[-1][0].status or 0), served


def test_profiles_and_the_association_answer() -> None:
    assert set(profiles()) == {"orthanc", "dcm4chee", "conquest", "dcmqrscp"} and profile(None).name == "orthanc"
    with pytest.raises(UsageError, match="unknown product"):
        profile("nope")
    prof = profile("dcm4chee")
    rq = AssociateRequest("ANYTHING", "X", [
        PresentationContext(1, uids.VERIFICATION, [IMPLICIT]),
        PresentationContext(3, uids.CT_IMAGE_STORAGE, ["1.2.840.10008.1.2.4.50", uids.EXPLICIT_VR_LITTLE_ENDIAN]),
        PresentationContext(5, "1.2.3.4.5", [IMPLICIT]),
        PresentationContext(7, uids.STUDY_ROOT_QR_FIND, ["1.2.840.10008.1.2.4.50"])])
    wire = accept(rq, prof).encode()
    ac = decode_pdu(wire[0], wire[6:])
    assert ac.called_ae == "ANYTHING" and ac.implementation_class_uid == prof.implementation_class_uid
    assert ac.implementation_version_name == prof.implementation_version_name and ac.max_pdu_length == 16378
    results = {c.id: (c.result, c.transfer_syntaxes) for c in ac.contexts}
    assert results[1] == (ContextResult.ACCEPTANCE, [IMPLICIT])
    assert results[3] == (ContextResult.ACCEPTANCE, [uids.EXPLICIT_VR_LITTLE_ENDIAN])
    assert results[5][0] is ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED
    assert results[7][0] is ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED


def test_find_matches_like_a_pacs() -> None:
    rows, status, served = _find(dataset_bytes(query("STUDY", PatientName="*", StudyInstanceUID="")))
    assert status == Status.SUCCESS and len(rows) == 6 and served.matches == 6  # type: ignore[attr-defined]
    assert {r["StudyInstanceUID"] for r in rows} == {s.study_uid for s in STUDIES}
    assert all(set(r) == {"QueryRetrieveLevel", "PatientName", "StudyInstanceUID"} for r in rows)
    one = STUDIES[2]
    rows, _, served = _find(dataset_bytes(query("STUDY", StudyInstanceUID=f"1.2.3\\{one.study_uid}",
                                                PatientID="")))
    assert [r["PatientID"] for r in rows] == [one.patient_id] and served.honeytokens == 1  # type: ignore[attr-defined]
    prefix = one.patient_name[:3]
    rows, _, _ = _find(dataset_bytes(query("STUDY", PatientName=prefix.lower() + "*", StudyDate="")))
    assert one.patient_name in {r["PatientName"] for r in rows}  # case-insensitive wildcard matching
    assert len(rows) == sum(s.patient_name.startswith(prefix) for s in STUDIES)
    rows, _, _ = _find(dataset_bytes(query("STUDY", StudyDate=f"{one.study_date}-{one.study_date}")))
    assert len(rows) == sum(s.study_date == one.study_date for s in STUDIES) >= 1
    rows, _, _ = _find(dataset_bytes(query("IMAGE", StudyInstanceUID=one.study_uid, SOPInstanceUID="")))
    assert {r["SOPInstanceUID"] for r in rows} == set(one.instances)
    assert _find(dataset_bytes(query("STUDY", PatientName="*")), uids.MODALITY_WORKLIST_FIND)[0] == []


def test_retrieves_stores_and_hostile_identifiers() -> None:
    ident = dataset_bytes(query("STUDY", StudyInstanceUID=STUDIES[0].study_uid))
    (move, _), = answer(c_move_rq(2, uids.STUDY_ROOT_QR_MOVE, "EXFIL"), ident, IMPLICIT, STUDIES)[0]
    assert move.status == Status.MOVE_DESTINATION_UNKNOWN
    (get, _), = answer(c_get_rq(3, uids.STUDY_ROOT_QR_GET), ident, IMPLICIT, STUDIES)[0]
    assert get.status == 0xB000 and get.failed_sub_operations == 2
    (echo, _), = answer(c_echo_rq(4), None, IMPLICIT, STUDIES)[0]
    assert echo.status == Status.SUCCESS
    [(store, _)], served = answer(c_store_rq(5, uids.CT_IMAGE_STORAGE, "1.2.3"), None, IMPLICIT, STUDIES)
    assert store.status == Status.SUCCESS and served.sop_class == uids.CT_IMAGE_STORAGE
    for garbage in (b"\xff" * 7, b"\x08\x00\x52\x00\xff\xff\xff\x7f", bytes(range(256))):
        [(rsp, _)], served = answer(c_find_rq(6, uids.STUDY_ROOT_QR_FIND), garbage, IMPLICIT, STUDIES)
        assert rsp.status == Status.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS and served.error


def test_honeytoken_studies_are_synthetic_under_the_site_root() -> None:
    root = uid_root(b"site secret one")
    assert root.startswith("2.25.") and root != uid_root(b"site secret two") and root == uid_root(b"site secret one")
    studies = generate(5, root=root)
    for s in studies:
        for uid in s.uids():
            assert uid.startswith(root + ".") and len(uid) <= 64 and not uid.rsplit(".", 1)[1].startswith("0")
        assert "^" in s.patient_name and len(s.instances) == 2
    assert generate(3, root=root, seed=b"x") == generate(3, root=root, seed=b"x") != generate(3, root=root)
