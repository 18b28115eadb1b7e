"""``association-flood``: a burst of associations from one source to one server, on records the
analyzer builds from real PDUs."""

from __future__ import annotations

from typing import Any

from radguard.monitor import detections
from tests.support.wire import Traffic, assert_no_phi, echo, image, rq, store

RULE = "association-flood"


def burst(n: int, *, every: float, client: str = "10.0.0.5") -> list[Any]:
    traffic = Traffic()
    for i in range(n):
        traffic.association(rq("PACS", "CT01"), [echo()] if i else [store(image())], client=client, t=i * every)
    return traffic.records()


def test_fires_on_a_burst() -> None:
    found = detections.run(burst(100, every=0.1), [RULE])
    (f,) = found
    assert (f.rule, f.severity.value, f.target) == (RULE, "medium", "10.0.0.2:104")
    assert f.evidence["source"] == "10.0.0.5" and f.evidence["associations"] == 100
    assert f.evidence["max_in_window"] == 100 and f.evidence["window_seconds"] == 60.0
    assert_no_phi(found)


def test_quiet_below_the_threshold() -> None:
    assert detections.run(burst(99, every=0.1), [RULE]) == []


def test_thresholds_are_tunable() -> None:
    slow = burst(20, every=10.0)  # 20 associations over 190 s: at most 7 in any minute
    assert detections.run(slow, [RULE], {RULE: {"min_associations": 10}}) == []
    (f,) = detections.run(slow, [RULE], {RULE: {"min_associations": 10, "window_seconds": 300}})
    assert f.evidence["max_in_window"] == 20
    (f,) = detections.run(slow, [RULE], {RULE: {"min_associations": 7}})
    assert f.evidence["max_in_window"] == 7


def test_sources_are_counted_apart() -> None:
    records = burst(60, every=0.1) + burst(60, every=0.1, client="10.0.0.6")
    assert detections.run(records, [RULE]) == []  # 120 associations, but 60 from each source
