"""Honeytoken addon: a relayed C-FIND, C-MOVE/C-GET or C-STORE naming a honeytoken study becomes a
Security Alert (PS3.15 A.5.3.13) on the gateway's audit trail; other traffic does not; the UIDs come
from the honeytoken file; the addon only observes (no decision hook)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radguard.audittrail.trail import AuditTrail
from radguard.dicom import uids
from radguard.gateway import bus as ev
from radguard.gateway.addons.audit import GatewayAudit
from radguard.gateway.addons.honeytoken import HoneytokenWatch
from radguard.gateway.pieces import End
from radguard.policy.honeytokens import generate
from radguard.store.honeytokens import append_file
from tests.support.gateway_addons import CT, assoc
from tests.support.wire import dataset_bytes, query

STUDY = generate(1, root="2.25.7654321")[0]
OTHER = "1.2.826.0.1.3680043.8.498.42"


def _alerts(tmp_path: Path, *events: object,
            tokens: frozenset[str] | None = None) -> tuple[int, list[dict[str, object]]]:
    trail = AuditTrail(jsonl=tmp_path / "audit.jsonl")
    audit = GatewayAudit(trail, lambda: "RADGUARD", lambda: ("PACS", "127.0.0.1"))
    watch = HoneytokenWatch(STUDY.uids() if tokens is None else tokens, lambda: audit)
    bus = ev.EventBus()
    watch.subscribe(bus)
    for event in events:
        bus.publish(event)
    assert trail.flush()
    trail.close()
    path = tmp_path / "audit.jsonl"
    return watch.alerts, [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_a_query_naming_a_honeytoken_is_a_security_alert(tmp_path: Path) -> None:
    ident = dataset_bytes(query("STUDY", StudyInstanceUID=STUDY.study_uid, PatientName=""))
    n, records = _alerts(tmp_path, ev.QueryAnswered(assoc("WS01"), uids.STUDY_ROOT_QR_FIND, ident,
                                                    uids.IMPLICIT_VR_LITTLE_ENDIAN, 0))
    assert n == 1
    (rec,) = records
    assert rec["event"] == "110113" and rec["event_types"] == ["110132"]  # use of restricted function
    assert "honeytoken-touched" in str(rec["description"]) and "C-FIND by WS01@127.0.0.1" in str(rec["description"])


def test_retrieves_and_stores_of_a_honeytoken_study(tmp_path: Path) -> None:
    a = assoc("WS01")
    n, records = _alerts(
        tmp_path,
        ev.RetrieveStarted(a, "C-MOVE", "EXFIL", f"{OTHER}\\{STUDY.study_uid}", "123"),
        ev.RetrieveStarted(a, "C-GET", "WS01", STUDY.study_uid, "123"),
        ev.StoreAnswered(a, "123", STUDY.study_uid, CT, 0, stored_by=End.CLIENT),  # a C-GET sub-operation
    )
    assert n == 3 and [r["event"] for r in records] == ["110113"] * 3
    assert ["C-MOVE" in str(r["description"]) for r in records] == [True, False, False]


def test_other_studies_and_no_honeytokens_are_quiet(tmp_path: Path) -> None:
    other = dataset_bytes(query("STUDY", StudyInstanceUID=OTHER))
    events = (ev.QueryAnswered(assoc("WS01"), uids.STUDY_ROOT_QR_FIND, other, uids.IMPLICIT_VR_LITTLE_ENDIAN, 0),
              ev.RetrieveStarted(assoc("WS01"), "C-MOVE", "WS01", OTHER, "1"))
    assert _alerts(tmp_path, *events) == (0, [])
    hit = ev.RetrieveStarted(assoc("WS01"), "C-MOVE", "WS01", STUDY.study_uid, "1")
    assert _alerts(tmp_path, hit, tokens=frozenset()) == (0, [])


def test_uids_come_from_the_honeytoken_file(tmp_path: Path) -> None:
    watch = HoneytokenWatch.from_file(lambda: None)
    assert watch.uids == frozenset()  # no file yet (XDG_DATA_HOME is the test's own)
    path = append_file(STUDY.uids())
    assert HoneytokenWatch.from_file(lambda: None).uids == frozenset(STUDY.uids())
    append_file([*STUDY.uids(), "not a uid", "1" * 65])  # kept once; lines that are not UIDs are skipped
    assert len(path.read_text().splitlines()) == len(STUDY.uids()) and path.stat().st_mode & 0o777 == 0o600


def test_it_is_an_observer_not_a_decision(tmp_path: Path) -> None:
    watch = HoneytokenWatch(STUDY.uids(), lambda: None)
    assert not any(hasattr(watch, hook) for hook in ("on_associate", "on_request", "on_store"))
    watch_bus = ev.EventBus()
    watch.subscribe(watch_bus)
    watch_bus.publish(ev.RetrieveStarted(assoc("WS01"), "C-GET", "WS01", STUDY.study_uid, "1"))  # no audit: logged
    assert watch.alerts == 1


def test_a_new_plant_is_picked_up_without_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from radguard.gateway.addons import honeytoken

    monkeypatch.setattr(honeytoken, "RECHECK_SECONDS", 0.0)
    path = tmp_path / "honeytokens.txt"
    watch = HoneytokenWatch.from_file(lambda: None, path)  # no file yet: nothing known, but watching
    bus = ev.EventBus()
    watch.subscribe(bus)
    hit = ev.RetrieveStarted(assoc("WS01"), "C-GET", "WS01", STUDY.study_uid, "1")
    bus.publish(hit)
    assert watch.alerts == 0
    append_file(STUDY.uids(), path)
    os.utime(path, (1, 1))  # a modification time unlike the (absent) one seen before, whatever the clock
    bus.publish(hit)
    assert watch.alerts == 1 and watch.uids == frozenset(STUDY.uids())
