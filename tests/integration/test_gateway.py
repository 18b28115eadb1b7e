"""The gateway with real DCMTK clients and upstreams: allowlist, operations, store, audit, syslog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from radguard.audittrail import SCHEMA_PATH
from radguard.audittrail.syslog import BOM
from radguard.models import Finding, Severity
from tests.integration.test_gateway_helpers import (
    LOOPBACK,
    UdpCollector,
    dcmtk,
    gateway_config,
    make_files,
    reject_line,
)
from tests.support.gateway_harness import GatewayThread
from tests.support.peers import Peer

pytestmark = pytest.mark.integration

CT01 = {"ae": "CT01", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-STORE"]}


def _events(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _stored(peer: Peer) -> list[Path]:
    return sorted(p for p in peer.extra["store"].iterdir() if p.is_file())


def test_allowlist_store_and_audit(tmp_path: Path, storescp: Peer) -> None:
    collector = UdpCollector()
    files = make_files(tmp_path / "in", 3)
    cfg = gateway_config(
        tmp_path, upstream=(storescp.host, storescp.port), upstream_ae=storescp.ae,
        peers=[CT01, {"ae": "FAR", "hosts": ["10.99.0.1"], "allow": ["C-ECHO"]},
               {"ae": "ECHO1", "hosts": [LOOPBACK], "allow": ["C-ECHO"]}],
        audit={"file": str(tmp_path / "audit.jsonl"), "syslog": f"udp://127.0.0.1:{collector.port}"})
    try:
        with GatewayThread(cfg) as gw:
            port = str(gw.port)
            assert dcmtk(["echoscu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, port]).returncode == 0
            unknown = dcmtk(["echoscu", "-aet", "EVIL", "-aec", "RADGUARD", LOOPBACK, port])
            assert unknown.returncode != 0
            assert reject_line(unknown) == "Rejected Permanent, Source: Service User / Calling AE Title Not Recognized"
            wrong_host = dcmtk(["echoscu", "-aet", "FAR", "-aec", "RADGUARD", LOOPBACK, port])
            assert reject_line(wrong_host) == ("Rejected Permanent, Source: Service User / "
                                               "Calling AE Title Not Recognized")
            wrong_called = dcmtk(["echoscu", "-aet", "CT01", "-aec", "PACS", LOOPBACK, port])
            assert reject_line(wrong_called) == ("Rejected Permanent, Source: Service User / "
                                                 "Called AE Title Not Recognized")
            # C-STORE is not in ECHO1's allow list: refused with a DIMSE status, the association goes on
            refused = dcmtk(["storescu", "-aet", "ECHO1", "-aec", "RADGUARD", LOOPBACK, port, str(files[0])])
            assert "Status: 0x124" in refused.stdout + refused.stderr, refused.stderr  # Refused: not authorized
            assert "Releasing Association" in refused.stdout + refused.stderr
            store = dcmtk(["storescu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, port, *map(str, files)])
            assert store.returncode == 0, store.stderr
            stats = gw.stats()
        assert len(_stored(storescp)) == 3
        assert stats["stores_forwarded"] == 3 and stats["stores_acknowledged"] == 3
        assert stats["associations_rejected"] == 3 and stats["requests_refused"] == 1
        events = _events(tmp_path / "audit.jsonl")
        transferred = [e for e in events if e["event"] == "110104"]
        assert len(transferred) == 3 and all(e["outcome"] == "0" for e in transferred)
        text = (tmp_path / "audit.jsonl").read_text()
        assert "GW-PAT-1" not in text and "hmac:" in text
        alerts = [e for e in events if e["event"] == "110113"]
        assert len(alerts) == 4  # 3 rejected associations + 1 refused C-STORE
        assert events[0]["event"] == "110100"
        # the syslog collector got the same messages as PS3.15 A.5 XML that validates
        assert collector.wait(lambda msgs: len(msgs) >= len(events))
        schema = etree.RelaxNG(etree.parse(str(SCHEMA_PATH)))
        for raw in collector.messages:
            header, _, body = raw.partition(BOM)
            assert header.startswith(b"<85>1 ")
            assert schema.validate(etree.fromstring(body))
        assert not any(b"GW-PAT-1" in raw for raw in collector.messages)
        # the store has the same records as events of one "gateway" run, Patient IDs hashed
        from radguard.store import open_store

        store = open_store()
        run = store.latest_run("gateway")
        assert run is not None and run.status == "done" and run.summary["stores_acknowledged"] == 3
        stored = store.events(kind="audit", limit=100)  # default [audit] store = "alerts"
        assert sorted(e.summary for e in stored) == sorted(f"Security Alert: {e['description']}" for e in alerts)
        assert all(e.severity.value == "medium" for e in stored)
    finally:
        collector.close()


def test_rate_limit_rejects_transient(tmp_path: Path, storescp: Peer) -> None:
    cfg = gateway_config(tmp_path, upstream=(storescp.host, storescp.port), upstream_ae=storescp.ae, peers=[CT01],
                         limits={"associations_per_minute": 2})
    with GatewayThread(cfg) as gw:
        results = [dcmtk(["echoscu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(gw.port)]) for _ in range(3)]
    assert [r.returncode for r in results[:2]] == [0, 0]
    assert reject_line(results[2]) == ("Rejected Transient, Source: Service Provider (Presentation Related) "
                                       "/ Local Limit Exceeded")


def test_inspection_reject_quarantine_alert(tmp_path: Path, storescp: Peer) -> None:
    files = make_files(tmp_path / "in", 3)
    verdicts = {0: "active-content", 1: "malformed", 2: None}
    order: list[int] = []

    def checker(data: bytes, ts: str, target: str) -> list[Finding]:
        rule = verdicts[len(order)]
        order.append(1)
        return [] if rule is None else [Finding(rule=rule, severity=Severity.HIGH, title=rule, target=target)]

    cfg = gateway_config(tmp_path, upstream=(storescp.host, storescp.port), upstream_ae=storescp.ae, peers=[CT01],
                         inspection={"malformed": "quarantine", "quarantine": str(tmp_path / "q")})
    with GatewayThread(cfg, checker=checker) as gw:
        out = dcmtk(["storescu", "-nh", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(gw.port), *map(str, files)])
        stats = gw.stats()
    # the client sees the refusals (status 0x0124) for the first two, the upstream only the third
    assert (out.stdout + out.stderr).count("Status: 0x124") == 2, out.stderr
    assert stats["stores_rejected"] == 1 and stats["stores_quarantined"] == 1 and stats["stores_forwarded"] == 1
    assert len(_stored(storescp)) == 1
    quarantined = sorted((tmp_path / "q").glob("*.dcmds"))
    assert len(quarantined) == 1 and quarantined[0].with_suffix(".json").exists()
    meta = json.loads(quarantined[0].with_suffix(".json").read_text())
    assert meta["findings"][0]["rule"] == "malformed" and meta["calling_ae"] == "CT01"


def test_upstream_down_is_a_clean_transient_reject(tmp_path: Path) -> None:
    from tests.support.peers import free_port

    cfg = gateway_config(tmp_path, upstream=(LOOPBACK, free_port()), upstream_ae="GONE", peers=[CT01])
    with GatewayThread(cfg) as gw:
        r = dcmtk(["echoscu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(gw.port)])
        stats = gw.stats()
    assert reject_line(r).startswith("Rejected Transient, Source: Service Provider (Presentation Related)")
    assert stats["upstream_unavailable"] == 1


def test_archive_inspection_rejects_executable_in_element(tmp_path: Path, storescp: Peer) -> None:
    """The real archive checks (radguard.inspect.api) on C-STORE data sets: an ELF in a private OB
    element is active content, rejected by default; the clean object goes through."""
    pytest.importorskip("radguard.inspect.api")
    from pydicom import dcmread

    clean, evil = make_files(tmp_path / "in", 2)
    ds = dcmread(evil)
    block = ds.private_block(0x0009, "RADGUARD TEST", create=True)
    block.add_new(0x10, "OB", b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(4000))
    ds.save_as(evil)
    cfg = gateway_config(tmp_path, upstream=(storescp.host, storescp.port), upstream_ae=storescp.ae, peers=[CT01])
    with GatewayThread(cfg) as gw:
        assert gw.gateway is not None and gw.gateway.inspection.available
        out = dcmtk(["storescu", "-nh", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(gw.port), str(clean),
                     str(evil)])
        stats = gw.stats()
        assert gw.gateway.trail is not None and gw.gateway.trail.flush()
    assert (out.stdout + out.stderr).count("Status: 0x124") == 1, out.stderr
    assert stats["stores_rejected"] == 1 and stats["stores_acknowledged"] == 1
    assert len(_stored(storescp)) == 1
    alerts = [e for e in _events(tmp_path / "gw" / "audit.jsonl") if e["event"] == "110113"]
    assert any("active-content" in str(e["description"]) for e in alerts)
