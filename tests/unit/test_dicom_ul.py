"""The association state machine (PS3.8 §9.2): every role, arbitrary byte boundaries, hostile input."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radguard.dicom import uids
from radguard.dicom.dimse import c_echo_rq, c_echo_rsp, c_find_rq, c_store_rq, c_store_rsp, fragment
from radguard.dicom.enums import AbortSource, ContextResult, RejectReason, RejectResult, RejectSource, Status
from radguard.dicom.events import (
    Aborted,
    AssociateAccepted,
    AssociateRejected,
    AssociateRequested,
    CommandReceived,
    DataChunk,
    Event,
    ProtocolViolation,
    ReleaseConfirmed,
    ReleaseRequested,
)
from radguard.dicom.messages import MessageAssembler
from radguard.dicom.pdu import (
    PDV,
    Abort,
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    PDataTF,
    PresentationContext,
    ReleaseRequest,
    ReleaseResponse,
)
from radguard.dicom.ul import Role, State, UpperLayer
from radguard.errors import ProtocolError

RQ = AssociateRequest("PACS", "CT01", [
    PresentationContext(1, uids.VERIFICATION, [uids.IMPLICIT_VR_LITTLE_ENDIAN]),
    PresentationContext(3, uids.CT_IMAGE_STORAGE, [uids.EXPLICIT_VR_LITTLE_ENDIAN]),
    PresentationContext(5, uids.MR_IMAGE_STORAGE, [uids.EXPLICIT_VR_LITTLE_ENDIAN]),
], max_pdu_length=1000)
AC = AssociateAccept("PACS", "CT01", [
    PresentationContext(1, None, [uids.IMPLICIT_VR_LITTLE_ENDIAN], ContextResult.ACCEPTANCE),
    PresentationContext(3, None, [uids.EXPLICIT_VR_LITTLE_ENDIAN], ContextResult.ACCEPTANCE),
    PresentationContext(5, None, [uids.EXPLICIT_VR_LITTLE_ENDIAN], ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED),
], max_pdu_length=2000)
DATA = bytes(range(256)) * 20
STORE = c_store_rq(2, uids.CT_IMAGE_STORAGE, "1.2.3")
REQUESTOR_STREAM = b"".join([RQ.encode(), *fragment(1, c_echo_rq(1).encode(), None, 2000),
                             *fragment(3, STORE.encode(), DATA, 2000), ReleaseRequest().encode()])
ACCEPTOR_STREAM = b"".join([AC.encode(), *fragment(1, c_echo_rsp(1).encode(), None, 1000),
                            *fragment(3, c_store_rsp(2, uids.CT_IMAGE_STORAGE, "1.2.3").encode(), None, 1000),
                            ReleaseResponse().encode()])


def _summary(events: list[Event]) -> list[object]:
    out: list[object] = []
    data = bytearray()
    for e in events:
        if isinstance(e, DataChunk):
            data += e.data
            if e.last:
                out.append(("data", e.context_id, bytes(data)))
                data.clear()
        elif isinstance(e, CommandReceived):
            out.append(("cmd", e.context_id, e.command.command_field))
        else:
            out.append(type(e).__name__)
    return out


EXPECTED_AT_ACCEPTOR = ["AssociateRequested", ("cmd", 1, c_echo_rq(1).command_field),
                        ("cmd", 3, STORE.command_field), ("data", 3, DATA), "ReleaseRequested"]


def _acceptor_events(chunks: list[bytes]) -> tuple[UpperLayer, list[Event]]:
    ul = UpperLayer(Role.ACCEPTOR, max_pdu_receive=2000)
    events: list[Event] = []
    for chunk in chunks:
        for event in ul.receive(chunk):
            events.append(event)
            if isinstance(event, AssociateRequested):
                ul.send(AC)
    return ul, events


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(REQUESTOR_STREAM) - 1), max_size=40))
def test_acceptor_any_split(cuts: list[int]) -> None:
    # a conformant requestor sends nothing between its A-ASSOCIATE-RQ and the answer (P-DATA in Sta3 is AA-8)
    points = [0, *sorted(set(cuts) | {len(RQ.encode())}), len(REQUESTOR_STREAM)]
    chunks = [REQUESTOR_STREAM[a:b] for a, b in itertools.pairwise(points)]
    ul, events = _acceptor_events(chunks)
    assert _summary(events) == EXPECTED_AT_ACCEPTOR
    assert all(e.from_requestor is True for e in events)
    assert ul.state is State.STA8
    assert ul.contexts == {1: (uids.VERIFICATION, uids.IMPLICIT_VR_LITTLE_ENDIAN),
                           3: (uids.CT_IMAGE_STORAGE, uids.EXPLICIT_VR_LITTLE_ENDIAN)}
    assert ul.peer_max_pdu == 1000
    ul.send(ReleaseResponse())
    assert ul.closed


def test_requestor_flow() -> None:
    ul = UpperLayer(Role.REQUESTOR)
    assert ul.state is State.STA4
    ul.send(RQ)
    events = ul.receive(ACCEPTOR_STREAM[: len(AC.encode()) + 5])
    assert [type(e) for e in events] == [AssociateAccepted]
    assert ul.peer_max_pdu == 2000
    ul.send(ReleaseRequest())
    events = ul.receive(ACCEPTOR_STREAM[len(AC.encode()) + 5:])
    assert _summary(events) == [("cmd", 1, c_echo_rsp(1).command_field),
                                ("cmd", 3, c_store_rsp(2, None, None).command_field), "ReleaseConfirmed"]
    assert ul.closed and ul.state is State.STA1


def test_observer_interleaved() -> None:
    ul = UpperLayer(Role.OBSERVER)
    events = ul.receive(REQUESTOR_STREAM[:len(RQ.encode())], from_requestor=True)
    events += ul.receive(ACCEPTOR_STREAM[:len(AC.encode())], from_requestor=False)
    events += ul.receive(REQUESTOR_STREAM[len(RQ.encode()):], from_requestor=True)
    events += ul.receive(ACCEPTOR_STREAM[len(AC.encode()):], from_requestor=False)
    assert _summary(events) == [*EXPECTED_AT_ACCEPTOR[:1], "AssociateAccepted", *EXPECTED_AT_ACCEPTOR[1:],
                                ("cmd", 1, c_echo_rsp(1).command_field),
                                ("cmd", 3, c_store_rsp(2, None, None).command_field), "ReleaseConfirmed"]
    assert [e.from_requestor for e in events][:2] == [True, False]
    assert ul.closed and ul.request == RQ and ul.accept == AC
    with pytest.raises(ValueError):
        UpperLayer(Role.OBSERVER).receive(b"x")
    with pytest.raises(ProtocolError):
        ul.send(Abort())


def test_observer_reject() -> None:
    ul = UpperLayer(Role.OBSERVER)
    ul.receive(RQ.encode(), from_requestor=True)
    rj = AssociateReject(RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER,
                         RejectReason.CALLED_AE_NOT_RECOGNIZED)
    events = ul.receive(rj.encode(), from_requestor=False)
    assert events == [AssociateRejected(rj, from_requestor=False)]
    assert ul.closed and ul.reject == rj


def test_observer_mid_stream_resyncs_on_first_command() -> None:
    ul = UpperLayer(Role.OBSERVER, mid_stream=True)
    tail = fragment(3, STORE.encode(), DATA, 500)
    # the capture starts inside a data set: orphan data fragments are skipped, then a whole message follows
    stream = b"".join(tail[3:]) + b"".join(fragment(3, STORE.encode(), DATA, 500))
    events = ul.receive(stream, from_requestor=True)
    assert _summary(events) == [("cmd", 3, STORE.command_field), ("data", 3, DATA)]
    assert ul.skipped_bytes(True) > 0 and 3 in ul.contexts


def _violation(ul: UpperLayer, data: bytes, **kw: bool) -> ProtocolViolation:
    events = ul.receive(data, **kw)
    assert isinstance(events[-1], ProtocolViolation), events
    assert ul.closed and ul.state is State.STA13
    assert ul.receive(ReleaseRequest().encode(), **kw) == []  # closed: input ignored
    return events[-1]


def _established() -> UpperLayer:
    ul = UpperLayer(Role.ACCEPTOR, max_pdu_receive=2000)
    ul.receive(RQ.encode())
    ul.send(AC)
    return ul


@pytest.mark.parametrize(("make", "data", "message"), [
    (lambda: UpperLayer(Role.ACCEPTOR), PDataTF([PDV(1, True, True, b"")]).encode(),
     "unexpected P-DATA-TF in state STA2"),
    (lambda: UpperLayer(Role.ACCEPTOR), AC.encode(), "unexpected A-ASSOCIATE-AC"),
    (lambda: UpperLayer(Role.ACCEPTOR), b"\x09\x00\x00\x00\x00\x00", "unknown PDU type 0x09"),
    (lambda: UpperLayer(Role.ACCEPTOR, pdu_length_guard=100), b"\x01\x00\x7f\xff\xff\xff", "above the limit"),
    (_established, RQ.encode(), "unexpected A-ASSOCIATE-RQ in state STA6"),
    (_established, PDataTF([PDV(1, False, False, b"x" * 3000)]).encode(), "exceeds the negotiated maximum"),
    (_established, PDataTF([PDV(5, True, True, c_echo_rq(1).encode())]).encode(), "context 5, which was not"),
    (_established, PDataTF([PDV(3, False, True, b"xx")]).encode(), "without a command"),
    (_established, PDataTF([PDV(1, True, True, b"\x00\x00\x00")]).encode(), "truncated element header"),
    (_established, PDataTF([PDV(3, True, True, STORE.encode()), PDV(1, True, True, c_echo_rq(2).encode())]).encode(),
     "while a data set is incomplete"),
    (_established, PDataTF([PDV(3, True, False, b"\x00\x00"), PDV(1, True, True, b"")]).encode(), "interleaved"),
    (_established, PDataTF([PDV(3, True, True, STORE.encode()), PDV(1, False, True, b"")]).encode(),
     "while context 3's is open"),
    (_established, ReleaseResponse().encode(), "unexpected A-RELEASE-RP in state STA6"),
])
def test_violations(make: object, data: bytes, message: str) -> None:
    ul = make()  # type: ignore[operator]
    violation = _violation(ul, data)
    assert message in violation.message
    assert violation.from_requestor is True


def test_pipelined_data_before_accept_is_a_violation() -> None:
    ul = UpperLayer(Role.ACCEPTOR)
    events = ul.receive(REQUESTOR_STREAM)
    assert isinstance(events[0], AssociateRequested)
    assert isinstance(events[1], ProtocolViolation) and "STA3" in events[1].message


def test_violation_offset_points_at_bad_pdu() -> None:
    ul = _established()
    good = fragment(1, c_echo_rq(1).encode(), None, 2000)[0]
    events = ul.receive(good + b"\x0a\x00\x00\x00\x00\x00")
    assert isinstance(events[0], CommandReceived)
    assert isinstance(events[1], ProtocolViolation)
    assert events[1].offset == len(RQ.encode()) + len(good)


def test_abort_closes() -> None:
    ul = _established()
    events = ul.receive(Abort(AbortSource.SERVICE_PROVIDER, 2).encode())
    assert isinstance(events[0], Aborted) and ul.closed


def test_send_checks_transitions() -> None:
    ul = UpperLayer(Role.ACCEPTOR)
    with pytest.raises(ProtocolError, match="cannot send ASSOCIATE_AC in state STA2"):
        ul.send(AC)
    ul.receive(RQ.encode())
    with pytest.raises(ProtocolError):
        ul.send(RQ)
    with pytest.raises(ProtocolError):
        ul.send_dimse(1, c_echo_rsp(1))
    ul.send(AC)
    assert len(ul.send_dimse(3, c_store_rq(1, uids.CT_IMAGE_STORAGE, "1"), DATA)) > 3  # peer max is 1000
    with pytest.raises(ProtocolError, match="context 5 was not accepted"):
        ul.send_dimse(5, c_echo_rq(1))
    with pytest.raises(ProtocolError):
        ul.send(PDataTF([PDV(7, True, True, b"")]))
    ul.send(Abort())
    assert ul.closed


def test_reject_by_acceptor() -> None:
    ul = UpperLayer(Role.ACCEPTOR)
    ul.receive(RQ.encode())
    wire = ul.send(AssociateReject(RejectResult.REJECTED_TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION, 2))
    assert wire == b"\x03\x00\x00\x00\x00\x04\x00\x02\x03\x02" and ul.closed


def test_release_collision() -> None:
    req = UpperLayer(Role.REQUESTOR)
    req.send(RQ)
    req.receive(AC.encode())
    req.send(ReleaseRequest())
    assert [type(e) for e in req.receive(ReleaseRequest().encode())] == [ReleaseRequested]
    assert req.state is State.STA9
    req.send(ReleaseResponse())
    assert req.state is State.STA11
    assert [type(e) for e in req.receive(ReleaseResponse().encode())] == [ReleaseConfirmed]
    assert req.closed

    acc = _established()
    acc.send(ReleaseRequest())
    acc.receive(ReleaseRequest().encode())
    assert acc.state is State.STA10
    acc.receive(ReleaseResponse().encode())
    assert acc.state is State.STA12
    acc.send(ReleaseResponse())
    assert acc.closed


def test_message_assembler() -> None:
    ul = _established()
    asm = MessageAssembler(max_dataset=len(DATA))
    msgs = [m for e in ul.receive(b"".join(fragment(3, STORE.encode(), DATA, 2000))) if (m := asm.feed(e))]
    assert len(msgs) == 1 and msgs[0].dataset == DATA and msgs[0].command == STORE
    small = MessageAssembler(max_dataset=100)
    with pytest.raises(ProtocolError, match="larger than 100"):
        for e in _established().receive(b"".join(fragment(3, STORE.encode(), DATA, 2000))):
            small.feed(e)
    ul2 = _established()
    msgs = [m for e in ul2.receive(b"".join(fragment(1, c_find_rq(4, uids.STUDY_ROOT_QR_FIND).encode(), b"", 2000)))
            if (m := MessageAssembler().feed(e))]
    assert msgs == []  # the FIND identifier arrived in a separate event: a fresh assembler per event sees no head


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_garbage_never_raises(data: bytes, observer: bool) -> None:
    ul = UpperLayer(Role.OBSERVER) if observer else UpperLayer(Role.ACCEPTOR)
    kw = {"from_requestor": True} if observer else {}
    events = ul.receive(RQ.encode()[:40] + data, **kw) + ul.receive(data, **kw)
    assert all(not isinstance(e, DataChunk) for e in events)


def test_status_success_from_echo_rsp() -> None:
    ul = UpperLayer(Role.REQUESTOR)
    ul.send(RQ)
    ul.receive(AC.encode())
    (event,) = ul.receive(fragment(1, c_echo_rsp(1).encode(), None, 1000)[0])
    assert isinstance(event, CommandReceived) and event.command.status == Status.SUCCESS
