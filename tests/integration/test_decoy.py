"""``radguard decoy`` as a real process, touched by the issue's probes: ``radguard scan``, nmap's dicom-ping
and DCMTK echoscu/findscu/movescu. Each touch is an alert line on disk within 1 s of the connection; the
decoy answers like its product profile; floods are rate-limited; garbage is audited without a traceback."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import pytest

from radguard.policy.decoy_services import profile
from tests.support.decoy import DecoyProcess, dcmtk, summary, time_to_alert
from tests.support.peers import LOOPBACK

pytestmark = pytest.mark.integration


@pytest.fixture
def decoy(tmp_path: Path) -> DecoyProcess:
    proc = DecoyProcess(tmp_path / "decoy", ["--product", "dcm4chee", "--associations-per-minute", "12"]).start()
    yield proc
    if proc.proc is not None and proc.proc.poll() is None:
        proc.stop()


def test_every_probe_is_alerted_within_a_second(decoy: DecoyProcess) -> None:
    results = time_to_alert(decoy)
    assert set(results["radguard-scan"]["events"]) >= {"association", "C-ECHO", "C-FIND", "C-MOVE"}
    assert "association" in results["nmap-dicom-ping"]["events"]
    assert results["echoscu"]["events"] == ["C-ECHO", "association"]
    assert results["findscu"]["events"] == ["C-FIND", "association"]
    assert results["movescu"]["events"] == ["C-MOVE", "association"]
    for name, r in results.items():
        assert r["time_to_alert_s"] is not None and 0 <= r["time_to_alert_s"] < 1.0, (name, r)
        assert r["max_s"] < 1.0, (name, r)
    figures = summary(results)
    assert figures["max_ms"] < 1000
    move = next(d for d in results["movescu"]["lines"] if d["event"] == "C-MOVE")
    assert move["detail"]["destination"] == "EXFIL" and move["detail"]["status"] == "0xA801"
    assert move["severity"] == "critical" and move["rule"] == "decoy-touched"
    find = next(d for d in results["findscu"]["lines"] if d["event"] == "C-FIND")
    assert find["detail"]["matches"] == profile("dcm4chee").studies and find["detail"]["keys"] == [
        "PatientName", "StudyInstanceUID"]
    code, doc, err = decoy.stop()
    assert code == 1 and "Traceback" not in err  # touched: critical findings
    assert doc["schema"] == "radguard.decoy/1" and doc["product"] == "dcm4chee" and doc["run"] is not None
    (finding,) = doc["findings"]  # one per source
    assert finding["rule"] == "decoy-touched" and finding["evidence"]["source"] == LOOPBACK
    assert {"ECHOSCU", "DCMECHO", "DCMFIND", "DCMMOVE"} <= set(finding["evidence"]["calling_aes"])


def test_it_answers_as_its_product(decoy: DecoyProcess) -> None:
    from tests.support.scan import scan

    (result,) = scan([decoy.port], timeout=10.0).values()  # a loaded machine must not turn a slow answer into none
    prof = profile("dcm4chee")
    assert result.asset is not None and (result.asset.product, result.asset.version) == ("dcm4che", prof.version)
    echo = dcmtk(["echoscu", "-d", "-aet", "X", "-aec", "WHATEVER", LOOPBACK, str(decoy.port)])
    assert echo.returncode == 0 and prof.implementation_version_name in echo.stderr + echo.stdout
    find = dcmtk(["findscu", "-S", "-aet", "X", "-aec", "Y", "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientName=*",
                  "-k", "PatientID", LOOPBACK, str(decoy.port)])
    assert find.stderr.count("(Pending)") == prof.studies


def test_floods_are_rate_limited_and_garbage_is_audited(decoy: DecoyProcess) -> None:
    codes = [dcmtk(["echoscu", "-aet", "FLOOD", "-aec", "X", LOOPBACK, str(decoy.port)]).returncode
             for _ in range(15)]
    assert codes.count(0) == 12 and codes[12:] == [1, 1, 1]  # 12 a minute, then A-ASSOCIATE-RJ
    for payload in (b"GET / HTTP/1.0\r\n\r\n", b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 64, bytes(range(256)) * 4):
        with socket.create_connection((LOOPBACK, decoy.port), timeout=5) as s:
            s.sendall(payload)
            s.settimeout(5)
            with contextlib.suppress(OSError):
                s.recv(100)
    seen = decoy.wait_for(lambda d: d["event"] == "protocol-violation")
    deadline = time.monotonic() + 5
    while len([s for s in decoy.lines if s.doc["event"] == "protocol-violation"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    violations = [s.doc for s in decoy.lines if s.doc["event"] == "protocol-violation"]
    assert seen and len(violations) == 3 and all(v["severity"] == "critical" for v in violations)
    rejected = [s.doc for s in decoy.lines if s.doc["event"] == "association-rejected"]
    assert len(rejected) == 3 and "associations per minute" in rejected[0]["detail"]["reason"]
    echo = dcmtk(["echoscu", "-aet", "STILL", "-aec", "X", LOOPBACK, str(decoy.port)])
    assert echo.returncode == 1  # the same source is still over its budget; the decoy itself is fine
    code, doc, err = decoy.stop()
    assert code == 1 and "Traceback" not in err and doc["stats"]["associations_rejected"] == 4
