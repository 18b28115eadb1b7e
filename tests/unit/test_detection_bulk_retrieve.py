"""``bulk-retrieve`` (baseline): C-MOVE volume far above a peer's baseline, or a destination the baseline
never saw, on records the analyzer builds from real PDUs; the baseline is learned from records too."""

from __future__ import annotations

from typing import Any

from radguard.monitor import detections
from radguard.monitor.baseline import learn
from tests.support.wire import Traffic, assert_no_phi, move, rq

RULE = "bulk-retrieve"


def moves(*ops: tuple[str, int], client: str = "10.0.0.5") -> list[Any]:
    traffic = Traffic()
    traffic.association(rq("PACS", "WS01"), [move(dest, n, message_id=i + 1) for i, (dest, n) in enumerate(ops)],
                        client=client)
    return traffic.records()


BASELINE = learn(moves(("WS01", 50)))


def run(records: list[Any], **thresholds: Any) -> list[Any]:
    return detections.run(records, [RULE], {RULE: thresholds}, context={"baseline": BASELINE})


def test_the_baseline_is_learned_from_records() -> None:
    assert BASELINE["peers"] == {"WS01": ["10.0.0.5"]} and BASELINE["move_destinations"] == ["WS01"]
    assert BASELINE["retrieve_objects"] == {"WS01": 50}


def test_fires_on_a_new_destination() -> None:
    found = run(moves(("EVIL", 10)))
    (f,) = found
    assert (f.rule, f.severity.value, f.target) == (RULE, "high", "10.0.0.2:104")
    assert f.evidence["new_destinations"] == ["EVIL"] and f.evidence["calling_ae"] == "WS01"
    assert f.evidence["objects_retrieved"] == 10 and f.evidence["baseline_objects"] == 50
    assert_no_phi(found)


def test_fires_on_volume_above_factor_times_baseline() -> None:
    (f,) = run(moves(("WS01", 100), ("WS01", 60)))  # 160 > 3 x 50
    assert f.evidence["objects_retrieved"] == 160 and f.evidence["new_destinations"] == []


def test_quiet_below_the_threshold_and_without_a_baseline() -> None:
    assert run(moves(("WS01", 150))) == []  # exactly 3 x 50 is not above it
    assert run(moves(("WS01", 90))) == []
    assert detections.run(moves(("EVIL", 1000)), [RULE]) == []  # no baseline: the rule stays quiet


def test_thresholds_are_tunable() -> None:
    assert run(moves(("WS01", 160)), factor=4.0) == []
    assert len(run(moves(("WS01", 90)), factor=1.5, min_objects=50)) == 1  # 90 > max(50, 1.5 x 50)
    assert run(moves(("WS01", 120)), min_objects=500) == []  # 120 > 3 x 50, but below the floor
    assert run(moves(("EVIL", 10)), new_destination=False) == []

