"""``protocol-anomaly``: PDUs the upper layer refuses (PS3.8 §9.2 state table, §9.3 PDU structure) and
data sets that do not parse, on records the analyzer builds from crafted bytes."""

from __future__ import annotations

from typing import Any

from radguard.monitor import detections
from tests.support.wire import Message, Traffic, ac, assert_no_phi, dataset_bytes, echo, image, rq, store

RULE = "protocol-anomaly"
UNKNOWN_PDU = b"\x09\x00\x00\x00\x00\x04\x00\x00\x00\x00"  # PDU type 0x09 does not exist
ABORT = b"\x07\x00\x00\x00\x00\x04\x00\x00\x02\x00"


def fuzzed(client: str = "10.0.0.3", t: float = 0.0, traffic: Traffic | None = None) -> Traffic:
    traffic = traffic or Traffic()
    request = rq()
    messages: list[Message] = [(True, request.encode()), (False, ac(request).encode()), (True, UNKNOWN_PDU),
                               (False, ABORT)]
    traffic.connection(messages, client=client, t=t)
    return traffic


def malformed() -> list[Any]:
    traffic = Traffic()
    cut = dataset_bytes(image())[:40] + b"\x10\x00\x20\x00\xff\xff\x00\x10"  # an element longer than the data set
    traffic.association(rq(), [store(cut)], client="10.0.0.4")
    return traffic.records()


def test_fires_on_an_unknown_pdu() -> None:
    found = detections.run(fuzzed().records(), [RULE])
    (f,) = found
    assert (f.rule, f.severity.value, f.target) == (RULE, "medium", "10.0.0.2:104")
    assert f.evidence["anomalies"] == 1 and f.evidence["sources"] == ["10.0.0.3"]
    (example,) = f.evidence["examples"]
    assert example["by"] == "requestor" and "0x09" in example["message"]
    assert_no_phi(found)


def test_fires_on_a_malformed_data_set() -> None:
    found = detections.run(malformed(), [RULE])
    (f,) = found
    assert f.evidence["examples"][0]["message"] == "malformed data set in C-STORE"
    assert_no_phi(found)


def test_quiet_on_a_well_formed_conversation() -> None:
    traffic = Traffic()
    traffic.association(rq(), [echo(), store(image())])
    assert detections.run(traffic.records(), [RULE]) == []


def test_thresholds_are_tunable() -> None:
    assert detections.run(malformed(), [RULE], {RULE: {"count_malformed_datasets": False}}) == []
    assert detections.run(fuzzed().records(), [RULE], {RULE: {"min_anomalies": 2}}) == []
    twice = fuzzed(traffic=fuzzed(), client="10.0.0.8", t=5.0).records()
    (f,) = detections.run(twice, [RULE], {RULE: {"min_anomalies": 2}})
    assert f.evidence["sources"] == ["10.0.0.3", "10.0.0.8"]
