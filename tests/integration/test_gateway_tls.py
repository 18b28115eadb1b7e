"""DICOM TLS listener (PS3.15 B.1): DCMTK clients with +tls, mutual authentication with a client CA."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_gateway_helpers import LOOPBACK, dcmtk, gateway_config, make_files
from tests.support.gateway_harness import GatewayThread
from tests.support.peers import Peer
from tests.unit.test_audit_syslog import make_certs

pytestmark = pytest.mark.integration

CT01 = {"ae": "CT01", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-STORE"]}


def test_tls_listener_with_client_certificates(tmp_path: Path, storescp: Peer) -> None:
    server_ca, server_cert, server_key = make_certs(tmp_path / "server", cn="localhost")
    client_ca, client_cert, client_key = make_certs(tmp_path / "client", cn="CT01")
    _, rogue_cert, rogue_key = make_certs(tmp_path / "rogue", cn="CT01")
    cfg = gateway_config(tmp_path, upstream=(storescp.host, storescp.port), upstream_ae=storescp.ae, peers=[CT01],
                         extra={"listen_tls": "127.0.0.1:0", "tls_cert": str(server_cert),
                                "tls_key": str(server_key), "tls_client_ca": str(client_ca)})
    files = make_files(tmp_path / "in", 2)
    with GatewayThread(cfg) as gw:
        tls = ["+tls", str(client_key), str(client_cert), "+cf", str(server_ca)]
        echo = dcmtk(["echoscu", *tls, "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(gw.tls_port)])
        assert echo.returncode == 0, echo.stderr
        store = dcmtk(["storescu", *tls, "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(gw.tls_port),
                       *map(str, files)])
        assert store.returncode == 0, store.stderr
        # a certificate from another CA is refused at the TLS handshake
        rogue = dcmtk(["echoscu", "+tls", str(rogue_key), str(rogue_cert), "+cf", str(server_ca), "-aet", "CT01",
                       "-aec", "RADGUARD", LOOPBACK, str(gw.tls_port)])
        assert rogue.returncode != 0
        # a cleartext client on the TLS port gets nothing
        plain = dcmtk(["echoscu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(gw.tls_port)])
        assert plain.returncode != 0
        stats = gw.stats()
    assert stats["stores_acknowledged"] == 2 and stats["associations_accepted"] == 2
    assert len(list(storescp.extra["store"].iterdir())) == 2
