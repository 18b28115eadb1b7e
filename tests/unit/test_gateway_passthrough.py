"""Relay fast path: P-DATA-TF PDUs kept as they came (UpperLayer keep_wire) and uncopied stream chunks."""

from __future__ import annotations

import asyncio
from pathlib import Path

from radguard.dicom import uids
from radguard.dicom.dimse import c_store_rq, fragment
from radguard.dicom.enums import ContextResult
from radguard.dicom.events import CommandReceived, DataChunk
from radguard.dicom.pdu import PDV, AssociateAccept, AssociateRequest, PDataTF, PresentationContext
from radguard.dicom.ul import Role, UpperLayer
from radguard.gateway import streams
from radguard.gateway.pieces import HeldDataSet, data_pdus, pdvs

RQ = AssociateRequest("GW", "CT01", [PresentationContext(3, uids.CT_IMAGE_STORAGE, [uids.EXPLICIT_VR_LITTLE_ENDIAN])],
                      max_pdu_length=4096)
AC = AssociateAccept("GW", "CT01", [PresentationContext(3, None, [uids.EXPLICIT_VR_LITTLE_ENDIAN],
                                                        ContextResult.ACCEPTANCE)], max_pdu_length=4096)
STORE = c_store_rq(7, uids.CT_IMAGE_STORAGE, "1.2.3.4")
DATA = bytes(range(256)) * 40  # 10240 bytes: three fragments of at most 4090


def _acceptor(keep_wire: bool) -> UpperLayer:
    ul = UpperLayer(Role.ACCEPTOR, max_pdu_receive=4096, keep_wire=keep_wire)
    ul.receive(RQ.encode())
    ul.send(AC)
    return ul


def test_keep_wire_gives_each_single_pdv_pdu_as_it_came() -> None:
    pdus = fragment(3, STORE.encode(), DATA, 4096)
    events = _acceptor(True).receive(b"".join(pdus))
    assert [type(e) for e in events] == [CommandReceived, DataChunk, DataChunk, DataChunk]
    assert [e.wire for e in events] == pdus  # type: ignore[union-attr]
    assert b"".join(e.data for e in events if isinstance(e, DataChunk)) == DATA


def test_without_keep_wire_events_carry_no_wire() -> None:
    events = _acceptor(False).receive(b"".join(fragment(3, STORE.encode(), DATA, 4096)))
    assert len(events) == 4 and all(e.wire is None for e in events)  # type: ignore[union-attr]


def test_pdu_with_several_pdvs_or_a_split_command_has_no_wire() -> None:
    command = STORE.encode()
    two_pdvs = PDataTF([PDV(3, True, True, command), PDV(3, False, True, DATA[:100])]).encode()
    events = _acceptor(True).receive(two_pdvs)
    assert [type(e) for e in events] == [CommandReceived, DataChunk]
    assert all(e.wire is None for e in events)  # type: ignore[union-attr]
    split = [PDataTF([PDV(3, True, False, command[:20])]).encode(),
             PDataTF([PDV(3, True, True, command[20:])]).encode()]
    events = _acceptor(True).receive(b"".join(split))
    assert len(events) == 1 and isinstance(events[0], CommandReceived)
    assert events[0].raw == command and events[0].wire is None


def test_relay_forwards_pdus_that_fit_and_recuts_the_others() -> None:
    up = UpperLayer(Role.REQUESTOR, keep_wire=True)
    up.send(RQ)
    up.receive(AC.encode())  # the upstream accepts up to 4096 bytes
    wire = PDataTF([PDV(3, False, True, DATA)]).encode()  # one 10 kB PDU
    chunk = DataChunk(3, DATA, True, wire)
    assert data_pdus(chunk, up) == pdvs(3, DATA, True, 4096)  # too big: re-cut
    small = DataChunk(3, DATA[:1000], True, PDataTF([PDV(3, False, True, DATA[:1000])]).encode())
    assert data_pdus(small, up) == [small.wire]  # fits: untouched
    assert data_pdus(DataChunk(3, DATA[:1000], True), up) == [small.wire]  # no wire: encoded alike


def test_chunk_reader_delivers_every_byte_in_order_with_flow_control() -> None:
    payload = bytes(range(256)) * (12 * 1024)  # 3 MiB, above twice the reader limit

    async def scenario() -> bytes:
        received = bytearray()
        done = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(0.2)  # let the sender run ahead: reading must pause, nothing is lost
            while chunk := await reader.read(65536):
                received.extend(chunk)
            writer.close()
            done.set()

        server = await streams.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _reader, writer = await streams.open_connection("127.0.0.1", port)
        writer.write(payload)
        await writer.drain()
        writer.close()
        await asyncio.wait_for(done.wait(), 30)
        server.close()
        return bytes(received)

    assert asyncio.run(scenario()) == payload


def _pdu(value: bytes, last: bool) -> bytes:
    return PDataTF([PDV(3, False, last, value)]).encode()


def test_held_data_set_forwards_the_pdus_it_received(tmp_path: Path) -> None:
    parts = [DATA[:4000], DATA[4000:8000], DATA[8000:]]
    held = HeldDataSet(tmp_path, 1 << 20, 4096)
    for i, part in enumerate(parts):
        held.add(part, _pdu(part, i == 2))
    assert held.size == len(DATA) and held.data() == DATA
    assert list(held.pdus(3)) == [_pdu(p, i == 2) for i, p in enumerate(parts)]
    held.close()


def test_held_data_set_recuts_when_a_pdu_does_not_fit_or_is_missing(tmp_path: Path) -> None:
    held = HeldDataSet(tmp_path, 1 << 20, 4096)
    held.add(DATA[:4000], _pdu(DATA[:4000], False))
    held.add(DATA[4000:], None)  # came in a PDU with several PDVs
    assert held.data() == DATA
    assert list(held.pdus(3)) == pdvs(3, DATA[:4090], False, 4096) + pdvs(3, DATA[4090:8180], False, 4096) + \
        pdvs(3, DATA[8180:], True, 4096)
    too_big = HeldDataSet(tmp_path, 1 << 20, 4096)
    too_big.add(DATA, _pdu(DATA, True))  # 10 kB PDU, upstream takes 4 kB
    assert too_big.data() == DATA and b"".join(too_big.pdus(3)) == b"".join(pdvs(3, DATA, True, 4096))


def test_held_data_set_spills_to_the_spool_directory(tmp_path: Path) -> None:
    held = HeldDataSet(tmp_path, 5000, 4096)
    for i in range(0, len(DATA), 2000):
        part = DATA[i:i + 2000]
        held.add(part, _pdu(part, i + 2000 >= len(DATA)))
    assert held.data() == DATA
    assert b"".join(held.pdus(3)) == b"".join(pdvs(3, DATA, True, 4096))
    held.close()
