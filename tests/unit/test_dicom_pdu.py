"""PDU codecs and framing (PS3.8 §9.3): round trips, arbitrary fragmentation, hostile input."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radguard.dicom import uids
from radguard.dicom.enums import (
    AbortReason,
    AbortSource,
    ContextResult,
    PDUType,
    RejectReason,
    RejectReasonPresentation,
    RejectResult,
    RejectSource,
    UserIdentityType,
    reject_reason_name,
)
from radguard.dicom.framing import PDUFramer, plausible_pdu_start
from radguard.dicom.pdu import (
    PDU,
    PDV,
    Abort,
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    ExtendedNegotiation,
    PDataTF,
    PresentationContext,
    ReleaseRequest,
    ReleaseResponse,
    RoleSelection,
    UserIdentity,
    decode_pdu,
)
from radguard.errors import ProtocolError


def _rq() -> AssociateRequest:
    return AssociateRequest(
        called_ae="PACS", calling_ae="CT01",
        contexts=[PresentationContext(1, uids.VERIFICATION, [uids.IMPLICIT_VR_LITTLE_ENDIAN]),
                  PresentationContext(3, uids.CT_IMAGE_STORAGE,
                                      [uids.EXPLICIT_VR_LITTLE_ENDIAN, uids.IMPLICIT_VR_LITTLE_ENDIAN])],
        max_pdu_length=32768, async_ops=(1, 1),
        role_selections=[RoleSelection(uids.CT_IMAGE_STORAGE, False, True)],
        extended_negotiation=[ExtendedNegotiation(uids.STUDY_ROOT_QR_FIND, b"\x01\x01")],
        user_identity=UserIdentity(UserIdentityType.USERNAME_AND_PASSCODE, True, b"alice", b"secret"),
        unknown_user_items=[(0x5F, b"xyz")],
    )


def _ac() -> AssociateAccept:
    return AssociateAccept(
        called_ae="PACS", calling_ae="CT01",
        contexts=[PresentationContext(1, None, [uids.IMPLICIT_VR_LITTLE_ENDIAN], ContextResult.ACCEPTANCE),
                  PresentationContext(3, None, [uids.EXPLICIT_VR_LITTLE_ENDIAN],
                                      ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED)],
        max_pdu_length=0, user_identity_response=b"token",
    )


ALL_PDUS: list[PDU] = [
    _rq(), _ac(),
    AssociateReject(RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER, RejectReason.CALLING_AE_NOT_RECOGNIZED),
    PDataTF([PDV(1, True, True, b"\x00" * 10), PDV(3, False, False, b"abc")]),
    ReleaseRequest(), ReleaseResponse(),
    Abort(AbortSource.SERVICE_PROVIDER, AbortReason.UNEXPECTED_PDU),
]


@pytest.mark.parametrize("pdu", ALL_PDUS, ids=lambda p: type(p).__name__)
def test_round_trip(pdu: PDU) -> None:
    wire = pdu.encode()
    (pdu_type, body), = PDUFramer().feed(wire)
    assert pdu_type == wire[0]
    assert decode_pdu(pdu_type, body) == pdu
    assert len(body) == struct.unpack(">L", wire[2:6])[0]


def test_associate_request_wire_layout() -> None:
    wire = _rq().encode()
    assert wire[0] == PDUType.ASSOCIATE_RQ
    assert wire[6:8] == b"\x00\x01"  # protocol version (PS3.8 §9.3.2)
    assert wire[10:26] == b"PACS            "
    assert wire[26:42] == b"CT01            "
    assert wire[74] == 0x10  # application context item right after the 68-byte fixed part
    assert "secret" not in repr(_rq())


def test_decode_from_pynetdicom() -> None:
    from pynetdicom.pdu import A_ASSOCIATE_RQ
    from pynetdicom.pdu_primitives import A_ASSOCIATE, MaximumLengthNotification
    from pynetdicom.presentation import build_context

    prim = A_ASSOCIATE()
    prim.application_context_name = uids.APPLICATION_CONTEXT
    prim.calling_ae_title = "SCU"
    prim.called_ae_title = "ANY-SCP"
    ctx = build_context(uids.VERIFICATION)
    ctx.context_id = 1
    prim.presentation_context_definition_list = [ctx]
    ml = MaximumLengthNotification()
    ml.maximum_length_received = 12345
    prim.user_information = [ml]
    rq = A_ASSOCIATE_RQ()
    rq.from_primitive(prim)
    wire = rq.encode()
    decoded = decode_pdu(wire[0], wire[6:])
    assert isinstance(decoded, AssociateRequest)
    assert (decoded.called_ae, decoded.calling_ae, decoded.max_pdu_length) == ("ANY-SCP", "SCU", 12345)
    assert decoded.contexts[0].abstract_syntax == uids.VERIFICATION
    assert decoded.implementation_class_uid is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), max_size=30))
def test_framer_any_split(cuts: list[int]) -> None:
    stream = b"".join(p.encode() for p in ALL_PDUS)
    points = sorted({min(c * 3, len(stream)) for c in cuts})
    framer = PDUFramer()
    out: list[tuple[int, bytes]] = []
    prev = 0
    for point in [*points, len(stream)]:
        out.extend(framer.feed(stream[prev:point]))
        prev = point
    assert [decode_pdu(t, b) for t, b in out] == ALL_PDUS
    assert framer.buffered == 0 and framer.offset == len(stream)


def test_framer_guard_huge_length() -> None:
    framer = PDUFramer(max_pdu_length=1000)
    assert framer.feed(ReleaseRequest().encode()) == [(PDUType.RELEASE_RQ, bytes(4))]
    with pytest.raises(ProtocolError, match=r"offset 10 announces 4294967295 bytes"):
        framer.feed(b"\x04\x00\xff\xff\xff\xff")


@pytest.mark.parametrize(("pdu_type", "body", "message"), [
    (0x09, b"", "unknown PDU type 0x09"),
    (PDUType.ASSOCIATE_RQ, b"\x00\x01" + bytes(20), "shorter than its fixed"),
    (PDUType.ASSOCIATE_RQ, _rq().encode()[6:-3], "exceeds"),
    (PDUType.ASSOCIATE_RQ, bytes(68), "no application context"),
    (PDUType.ASSOCIATE_RJ, b"\x00\x09\x01\x01", "invalid result"),
    (PDUType.RELEASE_RQ, bytes(5), "must be 4 bytes"),
    (PDUType.ABORT, b"\x00\x00\x05\x00", "invalid source"),
    (PDUType.P_DATA_TF, b"", "no PDV"),
    (PDUType.P_DATA_TF, b"\x00\x00\x00\x10\x01\x03", "inconsistent"),
    (PDUType.P_DATA_TF, b"\x00\x00\x00\x02\x01\x07", "reserved bits"),
    (PDUType.P_DATA_TF, b"\x00\x00\x00", "truncated PDV header"),
])
def test_malformed(pdu_type: int, body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode_pdu(pdu_type, body)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=7), st.binary(max_size=300))
def test_random_bodies_never_crash(pdu_type: int, body: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_pdu(pdu_type, body)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=600), st.integers(min_value=0, max_value=255))
def test_corrupted_request_never_crashes(pos: int, value: int) -> None:
    wire = bytearray(_rq().encode())
    wire[pos % len(wire)] = value
    try:
        for t, b in PDUFramer().feed(bytes(wire)):
            decode_pdu(t, b)
    except ProtocolError:
        pass


def test_reject_reason_names() -> None:
    assert reject_reason_name(RejectSource.SERVICE_USER, 7) == "called-ae-not-recognized"
    assert reject_reason_name(RejectSource.SERVICE_PROVIDER_PRESENTATION,
                              RejectReasonPresentation.LOCAL_LIMIT_EXCEEDED) == "local-limit-exceeded"
    assert reject_reason_name(9, 9) == "reason-9"


def test_plausible_pdu_start() -> None:
    stream = PDataTF([PDV(1, False, False, b"x" * 100)]).encode() + ReleaseRequest().encode()
    assert plausible_pdu_start(stream, 0)
    assert not any(plausible_pdu_start(stream, i) for i in range(1, 20))
    assert plausible_pdu_start(stream, len(stream) - 10)
    assert not plausible_pdu_start(PDataTF([PDV(2, False, False, b"x")]).encode())  # even context id
