"""``dicom-sweep``: one source reaching many DICOM endpoints (associations, refused or unanswered
connections) in a window, on records the analyzer builds from real segments."""

from __future__ import annotations

from typing import Any

from radguard.monitor import detections
from tests.support.wire import Traffic, assert_no_phi, echo, image, rq, store

RULE = "dicom-sweep"


def sweep(hosts: int, *, every: float = 1.0, answered: int = 0) -> list[Any]:
    """10.0.0.66 tries port 104 on ``hosts`` hosts; the first ``answered`` of them speak DICOM."""
    traffic = Traffic()
    for i in range(hosts):
        server = f"10.0.1.{i + 1}"
        if i < answered:
            traffic.association(rq("ANY-SCP", "SCANNER"), [echo()], client="10.0.0.66", server=server, t=i * every)
        else:
            traffic.refused(client="10.0.0.66", server=server, t=i * every)
    return traffic.records()


def test_fires_on_many_endpoints() -> None:
    found = detections.run(sweep(10, answered=3), [RULE])
    (f,) = found
    assert (f.rule, f.severity.value, f.target) == (RULE, "medium", "10.0.0.66")
    assert (f.evidence["endpoints"], f.evidence["hosts"], f.evidence["max_in_window"]) == (10, 10, 10)
    assert (f.evidence["refused_or_unanswered"], f.evidence["dicom_answered"]) == (7, 3)
    assert_no_phi(found)


def test_ports_of_one_host_count_as_endpoints() -> None:
    traffic = Traffic()
    for i, port in enumerate((104, 2761, 2762, 4242, 11112, 8042, 1040, 5678)):
        traffic.refused(client="10.0.0.66", server="10.0.1.1", port=port, t=i)
    (f,) = detections.run(traffic.records(), [RULE])
    assert (f.evidence["endpoints"], f.evidence["hosts"]) == (8, 1)


def test_quiet_below_the_threshold() -> None:
    assert detections.run(sweep(7), [RULE]) == []
    assert detections.run(sweep(10, every=120.0), [RULE]) == []  # 10 hosts over 18 minutes: 6 per 10 minutes
    normal = Traffic()  # a modality storing to its PACS over and over is no sweep
    for i in range(20):
        normal.association(rq("PACS", "CT01"), [store(image(f"1.2.3.{i}"))], client="10.0.0.66", t=i)
    assert detections.run(normal.records(), [RULE]) == []


def test_thresholds_are_tunable() -> None:
    assert detections.run(sweep(10), [RULE], {RULE: {"min_endpoints": 11}}) == []
    assert len(detections.run(sweep(3), [RULE], {RULE: {"min_endpoints": 3}})) == 1
    assert len(detections.run(sweep(10, every=120.0), [RULE], {RULE: {"window_seconds": 1200}})) == 1
