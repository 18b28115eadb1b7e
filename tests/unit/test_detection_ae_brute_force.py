"""``ae-brute-force``: rejected associations from one source, with several AE title pairs, in a window
(PS3.8 §9.3.4 A-ASSOCIATE-RJ), on records the analyzer builds from real PDUs."""

from __future__ import annotations

from typing import Any

from radguard.dicom.enums import RejectReason
from radguard.monitor import detections
from tests.support.wire import Traffic, assert_no_phi, echo, image, rj, rq, store

RULE = "ae-brute-force"


def guesses(n: int, *, every: float = 1.0, same_title: bool = False, accept_after: bool = False) -> list[Any]:
    """``n`` rejected guesses of a calling AE title from 10.0.0.9, ``every`` seconds apart."""
    traffic = Traffic()
    for i in range(n):
        calling = "GUESS" if same_title else f"GUESS{i}"
        traffic.association(rq("PACS", calling), reject=rj(RejectReason.CALLING_AE_NOT_RECOGNIZED),
                            client="10.0.0.9", t=i * every)
    if accept_after:
        traffic.association(rq("PACS", "CT01"), [echo(), store(image())], client="10.0.0.9", t=n * every)
    return traffic.records()


def test_fires_on_a_burst_of_guesses() -> None:
    (f,) = detections.run(guesses(5), [RULE])
    assert (f.rule, f.severity.value, f.target) == (RULE, "high", "10.0.0.2:104")
    assert f.evidence["source"] == "10.0.0.9" and f.evidence["rejected"] == 5 and f.evidence["max_in_window"] == 5
    assert f.evidence["reasons"] == {"calling-ae-not-recognized": 5}
    assert f.evidence["calling_ae_titles"] == [f"GUESS{i}" for i in range(5)]
    assert f.evidence["called_ae_titles"] == ["PACS"] and f.evidence["accepted_afterwards"] == 0
    assert f.evidence["mitre"] and f.controls and f.remediation


def test_quiet_below_the_threshold() -> None:
    assert detections.run(guesses(4), [RULE]) == []
    assert detections.run(guesses(5, every=200.0), [RULE]) == []  # 5 guesses over 800 s: never 5 in 300 s
    assert detections.run(guesses(5, same_title=True), [RULE]) == []  # one title retried is not guessing


def test_thresholds_are_tunable() -> None:
    records = guesses(5)
    assert detections.run(records, [RULE], {RULE: {"min_rejections": 6}}) == []
    assert len(detections.run(guesses(3), [RULE], {RULE: {"min_rejections": 3}})) == 1
    assert len(detections.run(guesses(5, every=200.0), [RULE], {RULE: {"window_seconds": 1000}})) == 1
    assert len(detections.run(guesses(5, same_title=True), [RULE], {RULE: {"min_distinct_titles": 1}})) == 1


def test_a_guess_that_worked_is_counted_and_no_phi_leaks() -> None:
    found = detections.run(guesses(6, accept_after=True), [RULE])
    (f,) = found
    assert f.evidence["accepted_afterwards"] == 1 and f.evidence["rejected"] == 6
    assert_no_phi(found)
