"""``radguard policy learn|replay|diff`` on captures of real DCMTK peers on loopback.

One small department (dcmqrscp as the PACS ``QRSCP``, storescp as the workstation's storage SCP ``DEST``)
serves every capture, so that the ports stay the same: a benign capture to learn from, a second and
independent benign capture (other objects, other queries, later) that must replay with 0 refusals, and
one capture per attack (unknown AE, harvesting wildcard C-FIND, C-MOVE to a rogue AE, a known modality AE
from a new host, 127.0.0.2) that must each be refused. The learned ruleset passes ``nft -c -f``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from radguard.policy.run import run_diff, run_replay
from tests.captures.make_captures import FILES, run, tcpdump
from tests.support.peers import LOOPBACK, Peer, start_dcmqrscp, start_storescp

pytestmark = pytest.mark.integration
RADGUARD = str(Path(sys.executable).with_name("radguard"))


@dataclass
class Department:
    qr: Peer
    dest: Peer
    workdir: Path

    @property
    def ports(self) -> list[int]:
        return [self.qr.port, self.dest.port]

    def scu(self, tool: str, calling: str, *args: str, files: tuple[Path, ...] = (), ok: bool = True) -> None:
        run([tool, "-aet", calling, "-aec", self.qr.ae, *args, LOOPBACK, str(self.qr.port), *map(str, files)], ok=ok)

    def copy(self, name: str, source: str, patient: str) -> tuple[Path, str]:
        """A sample file with new UIDs and patient ID (an object the PACS has not seen), its study UID."""
        ds = dcmread(source)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.PatientID = generate_uid(), generate_uid(), patient
        path = self.workdir / f"{name}.dcm"
        ds.save_as(path)
        return path, str(ds.StudyInstanceUID)

    def day(self, name: str, patient: str) -> Path:
        """A benign working day: CT01 and MR01 store, WS01 queries its patient and retrieves to DEST."""
        ct, study = self.copy(f"{name}-ct", FILES[0], patient)
        mr, _ = self.copy(f"{name}-mr", FILES[1], patient)
        pcap = self.workdir / f"{name}.pcap"
        with tcpdump(pcap, self.ports):
            self.scu("echoscu", "CT01")
            self.scu("storescu", "CT01", files=(ct,))
            self.scu("storescu", "MR01", files=(mr,))
            self.scu("findscu", "WS01", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", f"PatientID={patient}",
                     "-k", "StudyInstanceUID")
            self.scu("movescu", "WS01", "-S", "-aem", "DEST", "-k", "QueryRetrieveLevel=STUDY",
                     "-k", f"StudyInstanceUID={study}")
        return pcap


@pytest.fixture(scope="module")
def dept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Department]:
    if os.geteuid() != 0:
        pytest.fail("the capture tests need root (tcpdump on loopback)")
    work = tmp_path_factory.mktemp("policy")
    dest = start_storescp(work, ae="DEST")
    qr = start_dcmqrscp(work, peers={"DEST": (LOOPBACK, dest.port)}, any_peer=True)
    yield Department(qr, dest, work)
    qr.stop()
    dest.stop()


@pytest.fixture(scope="module")
def learned(dept: Department) -> dict[str, Any]:
    pcap = dept.day("monday", "PID-MON-1")
    out, nft = dept.workdir / "gateway.toml", dept.workdir / "imaging.nft"
    proc = subprocess.run([RADGUARD, "policy", "learn", str(pcap), "-o", str(out), "--nft", str(nft),
                           "--listen", "127.0.0.1:11112", "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return {"doc": doc, "config": out, "nft": nft}


def _replay(pcap: Path, config: Path, *, cli: bool = False) -> dict[str, Any]:
    """``radguard policy replay --json`` (as a process with ``cli``, else the same library call)."""
    if not cli:
        return {"schema": "radguard.policy-replay/1", **run_replay([pcap], config).to_dict()}
    proc = subprocess.run([RADGUARD, "policy", "replay", str(pcap), "--config", str(config), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def test_learned_policy_loads_and_holds_the_department(learned: dict[str, Any], dept: Department) -> None:
    doc = learned["doc"]
    assert doc["schema"] == "radguard.policy-learn/1"
    assert doc["upstream"]["address"] == f"{LOOPBACK}:{dept.qr.port}" and doc["upstream"]["ae"] == "QRSCP"
    peers = {p["ae"]: p for p in doc["peers"]}
    assert set(peers) == {"CT01", "MR01", "WS01", "DEST"}
    assert set(peers["CT01"]["allow"]) == {"C-ECHO", "C-STORE"}
    assert set(peers["MR01"]["allow"]) == {"C-STORE"}
    assert set(peers["WS01"]["allow"]) == {"C-FIND", "C-MOVE"}
    assert set(peers["WS01"]["move_destinations"]) == {"DEST"}
    assert peers["DEST"]["port"] == dept.dest.port and peers["DEST"]["allow"] == {}
    assert peers["CT01"]["associations_per_minute"] == 2 * 2 + 10  # two associations, margin x2 + 10
    assert doc["held_back"] == [] and doc["entries"] >= 12
    text = learned["config"].read_text()
    assert "# 1x, first " in text and "CT Image Storage" in text  # evidence as comments
    check = subprocess.run([RADGUARD, "gateway", "--config", str(learned["config"]), "--check"],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert "OK (4 peers)" in check.stderr


def test_nft_ruleset_passes_check_mode(learned: dict[str, Any], dept: Department) -> None:
    nft = shutil.which("nft")
    assert nft is not None, "nftables missing (make test installs it)"
    text = learned["nft"].read_text()
    assert f"tcp dport {dept.qr.port} ip saddr {{ 127.0.0.1 }} accept" in text
    cmd = [nft, "-c", "-f", str(learned["nft"])]
    if os.geteuid() != 0:  # check mode still opens netlink: a user and network namespace of its own
        cmd = ["unshare", "-rn", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "radguard_imaging" not in subprocess.run([nft, "list", "tables"], capture_output=True, text=True).stdout


def test_independent_benign_day_replays_without_refusal(learned: dict[str, Any], dept: Department) -> None:
    doc = _replay(dept.day("tuesday", "PID-TUE-2"), learned["config"], cli=True)
    assert doc["schema"] == "radguard.policy-replay/1"
    assert doc["associations"] == 6 and doc["requests"] >= 5  # 5 client associations + the C-MOVE sub-operation
    assert doc["refused"] == []
    assert run_diff([dept.workdir / "tuesday.pcap"], learned["config"]) == []  # Monday's policy is all used


def test_the_live_gateway_enforces_the_learned_policy(learned: dict[str, Any], dept: Department) -> None:
    """The new keys are the live gateway's too: through it CT01 stores, but may not query, and WS01 may not
    use the patient-root model (the SOP-classes addon)."""
    from radguard.gateway import bus
    from radguard.gateway.config import load_config
    from tests.support.gateway_harness import GatewayThread

    (dept.workdir / "spool").mkdir(exist_ok=True)
    cfg = dataclasses.replace(load_config(learned["config"]), listen=(LOOPBACK, 0),
                              control=dept.workdir / "gw.sock", spool=dept.workdir / "spool")
    refused: list[str] = []
    with GatewayThread(cfg) as gw:
        assert gw.gateway is not None
        gw.call(lambda: gw.gateway.events.subscribe(bus.RequestRefused, lambda e: refused.append(e.reason)))  # type: ignore[union-attr]
        front = Department(Peer(host=LOOPBACK, port=gw.port, ae="QRSCP", workdir=dept.workdir), dept.dest,
                           dept.workdir)
        ct, _ = dept.copy("through-gateway", FILES[0], "PID-GW-3")
        front.scu("storescu", "CT01", files=(ct,))
        front.scu("findscu", "CT01", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=PID-GW-3", ok=False)
        front.scu("findscu", "WS01", "-P", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=PID-GW-3", ok=False)
        front.scu("findscu", "WS01", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=PID-GW-3")
    assert refused == ["C-FIND not allowed for CT01", "SOP class 1.2.840.10008.5.1.4.1.2.1.1 not allowed for WS01"]


def _attack(dept: Department, name: str) -> Path:
    pcap = dept.workdir / f"{name}.pcap"
    with tcpdump(pcap, dept.ports):
        if name == "unknown-ae":
            dept.scu("echoscu", "EVIL01")
        elif name == "harvest":  # the store-only modality's AE, then the workstation at patient level
            dept.scu("findscu", "CT01", "-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientName=*",
                     "-k", "PatientID", ok=False)
            dept.scu("findscu", "WS01", "-P", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName=*",
                     "-k", "PatientID", ok=False)
        elif name == "rogue-move":
            dept.scu("movescu", "WS01", "-S", "-aem", "ROGUE", "-k", "QueryRetrieveLevel=STUDY",
                     "-k", "StudyInstanceUID=1.2.3.4", ok=False)
        else:  # a known modality's AE title from a new host
            from pynetdicom import AE

            ae = AE(ae_title="CT01")
            ae.add_requested_context("1.2.840.10008.1.1")
            assoc = ae.associate(LOOPBACK, dept.qr.port, ae_title=dept.qr.ae, bind_address=("127.0.0.2", 0))
            assert assoc.is_established
            assoc.send_c_echo()
            assoc.release()
    return pcap


@pytest.mark.parametrize(("attack", "expected"), [
    ("unknown-ae", {("EVIL01", "A-ASSOCIATE", "allowlist")}),
    ("harvest", {("CT01", "C-FIND", "operations"), ("WS01", "C-FIND", "sop_classes")}),
    ("rogue-move", {("WS01", "C-MOVE", "move_destinations")}),
    ("new-host", {("CT01", "A-ASSOCIATE", "allowlist")}),
])
def test_attacks_are_refused(learned: dict[str, Any], dept: Department, attack: str,
                             expected: set[tuple[str, str, str]]) -> None:
    doc = _replay(_attack(dept, attack), learned["config"])
    assert {(r["peer"], r["operation"], r["rule"]) for r in doc["refused"]} == expected
    if attack == "new-host":
        assert doc["refused"][0]["host"] == "127.0.0.2"
