"""Hostile and broken traffic: malformed PDUs, oversize PDUs, hostile lengths, client aborts, floods.
The gateway aborts the offender, loses no accepted object, and keeps serving the others."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest

from radguard.dicom.dimse import c_store_rq, fragment
from radguard.dicom.events import AssociateAccepted
from radguard.dicom.pdu import PDV, Abort, AssociateRequest, PDataTF, PresentationContext
from radguard.dicom.uids import CT_IMAGE_STORAGE, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, VERIFICATION
from radguard.dicom.ul import Role, UpperLayer
from tests.integration.test_gateway_helpers import LOOPBACK, dcmtk, gateway_config, make_files
from tests.support.gateway_harness import GatewayThread
from tests.support.peers import Peer, start_storescp

pytestmark = pytest.mark.integration

CT01 = {"ae": "CT01", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-STORE"]}


def _associate(port: int) -> tuple[socket.socket, UpperLayer]:
    sock = socket.create_connection((LOOPBACK, port), timeout=10)
    ul = UpperLayer(Role.REQUESTOR)
    rq = AssociateRequest(called_ae="RADGUARD", calling_ae="CT01", contexts=[
        PresentationContext(1, VERIFICATION, [IMPLICIT_VR_LITTLE_ENDIAN]),
        PresentationContext(3, CT_IMAGE_STORAGE, [EXPLICIT_VR_LITTLE_ENDIAN])])
    sock.sendall(ul.send(rq))
    events = []
    while not events:
        events = ul.receive(sock.recv(65536))
    assert isinstance(events[0], AssociateAccepted)
    return sock, ul


def _closed_or_aborted(sock: socket.socket) -> bool:
    """True once the gateway sent an A-ABORT (type 0x07) or closed the connection."""
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
            data += chunk
            if data[:1] == b"\x07":
                return True
    except ConnectionResetError:
        return True


def _echo_ok(port: int) -> bool:
    return dcmtk(["echoscu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(port)]).returncode == 0


def test_malformed_oversize_and_aborts(tmp_path: Path) -> None:
    up = start_storescp(tmp_path, ae="UP", extra_args=["--fork"])
    cfg = gateway_config(tmp_path, upstream=(up.host, up.port), upstream_ae="UP", peers=[CT01],
                         limits={"max_pdu_length": 16384})
    files = make_files(tmp_path / "in", 1)
    try:
        with GatewayThread(cfg) as gw:
            port = gw.port
            # garbage instead of an A-ASSOCIATE-RQ
            s = socket.create_connection((LOOPBACK, port), timeout=10)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(64))
            assert _closed_or_aborted(s)
            s.close()
            # a hostile PDU length (4 GiB) is refused before any buffering
            s = socket.create_connection((LOOPBACK, port), timeout=10)
            s.sendall(struct.pack(">BBL", 1, 0, 0xFFFFFFF0) + bytes(100))
            assert _closed_or_aborted(s)
            s.close()
            # a P-DATA-TF larger than the negotiated maximum
            s, _ = _associate(port)
            s.sendall(PDataTF([PDV(1, True, True, bytes(16500))]).encode())  # negotiated: 16384
            assert _closed_or_aborted(s)
            s.close()
            # a data set cut off by the client's A-ABORT never reaches the upstream
            s, ul = _associate(port)
            cmd = c_store_rq(1, CT_IMAGE_STORAGE, "1.2.3.4.5")
            for pdu in fragment(3, cmd.encode(), None, ul.peer_max_pdu or 0):
                s.sendall(pdu)
            s.sendall(PDataTF([PDV(3, False, False, files[0].read_bytes()[200:8000])]).encode())
            s.sendall(ul.send(Abort()))
            assert _closed_or_aborted(s)
            s.close()
            # a client that just drops the TCP connection mid-association
            s, _ = _associate(port)
            s.close()
            assert _echo_ok(port)
            stats = gw.stats()
        assert stats["violations"] == 3
        assert stats.get("stores_forwarded", 0) == 0
        assert list(up.extra["store"].iterdir()) == []
    finally:
        up.stop()


def test_flood_does_not_starve_known_peers(tmp_path: Path, storescp: Peer) -> None:
    """Idle connections from one host beyond ``max_pending_per_host`` are dropped at once; unknown AEs
    are rejected; the known peer (another source address) is served all along."""
    import time

    cfg = gateway_config(tmp_path, upstream=(storescp.host, storescp.port), upstream_ae=storescp.ae, peers=[CT01])
    with GatewayThread(cfg) as gw:
        idle = [socket.create_connection((LOOPBACK, gw.port), timeout=10, source_address=("127.0.0.9", 0))
                for _ in range(300)]
        deadline = time.monotonic() + 20
        while gw.stats().get("connections", 0) < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        unknown = []
        for _ in range(20):
            s = socket.create_connection((LOOPBACK, gw.port), timeout=10, source_address=("127.0.0.8", 0))
            rq = AssociateRequest(called_ae="RADGUARD", calling_ae="FLOOD",
                                  contexts=[PresentationContext(1, VERIFICATION, [IMPLICIT_VR_LITTLE_ENDIAN])])
            s.sendall(rq.encode())
            unknown.append(s)
        rejected = 0
        for s in unknown:
            data = s.recv(16)
            rejected += data[:1] == b"\x03"  # A-ASSOCIATE-RJ
            s.close()
        assert rejected == 20
        assert _echo_ok(gw.port)
        for s in idle:
            s.close()
        stats = gw.stats()
    assert stats["connections_dropped"] == 300 - 32
    assert stats["associations_rejected"] == 20 and stats["associations_accepted"] == 1
