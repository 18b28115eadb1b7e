"""Attacks before association leave an audit record (issue 16 item 2): garbage bytes, an oversized PDU
announcement, P-DATA before association, an ARTIM timeout and a pending-limit drop each give a Security Alert
110113 / Node Authentication 110126 naming the source address (no PHI); a flood of 200 garbage connections
from one address gives a bounded number of records, the count carried by one of them."""

from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from radguard.dicom.pdu import PDV, PDataTF
from radguard.gateway import relay
from tests.integration.test_gateway_helpers import LOOPBACK, dcmtk, gateway_config
from tests.support.gateway_harness import GatewayThread
from tests.support.peers import Peer

pytestmark = pytest.mark.integration

CT01 = {"ae": "CT01", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-STORE"]}


def _send(port: int, source: str, data: bytes, *, eof: bool = False) -> None:
    """Connect from ``source``, send ``data`` (then EOF, like ``nc``), wait until the gateway closes."""
    with socket.create_connection((LOOPBACK, port), timeout=10, source_address=(source, 0)) as s:
        if data:
            s.sendall(data)
        if eof:
            s.shutdown(socket.SHUT_WR)
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            pass


def _alerts(gw: GatewayThread, path: Path) -> dict[str, list[dict[str, Any]]]:
    """The gateway's Security Alerts about a node known by its address, by address."""
    assert gw.gateway is not None and gw.gateway.trail is not None and gw.gateway.trail.flush()
    out: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        doc = json.loads(line)
        if doc["event"] == "110113" and doc["objects"] and doc["objects"][0]["id_type"] == "110182":
            out.setdefault(doc["objects"][0]["id"], []).append(doc)
    return out


def test_hostile_acts_before_association_are_audited(tmp_path: Path, storescp: Peer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay, "ARTIM_SECONDS", 0.5)
    audit = tmp_path / "gw" / "audit.jsonl"
    cfg = gateway_config(tmp_path, upstream=(storescp.host, storescp.port), upstream_ae=storescp.ae, peers=[CT01],
                         limits={"max_pending_per_host": 2})
    with GatewayThread(cfg) as gw:
        port = gw.port
        _send(port, "127.0.0.2", b"garbage", eof=True)  # printf garbage | nc 127.0.0.1 PORT
        _send(port, "127.0.0.3", struct.pack(">BBL", 1, 0, 0xFFFFFFF0) + bytes(64))  # 4 GiB A-ASSOCIATE-RQ
        _send(port, "127.0.0.4", PDataTF([PDV(1, True, True, bytes(200))]).encode())
        _send(port, "127.0.0.5", b"")  # says nothing: the ARTIM timer (0.5 s here) ends it
        _send(port, "127.0.0.6", b"\x01\x00\x00\x00\x01\x00" + bytes(10), eof=True)  # a cut-off PDU, then EOF
        idle = [socket.create_connection((LOOPBACK, port), timeout=10, source_address=("127.0.0.7", 0))
                for _ in range(2)]
        deadline = time.monotonic() + 5
        while gw.stats().get("connections", 0) < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        _send(port, "127.0.0.7", b"")  # the third without an association: dropped at once
        for s in idle:
            s.close()
        alerts = _alerts(gw, audit)
        # the known peer is served as before, and its association is no alert
        assert dcmtk(["echoscu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(port)]).returncode == 0
    kinds = {host: [d["objects"][0]["details"]["kind"] for d in docs] for host, docs in alerts.items()}
    assert kinds == {"127.0.0.2": ["not-dicom"], "127.0.0.3": ["oversized-pdu"],
                     "127.0.0.4": ["p-data-before-association"], "127.0.0.5": ["artim-timeout"],
                     "127.0.0.6": ["incomplete-pdu"], "127.0.0.7": ["pending-limit"]}
    for host, (doc,) in alerts.items():
        assert doc["event_types"] == ["110126"] and doc["outcome"] == "4"
        assert doc["participants"][0]["host"] == host and doc["objects"][0]["details"]["count"] == "1"
    assert "garbage" not in audit.read_text()  # what the peer sent is never copied into the trail
    assert "above the limit" in alerts["127.0.0.3"][0]["description"]
    # the store got them too, as alerts of the gateway's run
    from radguard.store import open_store

    stored = [e for e in open_store().events(kind="audit", limit=500) if "before association" in e.summary]
    assert len(stored) >= 6


def test_a_flood_of_garbage_is_folded(tmp_path: Path, storescp: Peer) -> None:
    audit = tmp_path / "gw" / "audit.jsonl"
    cfg = gateway_config(tmp_path, upstream=(storescp.host, storescp.port), upstream_ae=storescp.ae, peers=[CT01])
    with GatewayThread(cfg) as gw:
        assert gw.gateway is not None and gw.gateway.audit is not None
        folder = gw.gateway.audit.folder
        gw.call(lambda: setattr(folder, "window", 1.0))  # 60 s by default
        for _ in range(200):
            _send(gw.port, "127.0.0.2", b"garbage")
        during = len(_alerts(gw, audit)["127.0.0.2"])
        time.sleep(1.3)  # the window is over: the timer writes the count
        after_window = _alerts(gw, audit)["127.0.0.2"]
        _send(gw.port, "127.0.0.2", b"garbage")  # a new window: written at once again
    final = _alerts(gw, audit)["127.0.0.2"]
    assert during == 1
    counts = [int(d["objects"][0]["details"]["count"]) for d in after_window]
    assert sum(counts) == 200 and len(after_window) <= 3, counts  # 1 at once + the count of the rest
    assert "not-dicom" in after_window[-1]["objects"][0]["details"]["kinds"]
    assert len(final) == len(after_window) + 1
