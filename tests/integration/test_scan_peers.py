"""``radguard scan`` against real peers on loopback: exact findings per endpoint.

Peers: DCMTK storescp (no AE checks), dcmqrscp with an AE table, Orthanc default and
hardened (+ DICOM TLS), DCMTK storescp over TLS with a weak and a good certificate, the
misbehaving peers of tests/support/tlspeers.py, and closed ports.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from radguard.assess.probes import dicom_services
from radguard.assess.scanner import HostResult, PortResult, Scanner, ScanOptions
from radguard.cli.main import main
from radguard.store import open_store
from tests.support.peers import (
    OrthancPeer,
    Peer,
    dcmtk_env,
    free_port,
    start_dcmqrscp,
    start_orthanc,
    storescu,
    wait_port,
)
from tests.support.tlspeers import Certs, HostilePeer, Misbehaviour, make_certs, start_tls_storescp

pytestmark = pytest.mark.integration


def scan(ports: list[int], host: str = "127.0.0.1", **kw: object) -> dict[int, PortResult]:
    opts = ScanOptions(ports=ports, timeout=float(kw.pop("timeout", 3.0)), **kw)  # type: ignore[arg-type]

    async def go() -> list[HostResult]:
        return [h async for h in Scanner(opts).run([host])]

    [host] = asyncio.run(go())
    return {p.port: p for p in host.ports}


def rules(result: PortResult) -> set[str]:
    return {f.rule for f in result.findings}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


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


def _multi_process(peer: Peer) -> Peer:
    """Restart a dcmqrscp peer without ``--single-process``: Debian's dcmqrscp 3.6.7 segfaults after each
    association in single-process mode (DCMTK's own echoscu triggers it too), so a peer that must serve
    several associations runs in its default forking mode."""
    peer.stop()
    log = peer.workdir / "dcmqrscp-multi.log"
    with log.open("wb") as fh:
        peer.proc = subprocess.Popen(["dcmqrscp", "-c", str(peer.extra["cfg"])], cwd=peer.workdir, stdout=fh,
                                     stderr=subprocess.STDOUT, env=dcmtk_env())
    wait_port(peer.host, peer.port, proc=peer.proc)
    return peer


def test_dcmqrscp_known_called_ae(dcmqrscp: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the AE table's own title, unknown calling AEs are still refused; a peer that accepts any
    calling AE shows what an outsider may do (query, and C-MOVE/C-GET not refused)."""
    res = scan([dcmqrscp.port], called_aes=("QRSCP",), calling_ae="KNOWNSCU")
    r = res[dcmqrscp.port]
    assert rules(r) == {"dicom-cleartext", "known-vulnerable-version"}  # no open-*: only the configured AE got in
    assert r.asset is not None and r.asset.attributes["probes"]["query"]["verdict"] == "open"
    open_peer = _multi_process(start_dcmqrscp(tmp_path, ae="OPENQR", peers={"KNOWNSCU": ("127.0.0.1", 1)},
                                              any_peer=True))
    try:
        r = scan([open_peer.port], called_aes=("OPENQR",))[open_peer.port]
        files = [get_testdata_file(n) for n in ("CT_small.dcm", "MR_small.dcm")]
        sent = storescu(open_peer.host, open_peer.port, [str(f) for f in files], called_ae="OPENQR")
        assert sent.returncode == 0, sent.stderr
        intrusive = scan([open_peer.port], called_aes=("OPENQR",), intrusive=True)[open_peer.port]
        monkeypatch.setattr(dicom_services, "MATCH_COUNT_CAP", 1)
        capped = scan([open_peer.port], called_aes=("OPENQR",), intrusive=True)[open_peer.port]
    finally:
        open_peer.stop()
    [q] = [f for f in intrusive.findings if f.rule == "dicom-open-query"]
    assert q.evidence["match_counts"] == {"cap": 100, "studies": 2, "studies_capped": False, "patients": 2,
                                          "patients_capped": False}
    assert "dicom-open-store" in rules(intrusive)
    [q] = [f for f in capped.findings if f.rule == "dicom-open-query"]  # C-CANCEL after the first match
    assert q.evidence["match_counts"]["studies"] == 1 and q.evidence["match_counts"]["studies_capped"] is True
    assert rules(r) == {"dicom-any-calling-ae", "dicom-open-query", "dicom-open-retrieve", "dicom-cleartext",
                        "known-vulnerable-version"}
    [q] = [f for f in r.findings if f.rule == "dicom-open-query"]
    assert q.evidence["matches"] == 0 and q.evidence["query"] == "non-existent StudyInstanceUID"


def test_tls_storescp_weak_and_good(tmp_path: Path, certs: Certs) -> None:
    weak = start_tls_storescp(tmp_path, certs, weak=True)
    good = start_tls_storescp(tmp_path, certs, weak=False)
    try:
        res = scan([weak.port, good.port])
        by_name = scan([good.port], host="localhost")[good.port]  # SNI + name check against the DNS SAN
        other_address = scan([good.port], host="127.0.0.2")[good.port]  # DCMTK listens on every address
    finally:
        weak.stop()
        good.stop()
    assert by_name.target == f"localhost:{good.port}" and "tls-weak" not in rules(by_name)
    [mismatch] = [f for f in other_address.findings if f.rule == "tls-weak"]
    assert mismatch.evidence["issues"] == ["certificate-name-mismatch"]
    assert rules(res[weak.port]) == {"dicom-any-called-ae", "dicom-any-calling-ae", "tls-weak",
                                     "known-vulnerable-version"}
    assert rules(res[good.port]) == {"dicom-any-called-ae", "dicom-any-calling-ae", "known-vulnerable-version"}
    assert res[weak.port].service.value == res[good.port].service.value == "dicom-tls"  # type: ignore[union-attr]
    [tls] = [f for f in res[weak.port].findings if f.rule == "tls-weak"]
    assert set(tls.evidence["issues"]) == {
        "tls1.0-accepted", "tls1.1-accepted", "non-forward-secret-suite-accepted", "non-aead-suite-accepted",
        "certificate-expired", "certificate-self-signed", "certificate-name-mismatch", "certificate-short-key"}
    good_tls = res[good.port].asset.attributes["tls"]  # type: ignore[union-attr]
    assert good_tls["issues"] == [] and good_tls["certificate"]["issuer"] == "CN=radguard test CA"


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


def test_intrusive_store_and_query_count(storescp: Peer, orthanc: OrthancPeer) -> None:
    res = scan([storescp.port, orthanc.dicom_port, orthanc.http_port], intrusive=True)
    assert "dicom-open-store" in rules(res[storescp.port])
    assert "dicom-open-store" in rules(res[orthanc.dicom_port])  # Orthanc's default DicomAlwaysAllowStore
    stored = list(storescp.extra["store"].rglob("*"))
    files = [p for p in stored if p.is_file()]
    assert len(files) == 1
    import pydicom

    ds = pydicom.dcmread(files[0])
    assert ds.PatientID == "RADGUARD-TEST-NOT-A-PATIENT" and "NOT PATIENT DATA" in ds.StudyDescription
    [f] = [f for f in res[storescp.port].findings if f.rule == "dicom-open-store"]
    assert f.evidence["status"] == "0x0000"


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


def test_dicomweb_over_https(certs: Certs) -> None:
    from tests.support.tlspeers import DicomWebStub

    weak, good = DicomWebStub(certs, weak=True), DicomWebStub(certs, weak=False)
    try:
        res = scan([weak.port, good.port])
    finally:
        weak.stop()
        good.stop()
    for peer in (weak, good):
        assert res[peer.port].service is not None and res[peer.port].service.value == "https"  # type: ignore[union-attr]
    assert rules(res[good.port]) == {"web-no-auth"}
    assert rules(res[weak.port]) == {"web-no-auth", "tls-weak"}
    [noauth] = [f for f in res[good.port].findings if f.rule == "web-no-auth"]
    assert noauth.evidence["readable_without_credentials"] == {"/dicom-web/studies": {"status": 200, "studies": 0}}
