"""``query-harvesting``: broad C-FIND identifiers (PS3.4 §C.2.2.2: only universal or wildcard matching)
at patient/study level, or queries answered with very many matches, on records the analyzer builds from
pydicom identifiers; evidence names keys, never their values."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from radguard.monitor import detections
from tests.support.wire import Traffic, assert_no_phi, find, query, rq

RULE = "query-harvesting"


def finds(*queries: tuple[Dataset, int]) -> list[Any]:
    """One association of WS01 with one C-FIND per (identifier, number of matches)."""
    traffic = Traffic()
    ops = [find(ident, [query(str(ident.QueryRetrieveLevel), PatientName=f"Doe^Jane{k}", PatientID=f"ID-123{k}")
                        for k in range(n)], message_id=i + 1) for i, (ident, n) in enumerate(queries)]
    traffic.association(rq("PACS", "WS01"), ops, client="10.0.0.5")
    return traffic.records()


BROAD_PATIENT = query("PATIENT", PatientName="*", PatientID="")
BROAD_STUDY = query("STUDY", StudyDate="", PatientName="")
NARROW = query("STUDY", StudyInstanceUID="1.2.826.0.1.3680043.8.498.5", PatientName="")


def test_fires_on_a_broad_query() -> None:
    found = detections.run(finds((BROAD_PATIENT, 2)), [RULE])
    (f,) = found
    assert (f.rule, f.severity.value, f.target) == (RULE, "high", "10.0.0.2:104")
    assert (f.evidence["source"], f.evidence["calling_ae"], f.evidence["queries"]) == ("10.0.0.5", "WS01", 1)
    assert f.evidence["levels"] == ["PATIENT"] and f.evidence["wildcard_keys"] == ["PatientName"]
    assert f.evidence["broad_queries"] == 1 and f.evidence["matches"] == 2
    assert_no_phi(found, "Doe^Jane0", "ID-1230")


def test_quiet_on_a_restrictive_query_with_few_matches() -> None:
    assert detections.run(finds((NARROW, 3)), [RULE]) == []
    wildcard_name = query("PATIENT", PatientName="Do*", PatientID="")  # a wildcard with a prefix narrows
    assert detections.run(finds((wildcard_name, 1)), [RULE]) == []


def test_fires_on_very_many_matches() -> None:
    (f,) = detections.run(finds((NARROW, 500)), [RULE])
    assert f.evidence["matches"] == 500 and f.evidence["broad_queries"] == 0
    assert detections.run(finds((NARROW, 499)), [RULE]) == []


def test_thresholds_are_tunable() -> None:
    assert len(detections.run(finds((BROAD_STUDY, 0)), [RULE])) == 1
    assert detections.run(finds((BROAD_STUDY, 0)), [RULE], {RULE: {"broad_levels": "PATIENT"}}) == []
    (f,) = detections.run(finds((NARROW, 6)), [RULE], {RULE: {"min_matches": 5}})  # a narrow query, many answers
    assert f.evidence["matches"] == 6 and f.evidence["broad_queries"] == 0
    assert detections.run(finds((BROAD_PATIENT, 0)), [RULE], {RULE: {"min_queries": 2}}) == []
    (f,) = detections.run(finds((BROAD_PATIENT, 0), (BROAD_STUDY, 0)), [RULE], {RULE: {"min_queries": 2}})
    assert f.evidence["levels"] == ["PATIENT", "STUDY"] and f.evidence["queries"] == 2
