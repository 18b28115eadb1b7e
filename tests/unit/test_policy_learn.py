"""``policy learn`` on monitor records: peers kept after ``min_associations`` released associations, services,
SOP classes, move destinations and rates with their evidence, sub-operation destinations, hosts named by a
detection held back; the draft loads with the gateway's own loader; no DICOM is an error."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from radguard.errors import UsageError
from radguard.gateway.config import parse_config
from radguard.policy import draft
from radguard.policy.learn import RATE_FACTOR, RATE_HEADROOM, learn, margin
from radguard.policy.run import run_learn
from radguard.policy.traffic import from_captures
from tests.support.policy_records import CT, ECHO, FIND, MOVE, PACS, T0, association, traffic

WS_PORT = ("10.0.0.30", 11113)


def _department() -> list[list[dict[str, object]]]:
    day = [association("CT01", "10.0.0.21", T0, [("C-ECHO", ECHO, None)]),
           association("CT01", "10.0.0.21", T0 + 10, [("C-STORE", CT, None), ("C-STORE", CT, None)]),
           association("CT01", "10.0.0.21", T0 + 20, [("C-STORE", CT, None)]),
           association("WS01", "10.0.0.30", T0 + 30, [("C-FIND", FIND, None), ("C-MOVE", MOVE, "WS01")]),
           # the upstream's C-MOVE sub-operation toward WS01's storage SCP
           association("PACS", PACS[0], T0 + 31, [("C-STORE", CT, None)], server=WS_PORT, called="WS01"),
           association("RARE", "10.0.0.40", T0 + 40, [("C-ECHO", ECHO, None)]),
           association("CT01", "10.0.0.22", T0 + 50, [("C-STORE", CT, None)], end="aborted")]
    # an AE-guessing source: six rejected associations, then one accepted as CT01
    day += [association(f"GUESS{i}", "10.0.0.66", T0 + 60 + i, result="rejected") for i in range(6)]
    day.append(association("CT01", "10.0.0.66", T0 + 70, [("C-STORE", CT, None)]))
    return day


def test_learned_peers_and_evidence() -> None:
    p = learn(traffic(*_department()), min_associations=1)
    assert (p.upstream, p.upstream_ae) == (PACS, "PACS")
    assert set(p.peers) == {"CT01", "WS01", "RARE"}
    ct = p.peers["CT01"]
    assert list(ct.hosts) == ["10.0.0.21"]  # .22 only aborted, .66 held back
    assert set(ct.services) == {"C-ECHO", "C-STORE"} and ct.services["C-STORE"].count == 3
    assert set(ct.sop_classes) == {ECHO, CT}
    assert ct.association_peak == 3 and ct.request_peak == 4
    assert margin(3) == int(3 * RATE_FACTOR) + RATE_HEADROOM
    ws = p.peers["WS01"]
    assert ws.port == WS_PORT[1] and list(ws.hosts) == [WS_PORT[0]] and set(ws.move_destinations) == {"WS01"}
    assert ws.suboperations.count == 1
    guesses = {f"GUESS{i}": 1 for i in range(6)}
    assert p.held_back == [{"host": "10.0.0.66", "rules": ["ae-brute-force"], "whole_host": True,
                            "calling_aes": {"CT01": 1, **guesses}}]
    assert {(n["ae"], n["host"]) for n in p.not_kept} == {("CT01", "10.0.0.22")}
    assert p.entries == (1 + 2 + 2) + (1 + 2 + 2 + 1 + 1) + (1 + 1 + 1)  # CT01; WS01 with destination and port; RARE


def test_a_host_with_clean_pairs_keeps_them() -> None:
    """Harvesting names its calling AE: WS01 on 10.0.0.30 is held back, CT03 on the same host is kept."""
    harvest = association("WS01", "10.0.0.30", T0, [("C-FIND", FIND, None)] * 3)
    for q in harvest[1:]:
        q["query"] = {"level": "PATIENT", "broad": True, "wildcard_keys": ["PatientName"]}
    p = learn(traffic(harvest, association("CT03", "10.0.0.30", T0 + 5, [("C-STORE", CT, None)])))
    assert set(p.peers) == {"CT03"}
    assert p.held_back == [{"host": "10.0.0.30", "rules": ["query-harvesting"], "calling_aes": {"WS01": 1},
                            "whole_host": False}]


def test_min_associations_drops_rare_pairs() -> None:
    p = learn(traffic(*_department()), min_associations=2)
    assert set(p.peers) == {"CT01", "WS01"}  # WS01: the move destination keeps its port entry
    assert ("RARE", "10.0.0.40") in {(n["ae"], n["host"]) for n in p.not_kept}
    assert p.peers["WS01"].services == {} and p.peers["WS01"].note


def test_draft_loads_and_carries_its_evidence(tmp_path: Path) -> None:
    learned = run_learn(traffic(*_department()), "10.0.0.5:104", 1)
    cfg = parse_config(tomllib.loads(learned.config_text), tmp_path)
    assert cfg.upstream == PACS and cfg.ae_title == cfg.upstream_ae == "PACS" and cfg.listen == ("10.0.0.5", 104)
    ct = cfg.peers["CT01"]
    assert ct.allow == {"C-ECHO", "C-STORE"} and ct.sop_classes == {ECHO, CT} and ct.hosts == ("10.0.0.21",)
    assert ct.associations_per_minute == margin(3) and ct.requests_per_minute == margin(4)
    assert cfg.peers["WS01"].port == WS_PORT[1] and cfg.peers["WS01"].move_destinations == ("WS01",)
    text = learned.config_text
    assert "# CT Image Storage; 3x, first " in text and "HELD BACK" in text
    assert "10.0.0.66: seen only in detected attacks; ae-brute-force" in text
    assert any("held back" in w for w in learned.warnings)


def test_a_destination_never_reached_is_bound_to_its_callers_hosts() -> None:
    p = learn(traffic(association("WS02", "10.0.0.31", T0, [("C-MOVE", MOVE, "VIEWER")])))
    assert p.peers["VIEWER"].hosts.keys() == {"10.0.0.31"} and not p.peers["VIEWER"].services
    assert "never seen receiving" in p.peers["VIEWER"].note
    text = draft.render(p, "0.0.0.0:104")
    assert parse_config(tomllib.loads(text), Path(".")).peers["VIEWER"].allow == frozenset()


def test_no_dicom_is_an_error_not_an_empty_policy(tmp_path: Path) -> None:
    pcap = tmp_path / "empty.pcap"
    pcap.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))  # header only
    with pytest.raises(UsageError, match="no DICOM association"):
        from_captures([pcap])
    with pytest.raises(UsageError, match="no accepted DICOM association"):
        learn(traffic(association("X", "10.0.0.9", T0, result="rejected")))
    with pytest.raises(UsageError, match="--listen"):
        run_learn(traffic(*_department()), "gateway.example:104", 1)


def test_from_store_reads_every_monitor_run() -> None:
    from radguard.monitor.records_store import save_records
    from radguard.policy.traffic import from_store
    from radguard.store import open_store

    with pytest.raises(UsageError, match="no DICOM association in the store"):
        from_store()
    store = open_store()
    try:
        for day in (_department()[:3], _department()[3:5]):  # two runs: flow ids restart, the records do not mix
            run = store.start_run("pcap", {})
            save_records(store, run.id, [r for a in day for r in a])
            run.finish({})
    finally:
        store.close()
    t = from_store()
    assert t.sources == ["store run 1", "store run 2"] and len(t.associations) == 5
    p = learn(t)
    assert set(p.peers) == {"CT01", "WS01"} and p.peers["WS01"].port == WS_PORT[1]
