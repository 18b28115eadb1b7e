"""The sans-io association (:mod:`radguard.gateway.association`) driven directly: upper-layer events in,
commands and queued PDUs out, no sockets. The relay that carries the commands out is tested end to end in
tests/integration/test_gateway*.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from radguard.dicom import uids
from radguard.dicom.dimse import (
    Command,
    c_echo_rq,
    c_echo_rsp,
    c_find_rq,
    c_store_rq,
    c_store_rsp,
    decode_command,
    fragment,
)
from radguard.dicom.enums import ContextResult, Status
from radguard.dicom.events import Event
from radguard.dicom.pdu import AssociateAccept, AssociateRequest, PresentationContext, ReleaseRequest, decode_pdata
from radguard.dicom.ul import Role, UpperLayer
from radguard.gateway import association as association_module
from radguard.gateway import bus
from radguard.gateway.addons.allowlist import Allowlist
from radguard.gateway.addons.inspection import Inspection
from radguard.gateway.addons.operations import Operations
from radguard.gateway.association import Association
from radguard.gateway.commands import CheckStore, Close, Continue, Publish, Send, SendHeld
from radguard.gateway.config import InspectAction, InspectionConfig
from radguard.gateway.pieces import End, Outbox
from radguard.gateway.policy import PolicyEngine, StoreData
from radguard.models import Finding, Severity
from tests.support.gateway_addons import Ctx, assoc, gateway_config

IMPLICIT = uids.IMPLICIT_VR_LITTLE_ENDIAN
CONTEXTS = [PresentationContext(1, uids.VERIFICATION, [IMPLICIT]),
            PresentationContext(3, uids.CT_IMAGE_STORAGE, [IMPLICIT]),
            PresentationContext(5, uids.STUDY_ROOT_QR_FIND, [IMPLICIT])]
MAX_PDU = 4096


def _ct() -> tuple[bytes, tuple[str, str]]:
    """CT_small as the bare implicit VR data set a C-STORE carries, and its (Patient ID, Study Instance UID)."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = dcmread(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]
    buf = DicomBytesIO()
    buf.is_little_endian, buf.is_implicit_VR = True, True
    write_dataset(buf, ds)
    return buf.getvalue(), (str(ds.PatientID), str(ds.StudyInstanceUID))


class Pair:
    """An association between CT01 and the upstream through a sans-io :class:`Association`, and the two
    peers' own upper layers that talk to it."""

    def __init__(self, tmp: Path, addons: Sequence[object] = ()) -> None:
        ctx = Ctx(gateway_config(tmp))
        self.info = assoc("CT01")
        assert Allowlist(ctx).on_associate(self.info).allowed
        self.engine = PolicyEngine([Operations(ctx), *addons])
        rq = AssociateRequest("RADGUARD", "CT01", CONTEXTS, max_pdu_length=MAX_PDU)
        ac = AssociateAccept("RADGUARD", "CT01", [PresentationContext(c.id, None, [IMPLICIT], ContextResult.ACCEPTANCE)
                                                  for c in CONTEXTS], max_pdu_length=MAX_PDU)
        self.scu = UpperLayer(Role.REQUESTOR)  # the modality
        self.scp = UpperLayer(Role.ACCEPTOR)  # the PACS
        self.client = UpperLayer(Role.ACCEPTOR, max_pdu_receive=MAX_PDU, keep_wire=True)
        self.up = UpperLayer(Role.REQUESTOR, max_pdu_receive=MAX_PDU, keep_wire=True)
        self.client.receive(self.scu.send(rq))
        self.scp.receive(self.up.send(rq))
        self.up.receive(self.scp.send(ac))
        self.scu.receive(self.client.send(ac))
        self.outboxes = (Outbox(), Outbox())
        self.assoc = Association(self.info, self.client, self.up, self.outboxes, self.engine, tmp)

    def from_client(self, wire: Sequence[bytes]) -> list[tuple[Event, Sequence[object]]]:
        return [(ev, self.assoc.from_client(ev)) for ev in self.client.receive(b"".join(wire))]

    def from_upstream(self, wire: Sequence[bytes]) -> list[tuple[Event, Sequence[object]]]:
        return [(ev, self.assoc.from_upstream(ev)) for ev in self.up.receive(b"".join(wire))]

    def queued(self, end: End) -> list[bytes]:
        box = self.outboxes[end]
        out, box.pdus = box.pdus, []
        return out


def _command_of(pdus: Sequence[bytes]) -> Command:
    return decode_command(b"".join(decode_pdata(p[6:]).pdvs[0].data for p in pdus))


def _events(commands: Sequence[object]) -> list[object]:
    return [c.event for c in commands if isinstance(c, Publish)]


def test_a_request_and_its_response_are_relayed_as_they_came(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    wire = fragment(1, c_echo_rq(7).encode(), None, MAX_PDU)
    [(_, commands)] = pair.from_client(wire)
    assert commands == () and pair.queued(End.UPSTREAM) == wire  # untouched, waits for the next write
    assert not pair.outboxes[End.UPSTREAM].hold
    rsp = fragment(1, c_echo_rsp(7).encode(), None, MAX_PDU)
    [(_, commands)] = pair.from_upstream(rsp)
    send, then = commands
    assert send == Send(End.CLIENT, rsp) and isinstance(then, Continue)  # the client's answer first
    assert then.step() == () and pair.assoc.pending == {}


def test_a_store_streams_through_without_on_store_hooks(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    data, ids = _ct()
    wire = fragment(3, c_store_rq(9, uids.CT_IMAGE_STORAGE, "1.2.3").encode(), data, MAX_PDU)
    results = pair.from_client(wire[:1])
    assert _events(results[0][1]) == [bus.StoreForwarded(pair.info)]
    assert pair.outboxes[End.UPSTREAM].hold  # the command waits for its first data fragment
    pair.from_client(wire[1:2])
    assert not pair.outboxes[End.UPSTREAM].hold
    pair.from_client(wire[2:])
    assert pair.queued(End.UPSTREAM) == wire  # every PDU as it came
    pair.assoc.sent()  # the data set is on its way: its identifiers are read now, off the response's path
    assert (pair.assoc.pending[9].patient_id, pair.assoc.pending[9].study_uid) == ids
    [(_, commands)] = pair.from_upstream(fragment(3, c_store_rsp(9, uids.CT_IMAGE_STORAGE, "1.2.3").encode(),
                                                  None, MAX_PDU))
    assert isinstance(commands[0], Send) and commands[0].to is End.CLIENT
    assert isinstance(commands[1], Continue)
    assert _events(commands[1].step()) == [bus.StoreAnswered(pair.info, *ids, uids.CT_IMAGE_STORAGE, 0)]


def test_a_refused_request_is_answered_and_its_data_set_dropped(tmp_path: Path) -> None:
    pair = Pair(tmp_path)  # CT01 may not C-FIND
    results = pair.from_client(fragment(5, c_find_rq(4, uids.STUDY_ROOT_QR_FIND).encode(), b"\x08\x00\x52\x00"
                                        b"\x06\x00\x00\x00STUDY ", MAX_PDU))
    (_, commands), (_, dropped) = results
    refused, send = commands
    assert isinstance(refused, Publish) and isinstance(refused.event, bus.RequestRefused)
    assert isinstance(send, Send) and send.to is End.CLIENT
    rsp = _command_of(send.pdus)
    assert rsp.status == Status.NOT_AUTHORIZED and rsp.message_id_being_responded_to == 4
    assert dropped == () and pair.queued(End.UPSTREAM) == []  # nothing reached the upstream


def _held_store(pair: Pair, data: bytes) -> CheckStore:
    wire = fragment(3, c_store_rq(9, uids.CT_IMAGE_STORAGE, "1.2.3").encode(), data, MAX_PDU)
    results = pair.from_client(wire)
    assert all(c == () for _, c in results[:-1]) and pair.queued(End.UPSTREAM) == []  # held, not relayed
    [check] = results[-1][1]
    assert isinstance(check, CheckStore) and check.store.spool.data() == data
    return check


def _checked(pair: Pair, check: CheckStore, data: bytes) -> list[object]:
    """What the driver does with a CheckStore: the engine's on_store, then the association's answer."""
    held = check.store
    verdict = pair.engine.on_store(pair.info, StoreData(data, held.transfer_syntax, held.target,
                                                        held.pending.command))
    return list(pair.assoc.store_checked(held, data, verdict))


def test_a_held_store_is_forwarded_with_its_pdus_as_they_came(tmp_path: Path) -> None:
    pair = Pair(tmp_path, [Inspection(lambda: InspectionConfig(quarantine=tmp_path / "q"))])
    data, ids = _ct()
    wire = fragment(3, c_store_rq(9, uids.CT_IMAGE_STORAGE, "1.2.3").encode(), data, MAX_PDU)
    check = _held_store(pair, data)
    commands = _checked(pair, check, data)
    send, forwarded = commands
    assert isinstance(send, SendHeld) and send.head == wire[:1] and list(send.store.spool.pdus(3)) == wire[1:]
    assert forwarded == Publish(bus.StoreForwarded(pair.info)) and pair.assoc.pending[9].patient_id == ids[0]


def test_each_relayed_data_set_is_parsed_once(tmp_path: Path) -> None:
    """Counted on the walker (:func:`radguard.dicom.dataset.parse_count`): a held C-STORE is parsed by the
    inspection only (its parse gives the identifiers too); one streamed through is read once for them."""
    from radguard.dicom.dataset import parse_count

    data, ids = _ct()
    pair = Pair(tmp_path, [Inspection(lambda: InspectionConfig(quarantine=tmp_path / "q"))])
    before = parse_count()
    _checked(pair, _held_store(pair, data), data)
    pair.assoc.sent()
    [(_, commands)] = pair.from_upstream(fragment(3, c_store_rsp(9, uids.CT_IMAGE_STORAGE, "1.2.3").encode(),
                                                  None, MAX_PDU))
    assert isinstance(commands[1], Continue)
    assert _events(commands[1].step()) == [bus.StoreAnswered(pair.info, *ids, uids.CT_IMAGE_STORAGE, 0)]
    assert parse_count() - before == 1
    pair = Pair(tmp_path)  # no on_store hook: cut-through
    before = parse_count()
    pair.from_client(fragment(3, c_store_rq(9, uids.CT_IMAGE_STORAGE, "1.2.3").encode(), data, MAX_PDU))
    pair.assoc.sent()
    [(_, commands)] = pair.from_upstream(fragment(3, c_store_rsp(9, uids.CT_IMAGE_STORAGE, "1.2.3").encode(),
                                                  None, MAX_PDU))
    assert isinstance(commands[1], Continue)
    assert _events(commands[1].step()) == [bus.StoreAnswered(pair.info, *ids, uids.CT_IMAGE_STORAGE, 0)]
    assert parse_count() - before == 1


def test_the_held_data_set_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The inspection's own parse gives the audit identifiers: the association does not read them again."""
    pair = Pair(tmp_path, [Inspection(lambda: InspectionConfig(quarantine=tmp_path / "q"))])
    data, ids = _ct()
    check = _held_store(pair, data)

    def second_parse(*args: object) -> tuple[str, str]:
        raise AssertionError("parsed a second time")

    monkeypatch.setattr(association_module, "identifiers", second_parse)
    _checked(pair, check, data)
    assert (pair.assoc.pending[9].patient_id, pair.assoc.pending[9].study_uid) == ids


@pytest.mark.parametrize("rule,action", [("active-content", InspectAction.REJECT),
                                         ("malformed", InspectAction.QUARANTINE)])
def test_a_refused_store_is_answered_0124_and_never_relayed(tmp_path: Path, rule: str, action: InspectAction) -> None:
    def checker(data: bytes, ts: str, target: str) -> list[Finding]:
        return [Finding(rule=rule, severity=Severity.HIGH, title=rule, target=target)]

    cfg = InspectionConfig(malformed=InspectAction.QUARANTINE, quarantine=tmp_path / "q")
    pair = Pair(tmp_path, [Inspection(lambda: cfg, checker)])
    data, ids = _ct()
    commands = _checked(pair, _held_store(pair, data), data)
    names = [type(c).__name__ for c in commands]
    assert names == (["Quarantine"] if action is InspectAction.QUARANTINE else []) + ["Publish", "Send"]
    [refused] = _events(commands)
    assert isinstance(refused, bus.StoreRefused) and refused.quarantined is (action is InspectAction.QUARANTINE)
    assert (refused.patient_id, refused.study_uid) == ids  # read by the association: the checker did not parse
    send = commands[-1]
    assert isinstance(send, Send) and _command_of(send.pdus).status == Status.NOT_AUTHORIZED
    assert pair.queued(End.UPSTREAM) == [] and pair.assoc.pending == {}


def test_a_malformed_data_set_is_refused_by_default_and_never_relayed(tmp_path: Path) -> None:
    """Issue 16 item 7: with the default ``[inspection]`` a data set the checks cannot parse does not reach the
    PACS (it used to be forwarded with an alert, and the PACS then aborted)."""
    from dataclasses import replace

    data, _ids = _ct()
    truncated = data[: len(data) // 2]  # an interrupted or deliberately cut data set: the walk stops
    pair = Pair(tmp_path, [Inspection(lambda: replace(InspectionConfig(), quarantine=tmp_path / "q"))])
    commands = _checked(pair, _held_store(pair, truncated), truncated)
    [refused] = _events(commands)
    assert isinstance(refused, bus.StoreRefused) and not refused.quarantined
    assert refused.detail.startswith("reject by inspection") and "malformed" in refused.detail, refused.detail
    send = commands[-1]
    assert isinstance(send, Send) and _command_of(send.pdus).status == Status.NOT_AUTHORIZED
    assert pair.queued(End.UPSTREAM) == [] and pair.assoc.pending == {}
    assert not (tmp_path / "q").exists()  # rejected, not kept


def test_a_crashing_hook_refuses_the_store(tmp_path: Path) -> None:
    def checker(data: bytes, ts: str, target: str) -> list[Finding]:
        raise MemoryError

    pair = Pair(tmp_path, [Inspection(lambda: InspectionConfig(quarantine=tmp_path / "q"), checker)])
    data, _ = _ct()
    commands = _checked(pair, _held_store(pair, data), data)
    [refused] = _events(commands)
    assert isinstance(refused, bus.StoreRefused) and refused.detail == "reject by inspection: MemoryError"


def test_release_abort_and_violations(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    [(_, commands)] = pair.from_client([pair.scu.send(ReleaseRequest())])
    [send] = commands
    assert isinstance(send, Send) and send.to is End.UPSTREAM and send.pdus[0][0] == 0x05  # A-RELEASE-RQ
    pair = Pair(tmp_path)
    [(_, commands)] = pair.from_client([b"\x07\x00\x00\x00\x00\x04\x00\x00\x00\x00"])  # A-ABORT
    assert commands == (Close("aborted by the client"),)
    pair = Pair(tmp_path)
    [(_, commands)] = pair.from_upstream([b"\x01\x00\x00\x00\x00\x04\x00\x00\x00\x00"])  # A-ASSOCIATE-RQ now
    violated, abort = commands
    assert isinstance(violated, Publish) and isinstance(violated.event, bus.ProtocolViolated)
    assert violated.event.by is End.UPSTREAM and abort == Close("protocol violation by ORTHANC", provider=True)


def test_unanswered_stores_are_told_at_the_end(tmp_path: Path) -> None:
    pair = Pair(tmp_path)
    data, ids = _ct()
    pair.from_client(fragment(3, c_store_rq(9, uids.CT_IMAGE_STORAGE, "1.2.3").encode(), data, MAX_PDU))
    assert pair.assoc.unanswered("aborted by ORTHANC") == [
        bus.StoreAnswered(pair.info, *ids, uids.CT_IMAGE_STORAGE, None, "aborted by ORTHANC")]
