"""``honeytoken-touched``: a honeytoken UID named in a C-FIND or C-MOVE identifier, returned in a C-FIND
answer or carried by a C-STORE, on records the analyzer builds from real encoded traffic (PS3.4 Annex B, C);
records and findings carry UIDs only as keyed hashes."""

from __future__ import annotations

import json
from typing import Any

from radguard.monitor import detections
from radguard.monitor.detections.honeytoken import token_hashes
from radguard.policy.honeytokens import generate
from tests.support.wire import Traffic, assert_no_phi, find, image, query, rq, store

RULE = "honeytoken-touched"
STUDY = generate(1, root="2.25.1234567")[0]
OTHER = "1.2.826.0.1.3680043.8.498.99"


def run(*operations: list[Any], tokens: frozenset[str] | None = None, **overrides: Any) -> list[Any]:
    traffic = Traffic()
    traffic.association(rq("PACS", "WS01"), operations, client="10.0.0.5")
    context = {"honeytokens": token_hashes(STUDY.uids()) if tokens is None else tokens}
    return detections.run(traffic.records(), [RULE], {RULE: overrides} if overrides else None, context)


def test_a_query_naming_a_honeytoken_study_fires() -> None:
    (f,) = run(find(query("STUDY", StudyInstanceUID=f"{OTHER}\\{STUDY.study_uid}", PatientName="")))
    assert (f.rule, f.severity.value, f.target) == (RULE, "critical", "10.0.0.2:104")
    assert f.evidence["source"] == "10.0.0.5" and f.evidence["calling_ae"] == "WS01"
    assert f.evidence["touches"] == 1 and f.evidence["commands"] == {"C-FIND": 1} and f.evidence["honeytoken_uids"] == 1
    assert STUDY.study_uid not in json.dumps(f.to_dict())  # neither the UID nor the patient in the finding
    assert_no_phi([f], STUDY.patient_name, STUDY.patient_id)


def test_a_broad_query_that_returns_a_honeytoken_fires() -> None:
    answer = query("STUDY", StudyInstanceUID=STUDY.study_uid, PatientName=STUDY.patient_name)
    (f,) = run(find(query("STUDY", PatientName="*", StudyInstanceUID=""), [answer]))
    assert f.evidence["commands"] == {"C-FIND": 1}


def test_a_store_of_a_honeytoken_instance_fires() -> None:
    (f,) = run(store(image(STUDY.instances[0])))
    assert f.evidence["commands"] == {"C-STORE": 1}


def test_quiet_on_other_studies_and_without_honeytokens() -> None:
    assert run(find(query("STUDY", StudyInstanceUID=OTHER)), store(image(OTHER))) == []
    assert run(find(query("STUDY", StudyInstanceUID=STUDY.study_uid)), tokens=frozenset()) == []


def test_min_touches_is_tunable() -> None:
    ident = query("STUDY", StudyInstanceUID=STUDY.study_uid)
    assert run(find(ident), min_touches=2) == []
    (f,) = run(find(ident), find(ident, message_id=2), min_touches=2)
    assert f.evidence["touches"] == 2


def test_records_carry_keyed_hashes_not_uids() -> None:
    traffic = Traffic()
    traffic.association(rq(), [find(query("STUDY", StudyInstanceUID=STUDY.study_uid))])
    (op,) = [r for r in traffic.records() if r["kind"] == "dimse"]
    assert op["uids"] == sorted(token_hashes([STUDY.study_uid])) and STUDY.study_uid not in json.dumps(op)


def test_a_web_download_of_a_honeytoken_study_fires() -> None:
    """A WADO-RS retrieve of a honeytoken study (a web harvester takes everything) is a touch too."""
    from tests.support.web import WADO_TYPE, Web, multipart, request, response

    tokens = token_hashes(STUDY.uids())
    web = Web()
    web.connection([(request("GET", f"/dicom-web/studies/{STUDY.study_uid}", {"Accept": "multipart/related"}),
                     response(ctype=WADO_TYPE, body=multipart(b"DICM")))])
    (f,) = detections.run(web.records(), [RULE], None, {"honeytokens": tokens})
    assert f.target == "10.0.0.2:8042" and f.evidence["calling_ae"] == "(wado-rs)"
    assert f.evidence["commands"] == {"GET wado-rs": 1}
    assert STUDY.study_uid not in json.dumps(f.to_dict())
    other = Web()
    other.connection([(request("GET", f"/dicom-web/studies/{OTHER}", {"Accept": "multipart/related"}),
                       response(ctype=WADO_TYPE, body=multipart(b"DICM")))])
    assert detections.run(other.records(), [RULE], None, {"honeytokens": tokens}) == []
