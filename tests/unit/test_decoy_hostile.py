"""The decoy server against hostile peers, in process on loopback: a response or an unknown command where a
request belongs, a hostile PDU length, a C-STORE without its data set, a flood of connections that never
associate. Each is answered (A-ABORT, a status, a drop) and alerted; the server keeps serving."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from radguard.dicom import events as ev
from radguard.dicom import uids
from radguard.dicom.dimse import Command, c_echo_rq, c_echo_rsp, c_store_rq
from radguard.dicom.pdu import AssociateRequest, PresentationContext, ReleaseRequest
from radguard.dicom.ul import Role, UpperLayer
from radguard.policy.decoy import Decoy, DecoyLimits, bind
from radguard.policy.decoy_alerts import AlertSink
from radguard.policy.decoy_services import profile
from radguard.policy.honeytokens import generate

CONTEXTS = [PresentationContext(1, uids.VERIFICATION, [uids.IMPLICIT_VR_LITTLE_ENDIAN]),
            PresentationContext(3, uids.CT_IMAGE_STORAGE, [uids.IMPLICIT_VR_LITTLE_ENDIAN])]


async def _session(port: int, commands: list[tuple[int, Command, bytes | None]] | None = None,
                   raw: bytes | None = None) -> list[ev.Event]:
    """Associate, send ``commands`` (or ``raw`` bytes after the association), return what came back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    ul = UpperLayer(Role.REQUESTOR)
    writer.write(ul.send(AssociateRequest("ANY", "HOSTILE", CONTEXTS)))
    got: list[ev.Event] = []
    while not any(isinstance(e, ev.AssociateAccepted) for e in got):
        got += ul.receive(await asyncio.wait_for(reader.read(65536), 5))
    for ctx, cmd, data in commands or []:
        for chunk in ul.send_dimse(ctx, cmd, data):
            writer.write(chunk)
    if raw is not None:
        writer.write(raw)
    else:
        await writer.drain()
        while not any(isinstance(e, (ev.CommandReceived, ev.Aborted)) for e in got):
            got += ul.receive(await asyncio.wait_for(reader.read(65536), 5))
        if not ul.closed:
            writer.write(ul.send(ReleaseRequest()))
    await writer.drain()
    try:
        while not ul.closed:
            data = await asyncio.wait_for(reader.read(65536), 2)
            if not data:
                break
            got += ul.receive(data)
    except TimeoutError:
        pass
    writer.close()
    return got


def test_hostile_peers_are_answered_and_alerted(tmp_path: Path) -> None:
    async def main() -> tuple[list[list[ev.Event]], list[str], dict[str, int]]:
        sink = AlertSink("decoy", "x", path=tmp_path / "alerts.jsonl")
        decoy = Decoy(profile(None), generate(2, root="2.25.99", seed=b"x"), sink,
                      DecoyLimits(max_pending_per_host=3, associations_per_minute=100))
        sock = bind("127.0.0.1", 0)
        port = sock.getsockname()[1]
        await decoy.start(sock)
        results = [
            await _session(port, [(1, c_echo_rsp(1), None)]),  # a response where a request belongs
            await _session(port, [(1, Command({0x0100: 0x7777, 0x0110: 1, 0x0800: 0x0101}), None)]),
            await _session(port, raw=struct.pack(">BBL", 4, 0, 0xFFFFFFFF)),  # a 4 GiB P-DATA-TF
            await _session(port, [(3, c_store_rq(2, uids.CT_IMAGE_STORAGE, "1.2.3"), b"\x08\x00\x18\x00" * 64)]),
            await _session(port, [(1, c_echo_rq(3), None)]),  # and it still answers
        ]
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]  # never associate
        await asyncio.sleep(0.3)
        for _, w in idle:
            w.close()
        await decoy.stop()
        sink.close()
        events = [line.split('"event": "')[1].split('"')[0]
                  for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
        return results, events, dict(decoy.stats)

    results, events, stats = asyncio.run(main())
    for got in results[:3]:
        assert any(isinstance(e, ev.Aborted) for e in got), got
    store_rsp = [e.command for e in results[3] if isinstance(e, ev.CommandReceived)]
    echo_rsp = [e.command for e in results[4] if isinstance(e, ev.CommandReceived)]
    assert [c.status for c in store_rsp] == [0] and [c.status for c in echo_rsp] == [0]
    assert events.count("protocol-violation") == 3 and "C-STORE" in events and "C-ECHO" in events
    assert events.count("connection-flood") == 2 and stats["connections_dropped"] == 2
