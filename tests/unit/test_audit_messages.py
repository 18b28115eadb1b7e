"""Audit messages (PS3.15 A.5): every builder validates against the vendored A.5.1 schema; PHI rules."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from lxml import etree

from radguard.audittrail import SCHEMA_PATH
from radguard.audittrail import messages as m
from radguard.audittrail.codes import EventAction, EventTypeCode, Outcome
from radguard.audittrail.fhir import to_bundle, to_fhir
from radguard.phi import phi_hash

SECRET = b"site-secret"
CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.fixture(scope="module")
def schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMA_PATH)))


def _records() -> list[m.AuditRecord]:
    return [
        m.application_activity(start=True, source_id="RADGUARD", host="127.0.0.1"),
        m.application_activity(start=False, source_id="RADGUARD"),
        m.user_authentication(login=True, user_id="CT01", host="10.0.0.5", source_id="RADGUARD"),
        m.user_authentication(login=False, user_id="CT01", host="gw.example", source_id="RADGUARD",
                              outcome=Outcome.MINOR_FAILURE, description="aborted"),
        m.instances_transferred(source_ae="CT01", source_host="10.0.0.5", dest_ae="ORTHANC",
                                dest_host="10.0.0.9", patient_id="PAT-001", study_uid="1.2.3",
                                sop_classes={CT: 3}),
        m.begin_transferring(source_ae="ORTHANC", source_host=None, dest_ae="WS01", dest_host="10.0.0.7",
                             patient_id="PAT-001", study_uid="1.2.3"),
        m.instances_accessed(user_ae="WS01", user_host="10.0.0.7", patient_id="PAT-001", study_uid="1.2.3",
                             action=EventAction.READ),
        m.query(requestor_ae="WS01", requestor_host="10.0.0.7", responder_ae="ORTHANC", responder_host=None,
                sop_class_uid="1.2.840.10008.5.1.4.1.2.2.1", query_keys=("PatientID", "StudyDate"),
                query_bytes=b"\x10\x00\x20\x00PAT-001", transfer_syntax="1.2.840.10008.1.2"),
        m.security_alert(alert=EventTypeCode.NODE_AUTHENTICATION, reporter="RADGUARD", subject_ae="EVIL",
                         subject_host="10.6.6.6", description="calling AE not recognized"),
        m.security_alert(alert=EventTypeCode.SECURITY_CONFIGURATION, reporter="RADGUARD", subject_ae="CT01",
                         user_id="root", outcome=Outcome.SUCCESS, description="contain --peer CT01"),
    ]


@pytest.mark.parametrize("include_pid", [False, True])
def test_every_message_validates(schema: etree.RelaxNG, include_pid: bool) -> None:
    for rec in _records():
        doc = etree.fromstring(m.to_xml(rec, include_patient_id=include_pid, secret=SECRET))
        assert schema.validate(doc), (rec.event, schema.error_log)


def test_schema_rejects_bad_messages(schema: etree.RelaxNG) -> None:
    good = etree.fromstring(m.to_xml(_records()[4]))
    assert schema.validate(good)
    bad = etree.fromstring(m.to_xml(_records()[4]))
    bad.find("EventIdentification").set("EventOutcomeIndicator", "3")  # type: ignore[union-attr]
    assert not schema.validate(bad)
    no_part = etree.fromstring(m.to_xml(_records()[4]))
    for ap in no_part.findall("ActiveParticipant"):
        no_part.remove(ap)
    assert not schema.validate(no_part)


def test_event_codes() -> None:
    got = []
    for rec in _records():
        ev = etree.fromstring(m.to_xml(rec)).find("EventIdentification")
        assert ev is not None
        eid = ev.find("EventID")
        assert eid is not None and eid.get("codeSystemName") == "DCM"
        got.append((eid.get("csd-code"), ev.get("EventActionCode"),
                    [e.get("csd-code") for e in ev.findall("EventTypeCode")]))
    assert got == [
        ("110100", "E", ["110120"]),
        ("110100", "E", ["110121"]),
        ("110114", "E", ["110122"]),
        ("110114", "E", ["110123"]),
        ("110104", "C", []),
        ("110102", "E", []),
        ("110103", "R", []),
        ("110112", "E", []),
        ("110113", "E", ["110126"]),
        ("110113", "E", ["110129"]),
    ]


def _patient_obj(xml: bytes) -> etree._Element:
    root = etree.fromstring(xml)
    objs = [o for o in root.findall("ParticipantObjectIdentification")
            if o.get("ParticipantObjectTypeCodeRole") == "1"]
    assert len(objs) == 1
    return objs[0]


def test_patient_id_only_in_atna_when_allowed() -> None:
    rec = _records()[4]
    hashed = phi_hash("PAT-001", secret=SECRET)
    assert _patient_obj(m.to_xml(rec, secret=SECRET)).get("ParticipantObjectID") == hashed
    real = _patient_obj(m.to_xml(rec, include_patient_id=True, secret=SECRET))
    assert real.get("ParticipantObjectID") == "PAT-001"
    assert real.findtext("ParticipantObjectName") == m.PATIENT_NAME_PLACEHOLDER
    assert real.find("ParticipantObjectIDTypeCode").get("csd-code") == "2"  # type: ignore[union-attr]
    text = json.dumps(m.to_json(rec, secret=SECRET))
    assert "PAT-001" not in text and hashed in text
    sop = etree.fromstring(m.to_xml(rec)).find(".//SOPClass")
    assert sop is not None and (sop.get("UID"), sop.get("NumberOfInstances")) == (CT, "3")


def test_query_content_only_when_allowed() -> None:
    rec = _records()[7]
    q = etree.fromstring(m.to_xml(rec)).find(".//ParticipantObjectQuery")
    assert q is not None and base64.b64decode(q.text or "") == b"PatientID,StudyDate"
    q2 = etree.fromstring(m.to_xml(rec, include_patient_id=True)).find(".//ParticipantObjectQuery")
    assert q2 is not None and base64.b64decode(q2.text or "") == b"\x10\x00\x20\x00PAT-001"
    assert "PAT-001" not in json.dumps(m.to_json(rec))
    assert "PAT-001" not in json.dumps(to_fhir(rec))


def test_fhir_balp_shape() -> None:
    rec = _records()[4]
    res = to_fhir(rec, secret=SECRET)
    assert res["resourceType"] == "AuditEvent"
    assert res["type"] == {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110104",
                           "display": "DICOM Instances Transferred"}
    assert res["action"] == "C" and res["outcome"] == "0"
    assert [a["type"]["coding"][0]["code"] for a in res["agent"]] == ["110153", "110152"]
    assert [a["requestor"] for a in res["agent"]] == [True, False]
    pat = next(e for e in res["entity"] if e["role"]["code"] == "1")
    assert pat["what"]["identifier"]["value"] == phi_hash("PAT-001", secret=SECRET)
    assert pat["type"]["code"] == "1"
    bundle = to_bundle(_records())
    assert len(bundle["entry"]) == 10
    assert bundle["entry"][0]["resource"]["subtype"][0]["code"] == "110120"


def test_jsonl_to_fhir_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from radguard.audittrail.fhir import json_to_fhir
    from radguard.cli.main import main

    docs = [m.to_json(r, secret=SECRET) for r in _records()]
    res = json_to_fhir(docs[4])
    assert res["type"]["code"] == "110104" and res["type"]["display"] == "DICOM Instances Transferred"
    assert [a["type"]["coding"][0]["code"] for a in res["agent"]] == ["110153", "110152"]
    pat = next(e for e in res["entity"] if e["role"]["code"] == "1")
    assert pat["what"]["identifier"]["value"] == phi_hash("PAT-001", secret=SECRET)
    audit = tmp_path / "audit.jsonl"
    audit.write_text("\n".join(json.dumps(d) for d in docs) + "\nnot json\n")
    capsys.readouterr()
    assert main(["audit-fhir", str(audit)]) == 0
    out = capsys.readouterr()
    bundle = json.loads(out.out)
    assert bundle["resourceType"] == "Bundle" and len(bundle["entry"]) == 10
    assert "1 unreadable line" in out.err and "PAT-001" not in out.out


def test_code_tables_are_data_with_edition() -> None:
    """Every coded enum member names a code of ``codes.json`` in its own PS3.16 CID table."""
    from importlib import resources

    from radguard.audittrail.codes import CODES, EventID, ObjectIDType, RoleID

    raw = json.loads(resources.files("radguard.audittrail").joinpath("codes.json").read_text("utf-8"))
    assert raw["edition"] and raw["source"]
    for cid, enum_cls in (("CID 400", EventID), ("CID 401", EventTypeCode), ("CID 402", RoleID),
                          ("CID 404", ObjectIDType)):
        table = raw["tables"][cid]["codes"]
        assert {member.value for member in enum_cls} <= set(table), cid
    assert EventTypeCode.LOGIN.coded == CODES["110122"]
    assert (EventTypeCode.LOGIN.coded.scheme, EventTypeCode.LOGIN.coded.meaning) == ("DCM", "Login")
    assert ObjectIDType.PATIENT_NUMBER.coded.scheme == "RFC-3881"
