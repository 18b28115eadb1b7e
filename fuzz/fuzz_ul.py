"""Fuzz target ``ul``: the DICOM upper layer the gateway runs on every byte a peer sends.

Input: one byte of mode, then the peer's byte stream. The mode's two low bits choose the machine
(0: ACCEPTOR set up like the gateway's client side, 1: REQUESTOR after sending its A-ASSOCIATE-RQ,
like the gateway's upstream side, 2: OBSERVER from the start, 3: OBSERVER picked up mid-stream, like
the monitor); the other six bits a chunk size n (1 + n**3 bytes: 1, 2, 9, 28 ... 250048; at least 1/512 of the
stream).

Crash: :meth:`UpperLayer.receive` raises anything (it reports malformed or unexpected input as a
``ProtocolViolation`` event and never raises); the events differ between feeding the stream whole
and in chunks (TCP may cut it anywhere, PS3.8 §9.3.1); a decoded A-ASSOCIATE PDU changes on a
second encode -> decode round trip (the first may turn non-ASCII text into "?"); reading any
attribute of a decoded command set raises.
"""

from __future__ import annotations

import atheris

import common

with atheris.instrument_imports(include=["radguard"]):
    from radguard.dicom import events as ev
    from radguard.dicom import uids
    from radguard.dicom.dimse import Command
    from radguard.dicom.pdu import AssociateAccept, AssociateRequest, PresentationContext, decode_pdu
    from radguard.dicom.ul import Role, UpperLayer

#: what the gateway configures (gateway/relay.py: max_pdu_length, guard = max + 1024)
MAX_PDU = 1_048_576
#: the A-ASSOCIATE-RQ a REQUESTOR sends before it reads its peer's answer
REQUEST = AssociateRequest("PACS", "FUZZ", [PresentationContext(cid, uid, [uids.IMPLICIT_VR_LITTLE_ENDIAN])
                                           for cid, uid in common.REQUEST_CONTEXTS])
_PROPERTIES = [name for name, value in vars(Command).items() if isinstance(value, property)]


def _machine(mode: int) -> UpperLayer:
    if mode == 0:
        return UpperLayer(Role.ACCEPTOR, max_pdu_receive=MAX_PDU, pdu_length_guard=MAX_PDU + 1024, keep_wire=True)
    if mode == 1:
        ul = UpperLayer(Role.REQUESTOR, max_pdu_receive=MAX_PDU, pdu_length_guard=MAX_PDU + 1024, keep_wire=True)
        ul.send(REQUEST)
        return ul
    return UpperLayer(Role.OBSERVER, mid_stream=mode == 3)


def _feed(mode: int, stream: bytes, chunk: int) -> list[ev.Event]:
    ul = _machine(mode)
    out: list[ev.Event] = []
    for i in range(0, len(stream), chunk):
        out += ul.receive(stream[i:i + chunk], from_requestor=True if mode >= 2 else None)
    return out


def _round_trip(pdu: AssociateRequest | AssociateAccept) -> AssociateRequest | AssociateAccept:
    wire = pdu.encode()
    again = decode_pdu(wire[0], wire[6:])
    assert isinstance(again, type(pdu))
    return again


def _check(event: ev.Event) -> None:
    if isinstance(event, ev.CommandReceived):
        for name in _PROPERTIES:
            getattr(event.command, name)
    elif isinstance(event, (ev.AssociateRequested, ev.AssociateAccepted)):
        # encode -> decode is lossy only in characters (text the PS3.8 items restrict to ASCII is sent as
        # "?"), so one round trip normalises a PDU and a second must give it back unchanged
        once = _round_trip(event.pdu)
        assert _round_trip(once) == once, "A-ASSOCIATE PDU changes on re-encoding"


def test_one(data: bytes) -> None:
    if not data:
        return
    mode, chunk, stream = data[0] & 3, 1 + (data[0] >> 2) ** 3, data[1:]
    chunk = max(chunk, -(-len(stream) // 512))  # at most 512 reads: a 64 KiB input is not fed byte by byte
    whole = _feed(mode, stream, max(1, len(stream)))
    assert _feed(mode, stream, chunk) == whole, "events depend on where the stream is cut"
    for event in whole:
        _check(event)


if __name__ == "__main__":
    common.main(test_one)
