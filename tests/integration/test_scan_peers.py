"""``radguard scan`` against real peers on loopback: exact findings per endpoint.

Peers: DCMTK storescp (no AE checks), dcmqrscp with an AE table, Orthanc default and
hardened (+ DICOM TLS), the misbehaving peers of tests/support/tlspeers.py, and closed ports.
What one probe sees of a real peer is in tests/integration/test_probe_<name>.py.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from radguard.cli.main import main
from radguard.store import open_store
from tests.support.peers import (
    OrthancPeer,
    Peer,
    free_port,
    start_orthanc,
)
from tests.support.scan import rules, scan
from tests.support.tlspeers import Certs, HostilePeer, Misbehaviour

pytestmark = pytest.mark.integration


def test_storescp_orthanc_dcmqrscp_closed(storescp: Peer, orthanc: OrthancPeer, dcmqrscp: Peer) -> None:
    closed = free_port()
    res = scan([storescp.port, orthanc.dicom_port, orthanc.http_port, dcmqrscp.port, closed])
    assert rules(res[storescp.port]) == {"dicom-any-called-ae", "dicom-any-calling-ae", "dicom-cleartext",
                                          "known-vulnerable-version"}
    assert rules(res[orthanc.dicom_port]) == {"dicom-any-called-ae", "dicom-any-calling-ae", "dicom-cleartext"}
    assert rules(res[orthanc.http_port]) == {"web-no-auth", "web-cleartext", "known-vulnerable-version"}
    assert rules(res[dcmqrscp.port]) == {"dicom-cleartext"}
    assert res[closed].state.value == "closed" and res[closed].asset is None and not res[closed].findings
    assert all(not p.errors for p in res.values())

    scp = res[storescp.port].asset
    assert scp is not None and (scp.kind, scp.product, scp.version) == ("dicom", "dcmtk", "3.6.7")
    assert set(scp.attributes["services"]) == {"verification", "storage"}
    [kv] = [f for f in res[storescp.port].findings if f.rule == "known-vulnerable-version"]
    assert kv.evidence["confidence"] == "low" and kv.severity.value == "medium"
    assert [m["cves"] for m in kv.evidence["matches"]] == [["CVE-2022-43272"]]

    orth = res[orthanc.dicom_port].asset
    assert orth is not None and (orth.product, orth.version) == ("orthanc", orthanc.rest("GET", "/system")["Version"])
    assert {"verification", "storage", "query", "retrieve-move", "retrieve-get"} <= set(orth.attributes["services"])
    probes = orth.attributes["probes"]
    # Orthanc refuses C-FIND/C-MOVE/C-GET from an unknown modality by aborting the association
    assert [probes[k]["verdict"] for k in ("echo", "query", "move", "get")] == ["open", "refused", "refused",
                                                                                 "refused"]
    web = res[orthanc.http_port]
    [noauth] = [f for f in web.findings if f.rule == "web-no-auth"]
    assert set(noauth.evidence["readable_without_credentials"]) == {"/system", "/studies"}
    assert web.asset is not None and web.asset.attributes["dicom_port"] == orthanc.dicom_port

    attempts = res[dcmqrscp.port].asset.attributes["association_attempts"]  # type: ignore[union-attr]
    assert attempts[0]["reason"] == "called-ae-not-recognized" and len(attempts) == 9
    for f in (f for p in res.values() for f in p.findings):
        assert f.remediation and f.controls and f.target.startswith("127.0.0.1:")


@pytest.fixture
def orthanc_tls(tmp_path: Path, certs: Certs) -> Iterator[OrthancPeer]:
    """Hardened Orthanc (called-AE check, known modalities only, HTTP auth with orthanc/orthanc) with DICOM TLS."""
    peer = start_orthanc(
        tmp_path, hardened=True, users={"orthanc": "orthanc"}, modalities={"ws01": ("WS01", "127.0.0.1", 11113)},
        dicom_tls={"certificate": str(certs.good_cert), "private_key": str(certs.good_key), "trusted": str(certs.ca)},
    )
    yield peer
    peer.stop()


def _openssl_accepts(port: int, *args: str) -> bool:
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args], input="",
                       capture_output=True, text=True, timeout=20)
    return r.returncode == 0 and "Cipher is (NONE)" not in r.stdout


def test_orthanc_hardened_no_false_findings(orthanc_hardened: OrthancPeer, orthanc_tls: OrthancPeer) -> None:
    res = scan([orthanc_hardened.dicom_port, orthanc_hardened.http_port])
    assert rules(res[orthanc_hardened.dicom_port]) == {"dicom-cleartext"}
    assert rules(res[orthanc_hardened.http_port]) == {"web-cleartext"}
    res = scan([orthanc_tls.dicom_port, orthanc_tls.http_port])
    dicom = res[orthanc_tls.dicom_port]
    assert dicom.service is not None and dicom.service.value == "dicom-tls"
    assert rules(dicom) == {"tls-weak"}
    [tls] = dicom.findings
    assert set(tls.evidence["issues"]) == {"tls1.0-accepted", "tls1.1-accepted",
                                           "non-forward-secret-suite-accepted", "non-aead-suite-accepted"}
    # each reported TLS weakness is real: OpenSSL's own client gets the same answers
    assert _openssl_accepts(orthanc_tls.dicom_port, "-tls1", "-cipher", "ALL:@SECLEVEL=0")
    assert _openssl_accepts(orthanc_tls.dicom_port, "-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0")
    reasons = [a.get("reason") for a in dicom.asset.attributes["association_attempts"]]  # type: ignore[union-attr]
    assert reasons[:3] == ["called-ae-not-recognized", "called-ae-not-recognized", "calling-ae-not-recognized"]
    assert rules(res[orthanc_tls.http_port]) == {"web-cleartext"}
    # --intrusive: the vendor default credentials work, and then the version is readable
    res = scan([orthanc_tls.http_port], intrusive=True)
    assert rules(res[orthanc_tls.http_port]) == {"web-cleartext", "web-default-credentials",
                                                 "known-vulnerable-version"}


def test_hostile_peers_become_errors_not_crashes(storescp: Peer) -> None:
    peers = {m: HostilePeer(m) for m in Misbehaviour}
    try:
        res = scan([p.port for p in peers.values()] + [storescp.port], timeout=1.0)
    finally:
        for p in peers.values():
            p.stop()
    kinds = {m: [e["kind"] for e in res[p.port].errors] for m, p in peers.items()}
    assert kinds == {
        Misbehaviour.ABORT_MID_ASSOCIATION: [],
        Misbehaviour.GARBAGE_PDU: ["protocol-violation"],
        Misbehaviour.SLOW_DRIP: ["timeout"],
        Misbehaviour.HUGE_PDU_LENGTH: ["protocol-violation"],
        Misbehaviour.SILENT: ["timeout"],
    }
    abort = res[peers[Misbehaviour.ABORT_MID_ASSOCIATION].port]
    assert rules(abort) == {"dicom-any-called-ae", "dicom-any-calling-ae", "dicom-cleartext"}
    assert abort.asset is not None and abort.asset.attributes["probes"]["echo"] == {"verdict": "refused",
                                                                                     "refused_by": "aborted"}
    for mode in (Misbehaviour.GARBAGE_PDU, Misbehaviour.SLOW_DRIP, Misbehaviour.HUGE_PDU_LENGTH):
        assert res[peers[mode].port].service.value == "dicom"  # type: ignore[union-attr]
        assert not res[peers[mode].port].findings
    assert res[peers[Misbehaviour.SILENT].port].service.value == "unknown"  # type: ignore[union-attr]
    # the well-behaved peer scanned alongside is unaffected
    assert "dicom-any-calling-ae" in rules(res[storescp.port])


def test_cli_json_store_and_diff(storescp: Peer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    closed = free_port()
    sarif = tmp_path / "scan.sarif"
    rc = main(["scan", "127.0.0.1", "--ports", f"{storescp.port},{closed}", "--json", "--sarif", str(sarif)])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1  # a high finding (dicom-any-calling-ae) at the default --fail-on high
    assert doc["schema"] == "radguard.scan/1" and doc["errors"] == []
    assert {f["rule"] for f in doc["findings"]} == {"dicom-any-called-ae", "dicom-any-calling-ae",
                                                    "dicom-cleartext", "known-vulnerable-version"}
    assert [(p["target"], p["state"], p["service"]) for p in doc["ports"]] == [
        (f"127.0.0.1:{storescp.port}", "open", "dicom"), (f"127.0.0.1:{closed}", "closed", None)]
    assert doc["summary"]["open"] == 1 and doc["summary"]["findings"]["high"] == 1
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    store = open_store()
    run = store.latest_run("scan")
    assert run is not None and run.id == doc["run"] and run.status == "done"
    assert len(store.findings(run.id)) == 4 and [a.kind for a in store.assets(run.id)] == ["dicom"]
    assert main(["scan", "127.0.0.1", "--ports", str(storescp.port), "--fail-on", "critical", "--json"]) == 0
    capsys.readouterr()
    storescp.stop()
    assert main(["scan", "127.0.0.1", "--ports", str(storescp.port), "--json"]) == 0
    third = json.loads(capsys.readouterr().out)["run"]
    assert main(["findings", "diff", str(doc["run"]), str(third), "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert len(diff["fixed"]) == 4 and diff["new"] == []
    assert main(["scan", "10.0.0.0/8"]) == 2
    assert main(["scan", "127.0.0.1", "--ports", "0"]) == 2
