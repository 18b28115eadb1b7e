"""``unknown-peer`` (baseline): an accepted association by an AE title the baseline does not know, or from
an address the baseline never saw it use; records and baseline both come from the analyzer."""

from __future__ import annotations

from typing import Any

from radguard.monitor import detections
from radguard.monitor.baseline import learn
from tests.support.wire import Traffic, assert_no_phi, echo, image, rq, store

RULE = "unknown-peer"


def associations(*peers: tuple[str, str], rejected: bool = False) -> list[Any]:
    """One accepted association (echo + store) per (calling AE, address)."""
    traffic = Traffic()
    for i, (calling, client) in enumerate(peers):
        traffic.association(rq("PACS", calling), [echo(), store(image(f"1.2.3.{i}"))], client=client, t=float(i))
    return traffic.records()


BASELINE = learn(associations(("CT01", "10.0.0.5"), ("WS01", "10.0.0.6")))


def run(records: list[Any], **thresholds: Any) -> list[Any]:
    return detections.run(records, [RULE], {RULE: thresholds}, context={"baseline": BASELINE})


def test_fires_on_a_known_title_from_a_new_address() -> None:
    found = run(associations(("CT01", "10.0.0.99")))
    (f,) = found
    assert (f.rule, f.severity.value, f.target) == (RULE, "medium", "10.0.0.2:104")
    assert (f.evidence["calling_ae"], f.evidence["source"], f.evidence["known_ae"]) == ("CT01", "10.0.0.99", True)
    assert f.evidence["known_addresses"] == ["10.0.0.5"] and f.evidence["associations"] == 1
    assert_no_phi(found)


def test_fires_on_an_unknown_title() -> None:
    (f,) = run(associations(("EVIL", "10.0.0.5")))
    assert f.evidence["known_ae"] is False and f.evidence["known_addresses"] == []


def test_quiet_for_known_peers_and_without_a_baseline() -> None:
    assert run(associations(("CT01", "10.0.0.5"), ("WS01", "10.0.0.6"))) == []
    assert detections.run(associations(("EVIL", "10.0.0.99")), [RULE]) == []


def test_thresholds_are_tunable() -> None:
    once = associations(("EVIL", "10.0.0.99"))
    assert run(once, min_associations=2) == []
    (f,) = run(associations(("EVIL", "10.0.0.99"), ("EVIL", "10.0.0.99")), min_associations=2)
    assert f.evidence["associations"] == 2
