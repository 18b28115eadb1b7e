"""The monitor's web layer on a real capture: HTTP to a real Orthanc with its DICOMweb plugin on loopback,
captured with tcpdump, then ``radguard pcap`` (library and CLI) finds web harvesting (QIDO-RS listing +
WADO-RS downloads), a polyglot uploaded by STOW-RS and vendor default credentials — and a viewer fetching
one study raises none of them. Records carry no patient name in clear.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from radguard.monitor.run import Options, run_pcap
from radguard.range.attacks.kit import PE_STUB
from radguard.range.lab import DICOMWEB_PLUGIN, dicomweb_overrides
from tests.captures.make_captures import tcpdump
from tests.support.peers import OrthancPeer, start_orthanc

pytestmark = pytest.mark.integration
SAMPLES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")
WADO = 'multipart/related; type="application/dicom"'
UIDS = ("0020000D", "0020000E", "00080018")


def _http(peer: OrthancPeer, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(f"{peer.base_url}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancPeer]:
    if os.geteuid() != 0:
        pytest.fail("the capture tests need root (tcpdump on loopback)")
    if not DICOMWEB_PLUGIN.exists():
        pytest.fail(f"Orthanc's DICOMweb plugin is missing ({DICOMWEB_PLUGIN}: apt-get install orthanc-dicomweb)")
    peer = start_orthanc(tmp_path_factory.mktemp("orthanc"), overrides=dicomweb_overrides())
    for name in SAMPLES:
        assert _http(peer, "POST", "/instances", Path(str(get_testdata_file(name))).read_bytes())[0] == 200
    yield peer
    peer.stop()


def _capture(pacs: OrthancPeer, path: Path, attack: bool) -> Path:
    studies = json.loads(_http(pacs, "GET", "/dicom-web/studies", headers={"Accept": "application/json"})[1])
    study = str(studies[0]["0020000D"]["Value"][0])
    with tcpdump(path, [pacs.http_port]):
        # the viewer: one study by its UID (QIDO-RS with a constraint, then WADO-RS of that study)
        assert _http(pacs, "GET", f"/dicom-web/studies?StudyInstanceUID={study}&limit=5")[0] == 200
        assert _http(pacs, "GET", f"/dicom-web/studies/{study}", headers={"Accept": WADO})[0] == 200
        if attack:
            _attack(pacs)
    return path


def _attack(pacs: OrthancPeer) -> None:
    listed = json.loads(_http(pacs, "GET", "/dicom-web/instances?PatientName=*")[1])
    for inst in listed:
        study, series, sop = (str(inst[t]["Value"][0]) for t in UIDS)
        code, body = _http(pacs, "GET", f"/dicom-web/studies/{study}/series/{series}/instances/{sop}",
                           headers={"Accept": WADO})
        assert code == 200 and b"DICM" in body
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    ds.SOPInstanceUID = f"2.25.{uuid.uuid4().int}"
    ds.preamble = PE_STUB + b"\x00" * (128 - len(PE_STUB))
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + buf.getvalue()
            + f"\r\n--{boundary}--\r\n".encode())
    code, _ = _http(pacs, "POST", "/dicom-web/studies", body, headers={
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json"})
    assert code == 200
    auth = "Basic " + b64encode(b"orthanc:orthanc").decode()
    assert _http(pacs, "GET", "/system", headers={"Authorization": auth})[0] == 200


@pytest.fixture(scope="module")
def captures(pacs: OrthancPeer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("web-captures")
    return {"benign": _capture(pacs, out / "benign.pcap", False), "attack": _capture(pacs, out / "attack.pcap", True)}


def _analyse(path: Path, port: int) -> Any:
    return run_pcap([path], Options(web_ports={port}, profile=["web-harvest", "web-upload-malicious",
                                                             "web-default-credentials-used", "web-unauthenticated"]))


def test_attacks_are_seen_on_the_wire(captures: dict[str, Path], pacs: OrthancPeer) -> None:
    outcome = _analyse(captures["attack"], pacs.http_port)
    web = [r for r in outcome.records if r["kind"] == "http"]
    apis = {r["api"] for r in web}
    assert {"qido-rs", "wado-rs", "stow-rs", "rest"} <= apis, apis
    assert all(r["complete"] and r["error"] is None for r in web)
    rules = {f.rule: f for f in outcome.findings}
    harvest = rules["web-harvest"].evidence
    assert harvest["broad_listings"] == 1 and harvest["objects"] >= len(SAMPLES) + 1
    upload = rules["web-upload-malicious"]
    assert upload.evidence["checks"].get("executable-preamble") == 1 and upload.evidence["apis"] == ["stow-rs"]
    creds = rules["web-default-credentials-used"]
    assert creds.evidence["user"] == "orthanc" and creds.evidence["accepted"] == 1
    assert creds.severity.value == "high"
    assert "web-unauthenticated" in rules
    stow = next(r for r in web if r["api"] == "stow-rs")
    assert stow["uploads"] == 1 and stow["status"] == 200
    wado_study = next(r for r in web if r["api"] == "wado-rs" and r["resource"] == "/dicom-web/studies/{uid}")
    assert wado_study["parts"] >= 1 and wado_study["response_bytes"] > 1000
    dumped = json.dumps(outcome.records) + json.dumps([f.to_dict() for f in outcome.findings])
    for name in SAMPLES:  # no patient name, no password in records or findings
        assert str(dcmread(get_testdata_file(name)).PatientName) not in dumped
    assert "orthanc:orthanc" not in dumped and b64encode(b"orthanc:orthanc").decode() not in dumped


def test_a_viewer_is_not_an_attack(captures: dict[str, Path], pacs: OrthancPeer) -> None:
    outcome = _analyse(captures["benign"], pacs.http_port)
    assert sum(r["kind"] == "http" for r in outcome.records) == 2
    assert {f.rule for f in outcome.findings} == {"web-unauthenticated"}


def test_cli_finds_the_three(captures: dict[str, Path], pacs: OrthancPeer, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "radguard.cli.main", "pcap", str(captures["attack"]), "--web-port",
                           str(pacs.http_port), "--json", "--no-store"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    rules = {f["rule"] for f in doc["findings"]}
    assert {"web-harvest", "web-upload-malicious", "web-default-credentials-used"} <= rules
    # without the web port the wire is not parsed as HTTP: nothing is seen
    proc = subprocess.run([sys.executable, "-m", "radguard.cli.main", "pcap", str(captures["attack"]), "--json",
                           "--no-store"], capture_output=True, text=True, timeout=120)
    assert not {"web-harvest", "web-upload-malicious"} & {f["rule"] for f in json.loads(proc.stdout)["findings"]}
