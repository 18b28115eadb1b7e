"""Audit addon: gateway events on the bus become PS3.15 A.5 audit records; an observer's error is logged
by the bus and never reaches the relay (45 CFR 164.312(b))."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from radguard.audittrail.trail import AuditTrail
from radguard.gateway import bus as ev
from radguard.gateway.addons.audit import GatewayAudit, outcome_of
from radguard.gateway.hostile import Hostility
from radguard.gateway.pieces import End
from tests.support.gateway_addons import CT, assoc

FIND = "1.2.840.10008.5.1.4.1.2.2.1"


def _records(tmp_path: Path, *events: object) -> list[dict[str, object]]:
    trail = AuditTrail(jsonl=tmp_path / "a.jsonl")
    bus = ev.EventBus()
    GatewayAudit(trail, lambda: "RADGUARD", lambda: ("ORTHANC", "127.0.0.1")).subscribe(bus)
    for event in events:
        bus.publish(event)
    assert trail.flush()
    trail.close()
    path = tmp_path / "a.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_an_observer_error_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trail = AuditTrail(jsonl=tmp_path / "a.jsonl")
    bus = ev.EventBus()
    broken = GatewayAudit(trail, lambda: str(1 / 0), lambda: ("ORTHANC", "127.0.0.1"))  # fails on every record
    broken.subscribe(bus)
    GatewayAudit(trail, lambda: "RADGUARD", lambda: ("ORTHANC", "127.0.0.1")).subscribe(bus)
    with caplog.at_level(logging.ERROR, logger="radguard.gateway"):
        bus.publish(ev.StoreAnswered(assoc("CT01"), "P1", "1.2", CT, 0))  # logged, not raised
    assert "observer" in caplog.text and "StoreAnswered" in caplog.text and "ZeroDivisionError" in caplog.text
    assert trail.flush()
    trail.close()
    records = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["event"] == "110104"  # the other observer still wrote its record
    assert "P1" not in json.dumps(records)  # Patient ID hashed, never as it is


def test_stores_and_refusals(tmp_path: Path) -> None:
    a = assoc("CT01")
    records = _records(
        tmp_path,
        ev.StoreAnswered(a, "P1", "1.2", CT, 0),
        ev.StoreRefused(a, "P1", "1.2", CT, "reject by inspection: active-content", False, 0x0124),
        ev.StoreAnswered(a, "P1", "1.2", CT, None, "aborted by ORTHANC"),
        ev.RequestRefused(a, "C-FIND", "C-FIND not allowed for CT01"),
        ev.StoreAnswered(a, "P1", "1.2", CT, 0, stored_by=End.CLIENT),  # C-GET sub-operation
    )
    assert [r["event"] for r in records] == ["110104", "110113", "110104", "110104", "110113", "110104"]
    assert [r["outcome"] for r in records if r["event"] == "110104"] == ["0", "4", "8", "0"]
    assert "C-GET sub-operation" in json.dumps(records[5])
    assert "no upstream response (aborted by ORTHANC)" in json.dumps(records[3])
    assert "active-content" in json.dumps(records[1]) and "C-FIND refused" in json.dumps(records[4])


def test_associations_and_violations(tmp_path: Path) -> None:
    a = assoc("CT01")
    records = _records(
        tmp_path,
        ev.AssociationAccepted(a),
        ev.AssociationRejected(a, "calling AE 'X' not recognized"),
        ev.AssociationRejected(a, "upstream ORTHANC unavailable", unavailable=True),
        ev.ProtocolViolated(a, End.CLIENT, "bad PDU"),
        ev.ProtocolViolated(a, End.UPSTREAM, "bad PDU"),  # counted, not recorded
        ev.ProtocolViolated(a, End.CLIENT, "bad PDU", negotiating=True),  # a HostileConnection record, not this
        ev.AssociationClosed(a, "released"),
        ev.StoreForwarded(a),  # statistics only
    )
    assert [r["event"] for r in records] == ["110114", "110113", "110113", "110113", "110114"]
    assert "protocol violation: bad PDU" in json.dumps(records[3])
    # a protocol violation is a Node Authentication alert, not 110131 (Software Configuration)
    assert [r["event_types"] for r in records[1:4]] == [["110126"]] * 3


def test_hostile_acts_before_association_are_folded_per_source(tmp_path: Path) -> None:
    """The first act of a source is written at once; the rest of its window is one record with the count,
    written when the gateway stops (no running loop here: no timer)."""
    garbage = ev.HostileConnection("127.0.0.7", Hostility.NOT_DICOM, "unknown PDU type 0x67")
    records = _records(
        tmp_path,
        *[garbage] * 150,
        *[ev.HostileConnection("127.0.0.7", Hostility.ARTIM_TIMEOUT, "no A-ASSOCIATE-RQ")] * 49,
        ev.HostileConnection("127.0.0.8", Hostility.PENDING_LIMIT, "dropped"),
        ev.GatewayState(running=False),
    )
    alerts = [r for r in records if r["event"] == "110113"]
    assert len(alerts) == 3 and all(r["event_types"] == ["110126"] for r in alerts)
    first, other, folded = alerts
    assert first["objects"][0]["id"] == "127.0.0.7" and first["objects"][0]["details"]["count"] == "1"
    assert first["participants"][0] == {"user_id": "127.0.0.7", "requestor": True, "role": None,
                                        "host": "127.0.0.7"}
    assert "not-dicom" in str(first["description"]) and other["objects"][0]["id"] == "127.0.0.8"
    assert folded["objects"][0]["details"]["count"] == "198"
    assert folded["objects"][0]["details"]["kinds"] == "artim-timeout 49, not-dicom 149"
    assert records[-1]["event"] == "110100"  # the stop record comes after the counts


def test_query_keys_are_read_by_the_observer(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = Dataset()
    ds.PatientName = "DOE^JANE"
    ds.QueryRetrieveLevel = "STUDY"
    buf = DicomBytesIO()
    buf.is_little_endian, buf.is_implicit_VR = True, True
    write_dataset(buf, ds)
    records = _records(tmp_path, ev.QueryAnswered(assoc("WS01"), FIND, buf.getvalue(), "1.2.840.10008.1.2", 0))
    assert [r["event"] for r in records] == ["110112"]
    assert "DOE" not in json.dumps(records)  # keys, never values


def test_gateway_and_containment_records(tmp_path: Path) -> None:
    records = _records(tmp_path, ev.GatewayState(running=True), ev.ConfigReloaded(3), ev.ConfigReloaded(3, "bad"),
                       ev.ControlRefused("bad token"), ev.Contained("peer", {"aborted": 1}, "CT01"),
                       ev.GatewayState(running=False))
    assert [r["event"] for r in records] == ["110100", "110113", "110113", "110113", "110113", "110100"]
    assert "control socket: bad token" in json.dumps(records[3])
    assert "reload failed: bad" in json.dumps(records[2])
    assert [r["event_types"] for r in records[1:5]] == [["110131"], ["110131"], ["110132"], ["110129"]]


@pytest.mark.parametrize("status,outcome", [(0x0000, "0"), (0xB000, "0"), (0x0124, "4"), (None, "8")])
def test_outcome_of(status: int | None, outcome: str) -> None:
    assert outcome_of(status).value == outcome
