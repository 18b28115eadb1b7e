"""Every failed handshake on the DICOM TLS port leaves an audit record (issue 16 item 2, PS3.15 B.1): plain bytes,
a cleartext echoscu, openssl s_client without a client certificate (mutual TLS), echoscu +tls with a certificate
from another CA (its subject recorded), a TLS version below 1.2, a silent connection and a stalled ClientHello
(the ARTIM timer) each give one Security Alert 110113 / Node Authentication 110126 naming the source address;
repeated acts are folded per source as on the plain port; a good mutual-TLS client is served afterwards."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from radguard.gateway import relay
from tests.integration.test_gateway_helpers import LOOPBACK, dcmtk, gateway_config
from tests.support.gateway_harness import GatewayThread
from tests.support.peers import Peer
from tests.unit.test_audit_syslog import make_certs

pytestmark = pytest.mark.integration

CT01 = {"ae": "CT01", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-STORE"]}


def _send(port: int, source: str, data: bytes) -> None:
    """Connect from ``source``, send ``data``, wait until the gateway closes."""
    with socket.create_connection((LOOPBACK, port), timeout=10, source_address=(source, 0)) as s:
        if data:
            s.sendall(data)
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            pass


def _s_client(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", *args], input="",
                          capture_output=True, text=True, timeout=30)


def _alerts(gw: GatewayThread, path: Path) -> list[dict[str, Any]]:
    """The gateway's Security Alerts about a node known by its address, in order."""
    assert gw.gateway is not None and gw.gateway.trail is not None and gw.gateway.trail.flush()
    docs = [json.loads(line) for line in path.read_text().splitlines()]
    return [d for d in docs if d["event"] == "110113" and d["objects"] and d["objects"][0]["id_type"] == "110182"]


def _wait_alerts(gw: GatewayThread, path: Path, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(alerts := _alerts(gw, path)) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return alerts


def test_failed_tls_handshakes_are_audited(tmp_path: Path, storescp: Peer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay, "ARTIM_SECONDS", 0.5)
    server_ca, server_cert, server_key = make_certs(tmp_path / "server", cn="localhost")
    client_ca, client_cert, client_key = make_certs(tmp_path / "client", cn="CT01")
    _, rogue_cert, rogue_key = make_certs(tmp_path / "rogue", cn="ROGUE-WS")
    audit = tmp_path / "gw" / "audit.jsonl"
    cfg = gateway_config(tmp_path, upstream=(storescp.host, storescp.port), upstream_ae=storescp.ae, peers=[CT01],
                         extra={"listen_tls": "127.0.0.1:0", "tls_cert": str(server_cert),
                                "tls_key": str(server_key), "tls_client_ca": str(client_ca)})
    good = ["+tls", str(client_key), str(client_cert), "+cf", str(server_ca), "-aet", "CT01", "-aec", "RADGUARD"]
    with GatewayThread(cfg) as gw:
        assert gw.gateway is not None and gw.gateway.audit is not None
        folder, port = gw.gateway.audit.folder, gw.tls_port
        gw.call(lambda: setattr(folder, "window", 0.0))  # the DCMTK/openssl clients all come from 127.0.0.1
        expected: list[tuple[str, str]] = []

        def act(host: str, kind: str) -> None:
            expected.append((host, kind))
            assert len(_wait_alerts(gw, audit, len(expected))) == len(expected), expected

        _send(port, "127.0.0.2", b"garbage\n")  # printf garbage | nc 127.0.0.1 TLS-PORT
        act("127.0.0.2", "not-tls")
        assert dcmtk(["echoscu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(port)]).returncode != 0
        act(LOOPBACK, "cleartext-dicom-on-tls")
        _s_client(port, "-CAfile", str(server_ca))  # no certificate (TLS 1.3: the client learns it after its Finished)
        act(LOOPBACK, "tls-no-client-certificate")
        rogue = dcmtk(["echoscu", "+tls", str(rogue_key), str(rogue_cert), "+cf", str(server_ca), "-aet", "CT01",
                       "-aec", "RADGUARD", LOOPBACK, str(port)])
        assert rogue.returncode != 0
        act(LOOPBACK, "tls-untrusted-certificate")
        _s_client(port, "-tls1_1", "-cert", str(client_cert), "-key", str(client_key))
        act(LOOPBACK, "tls-version-or-cipher-mismatch")
        _send(port, "127.0.0.3", b"")  # says nothing: the ARTIM timer (0.5 s here) ends it
        act("127.0.0.3", "tls-handshake-timeout")
        _send(port, "127.0.0.4", b"\x16\x03\x01\x00\x40" + bytes(8))  # a ClientHello that never ends
        act("127.0.0.4", "tls-handshake-timeout")
        socket.create_connection((LOOPBACK, port), source_address=("127.0.0.5", 0)).close()
        # never a record for a connection closed without a byte (a port probe)...
        # ... and none for the good mutual-TLS client, which is served as before
        echo = dcmtk(["echoscu", *good, LOOPBACK, str(port)])
        assert echo.returncode == 0, echo.stderr
        alerts = _alerts(gw, audit)
        assert gw.stats()["associations_accepted"] == 1
        # folding as on the plain port: the first act of a source at once, the rest counted in one record
        gw.call(lambda: setattr(folder, "window", 60.0))
        for _ in range(3):
            _send(port, "127.0.0.6", b"\x01\x00\x00\x00\x00\x10")
        assert len(_alerts(gw, audit)) == len(alerts) + 1
    final = _alerts(gw, audit)
    assert [(d["participants"][0]["host"], d["objects"][0]["details"]["kind"]) for d in alerts] == expected
    for doc in alerts:
        assert doc["event_types"] == ["110126"] and doc["outcome"] == "4"
        assert doc["objects"][0]["details"]["count"] == "1"
    by_kind = {d["objects"][0]["details"]["kind"]: d for d in alerts}
    untrusted = by_kind["tls-untrusted-certificate"]
    assert untrusted["objects"][0]["details"]["certificate_subject"] == "CN=ROGUE-WS"
    assert "not trusted" in untrusted["description"]
    assert "certificate_subject" not in by_kind["tls-no-client-certificate"]["objects"][0]["details"]
    assert "mutual TLS" in by_kind["tls-no-client-certificate"]["description"]
    assert "garbage" not in audit.read_text()  # what the peer sent is never copied into the trail
    folded = [d for d in final[len(alerts):] if d["participants"][0]["host"] == "127.0.0.6"]
    assert [d["objects"][0]["details"]["count"] for d in folded] == ["1", "2"]
    assert folded[1]["objects"][0]["details"]["kinds"] == "cleartext-dicom-on-tls 2"
