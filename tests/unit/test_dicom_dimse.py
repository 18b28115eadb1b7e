"""DIMSE command sets (PS3.7 §E.1) and fragmentation (PS3.8 Annex E.2)."""

from __future__ import annotations

import struct

import pytest
from pydicom.dataset import Dataset

from radguard.dicom import uids
from radguard.dicom.dimse import (
    Command,
    c_cancel_rq,
    c_echo_rq,
    c_echo_rsp,
    c_find_rq,
    c_get_rq,
    c_move_rq,
    c_store_rq,
    c_store_rsp,
    decode_command,
    fragment,
    fragment_stream,
    response,
)
from radguard.dicom.enums import CommandField, Priority, Status, StatusCategory, status_category
from radguard.dicom.framing import PDUFramer
from radguard.dicom.pdu import PDataTF, decode_pdu
from radguard.errors import ProtocolError


def _pydicom_decode(raw: bytes) -> Dataset:
    from io import BytesIO

    from pynetdicom.dsutils import decode
    return decode(BytesIO(raw), True, True)


BUILT = [
    c_echo_rq(1), c_echo_rsp(1), c_find_rq(7, uids.STUDY_ROOT_QR_FIND, Priority.HIGH),
    c_store_rq(3, uids.CT_IMAGE_STORAGE, "1.2.3.4", move_originator_ae="WS01", move_originator_id=9),
    c_store_rsp(3, uids.CT_IMAGE_STORAGE, "1.2.3.4", Status.OUT_OF_RESOURCES, "disk full"),
    c_move_rq(5, uids.STUDY_ROOT_QR_MOVE, "EVIL"), c_get_rq(6, uids.PATIENT_ROOT_QR_GET), c_cancel_rq(7),
]


@pytest.mark.parametrize("cmd", BUILT, ids=lambda c: c.command_field.name if c.command_field else "?")
def test_round_trip_and_pydicom_agrees(cmd: Command) -> None:
    raw = cmd.encode()
    assert decode_command(raw) == cmd
    ds = _pydicom_decode(raw)
    assert ds.CommandField == cmd.command_field
    assert ds.CommandGroupLength == len(raw) - 12
    assert (ds.CommandDataSetType != 0x0101) == cmd.has_dataset


def test_fields() -> None:
    store = c_store_rq(3, uids.CT_IMAGE_STORAGE, "1.2.3.4", move_originator_ae="WS01", move_originator_id=9)
    assert (store.command_field, store.message_id, store.sop_class_uid, store.affected_sop_instance_uid,
            store.move_originator_ae, store.move_originator_message_id, store.has_dataset, store.priority) == (
        CommandField.C_STORE_RQ, 3, uids.CT_IMAGE_STORAGE, "1.2.3.4", "WS01", 9, True, Priority.MEDIUM)
    move = c_move_rq(5, uids.STUDY_ROOT_QR_MOVE, "EVIL")
    rsp = response(move, Status.PENDING, sub_operations=(4, 1, 0, 0))
    assert (rsp.command_field, rsp.message_id_being_responded_to, rsp.status_category, rsp.remaining_sub_operations,
            rsp.completed_sub_operations, rsp.failed_sub_operations, rsp.warning_sub_operations) == (
        CommandField.C_MOVE_RSP, 5, StatusCategory.PENDING, 4, 1, 0, 0)
    assert move.move_destination == "EVIL"
    refused = response(c_find_rq(2, uids.STUDY_ROOT_QR_FIND), Status.NOT_AUTHORIZED, error_comment="no")
    assert decode_command(refused.encode()).error_comment == "no"
    with pytest.raises(ProtocolError):
        response(c_cancel_rq(1), Status.SUCCESS)


def test_command_field_enum() -> None:
    assert CommandField.C_STORE_RQ.service == "C-STORE"
    assert CommandField.N_EVENT_REPORT_RSP.service == "N-EVENT-REPORT"
    assert CommandField.C_CANCEL_RQ.service == "C-CANCEL"
    assert CommandField.C_FIND_RQ.is_request and not CommandField.C_FIND_RSP.is_request
    assert CommandField.C_GET_RQ.response is CommandField.C_GET_RSP


@pytest.mark.parametrize(("code", "category"), [
    (0x0000, StatusCategory.SUCCESS), (0xFF00, StatusCategory.PENDING), (0xFF01, StatusCategory.PENDING),
    (0xFE00, StatusCategory.CANCEL), (0x0001, StatusCategory.WARNING), (0xB007, StatusCategory.WARNING),
    (0x0107, StatusCategory.WARNING), (0xA700, StatusCategory.FAILURE), (0xC000, StatusCategory.FAILURE),
    (0x0122, StatusCategory.FAILURE), (0x0124, StatusCategory.FAILURE), (0x0211, StatusCategory.FAILURE),
])
def test_status_category(code: int, category: StatusCategory) -> None:
    assert status_category(code) is category


def test_decode_from_pynetdicom_encoder() -> None:
    from pynetdicom.dimse_messages import C_STORE_RQ
    from pynetdicom.dimse_primitives import C_STORE

    prim = C_STORE()
    prim.MessageID = 12
    prim.AffectedSOPClassUID = uids.MR_IMAGE_STORAGE
    prim.AffectedSOPInstanceUID = "1.2.3"
    prim.Priority = 2
    prim.MoveOriginatorApplicationEntityTitle = "MOVER"
    prim.MoveOriginatorMessageID = 3
    prim.DataSet = None
    msg = C_STORE_RQ()
    msg.primitive_to_message(prim)
    from pynetdicom.dsutils import encode

    raw = encode(msg.command_set, True, True)
    assert raw is not None
    cmd = decode_command(raw)
    assert (cmd.command_field, cmd.message_id, cmd.sop_class_uid, cmd.affected_sop_instance_uid, cmd.priority,
            cmd.move_originator_ae, cmd.move_originator_message_id) == (
        CommandField.C_STORE_RQ, 12, uids.MR_IMAGE_STORAGE, "1.2.3", Priority.LOW, "MOVER", 3)


@pytest.mark.parametrize(("raw", "message"), [
    (b"\x00\x00\x00\x01", "truncated element header"),
    (struct.pack("<HHL", 0, 0x0100, 10) + b"\x01\x00", "exceeds"),
    (struct.pack("<HHL", 8, 0x0018, 2) + b"ab", "outside group 0000"),
    (struct.pack("<HHL", 0, 0x0110, 2) + b"\x01\x00", "no valid Command Field"),
])
def test_malformed_commands(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_command(raw)


def test_unknown_elements_kept_raw() -> None:
    raw = c_echo_rq(1).encode()[12:] + struct.pack("<HHL", 0, 0x4000, 4) + b"abcd"
    cmd = decode_command(raw)
    assert cmd.elements[0x4000] == b"abcd"
    assert decode_command(cmd.encode()) == cmd


def _pdvs(pdus: list[bytes]) -> list[tuple[int, bool, bool, bytes]]:
    out = []
    for t, body in PDUFramer().feed(b"".join(pdus)):
        pdu = decode_pdu(t, body)
        assert isinstance(pdu, PDataTF)
        out.extend((p.context_id, p.is_command, p.is_last, p.data) for p in pdu.pdvs)
    return out


def test_fragment_sizes() -> None:
    cmd = c_store_rq(1, uids.CT_IMAGE_STORAGE, "1.2").encode()
    data = bytes(range(256)) * 100
    pdus = fragment(5, cmd, data, 1000)
    assert all(len(p) <= 1006 for p in pdus)
    pdvs = _pdvs(pdus)
    assert b"".join(d for _, c, _, d in pdvs if c) == cmd
    assert b"".join(d for _, c, _, d in pdvs if not c) == data
    assert [last for _, c, last, _ in pdvs if not c].count(True) == 1 and pdvs[-1][2]
    assert len(fragment(1, cmd, None, 0)) == 1
    with pytest.raises(ValueError):
        fragment(1, cmd, None, 6)


def test_fragment_stream_matches_fragment() -> None:
    data = bytes(range(256)) * 50
    chunks = [data[i:i + 777] for i in range(0, len(data), 777)]
    streamed = list(fragment_stream(3, chunks, 512))
    assert _pdvs(streamed) == _pdvs(fragment(3, b"", data, 512))[1:]
    assert _pdvs(list(fragment_stream(3, [], 512))) == [(3, False, True, b"")]


def test_command_field_is_the_enum_member_or_none() -> None:
    from radguard.dicom.dimse import COMMAND_FIELD, Command

    for value in [*(int(m) for m in CommandField), 0, 2, 0x1234, 0x8000, -1, 2**40, True]:
        try:
            expected: CommandField | None = CommandField(value)
        except ValueError:
            expected = None
        assert Command({COMMAND_FIELD: value}).command_field is expected
    assert Command({COMMAND_FIELD: "1"}).command_field is None
    assert Command({}).command_field is None
