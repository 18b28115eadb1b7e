"""``malicious-object``: a C-STORE data set that the shared object checks (:mod:`radguard.inspect`)
flag, on records the analyzer builds with the detection's own inspector; data sets from pydicom,
payloads crafted for the checks."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from radguard.monitor import detections
from radguard.monitor.detections import malicious_object
from tests.support.corpus import PE_STUB, zip_bytes
from tests.support.wire import Traffic, assert_no_phi, dataset_bytes, echo, image, rq, store

RULE = "malicious-object"


def with_private_payload(ds: Dataset, payload: bytes) -> Dataset:
    block = ds.private_block(0x0011, "RADGUARD TEST", create=True)
    block.add_new(0x01, "OB", payload + b"\x00" * (len(payload) % 2))
    return ds


def stores(*objects: Dataset | bytes, client: str = "10.0.0.7") -> list[Any]:
    traffic = Traffic()
    traffic.association(rq("PACS", "MOD01"), [echo(), *(store(o, i + 1) for i, o in enumerate(objects))],
                        client=client)
    return traffic.records(inspect=malicious_object.inspector)


def test_fires_on_an_executable_riding_after_the_data_set() -> None:
    found = detections.run(stores(dataset_bytes(image()) + PE_STUB), [RULE])
    (f,) = found
    assert (f.rule, f.severity.value, f.target) == (RULE, "critical", "10.0.0.2:104")
    assert f.evidence["checks"] == {"trailing-data": 1} and f.evidence["objects"] == 1
    assert f.evidence["source"] == "10.0.0.7" and f.evidence["calling_ae"] == "MOD01"
    assert all(str(s).startswith("hmac:") for s in f.evidence["sop_instances"])  # keyed hash, not the UID
    assert_no_phi(found)


def test_fires_on_active_content_in_a_private_element() -> None:
    found = detections.run(stores(with_private_payload(image("1.2.3.9"), PE_STUB)), [RULE])
    (f,) = found
    assert f.evidence["checks"] == {"active-content": 1} and f.severity.value == "critical"
    assert_no_phi(found)


def test_quiet_on_clean_objects() -> None:
    records = stores(image("1.2.3.1"), image("1.2.3.2"))
    assert [r["inspection"] for r in records if r.get("command") == "C-STORE"] == [[], []]
    assert detections.run(records, [RULE]) == []


def test_thresholds_are_tunable() -> None:
    zipped = stores(with_private_payload(image("1.2.3.5"), zip_bytes()))  # an archive: a high verdict
    (f,) = detections.run(zipped, [RULE])
    assert f.evidence["checks"] == {"active-content": 1} and f.severity.value == "critical"  # raised to the rule's
    assert detections.run(zipped, [RULE], {RULE: {"min_severity": "critical"}}) == []
    cut = stores(dataset_bytes(image("1.2.3.6"))[:-100])  # truncated pixel data: a medium verdict stays medium
    (f,) = detections.run(cut, [RULE])
    assert f.evidence["checks"] == {"malformed": 1} and f.severity.value == "medium"
    assert detections.run(cut, [RULE], {RULE: {"min_severity": "high"}}) == []
    assert detections.run(stores(dataset_bytes(image()) + PE_STUB), [RULE], {RULE: {"min_objects": 2}}) == []
    two = stores(dataset_bytes(image("1.2.3.1")) + PE_STUB, dataset_bytes(image("1.2.3.2")) + PE_STUB)
    (f,) = detections.run(two, [RULE], {RULE: {"min_objects": 2}})
    assert f.evidence["objects"] == 2 and len(set(f.evidence["sop_instances"])) == 2
