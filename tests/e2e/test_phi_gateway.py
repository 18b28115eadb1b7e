"""radguard gateway in front of a real dcmqrscp: a fake patient's stores and queries, an unknown AE,
containment. The JSON Lines audit, the syslog messages (unless include_patient_id), the gateway's
stderr, the contain outputs and the store carry no PHI values."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydicom import dcmread

from radguard.phi import phi_hash
from tests.e2e.cli import json_doc, no_traceback, radguard
from tests.e2e.phi import NAME, PATIENT_ID, leaks, make_phi_files, sqlite_dump
from tests.support.corpus import ELF_HEAD
from tests.support.peers import LOOPBACK, dcmtk_env, free_port, start_dcmqrscp, wait_port

pytestmark = pytest.mark.integration

CONFIG = """
[gateway]
listen = "127.0.0.1:{port}"
upstream = "127.0.0.1:{up}"
upstream_ae = "QRSCP"
ae_title = "RADGUARD"
control = "run/control.sock"

[[peer]]
ae = "KNOWNSCU"
hosts = ["127.0.0.1"]
allow = ["C-ECHO", "C-STORE", "C-FIND"]

[[peer]]
ae = "CT01"
hosts = ["127.0.0.1"]
allow = ["C-ECHO", "C-STORE"]

[audit]
file = "audit.jsonl"
syslog = "udp://127.0.0.1:{syslog}"
include_patient_id = {include}
"""


class Syslog:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.messages: list[bytes] = []
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                self.messages.append(self.sock.recv(65536))
            except OSError:
                continue

    def close(self) -> None:
        self._stop = True
        self._t.join(2)
        self.sock.close()


def _dcmtk(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=dcmtk_env(), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("include_patient_id", [False, True])
def test_gateway_audit_trail_without_phi(tmp_path: Path, include_patient_id: bool) -> None:
    qr = start_dcmqrscp(tmp_path, peers={"KNOWNSCU": (LOOPBACK, 1)}, any_peer=True)
    syslog = Syslog()
    port = free_port()
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(CONFIG.format(port=port, up=qr.port, syslog=syslog.port,
                                 include=str(include_patient_id).lower()))
    files = make_phi_files(tmp_path / "files")
    weaponised = make_phi_files(tmp_path / "bad", ("MR_small.dcm",))[0]
    ds = dcmread(weaponised)
    ds.private_block(0x0011, "E2E", create=True).add_new(0x01, "OB", ELF_HEAD + bytes(4096))
    ds.save_as(weaponised)
    gw = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", "gateway", "--config", str(cfg), "-v"],
                          cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "RADGUARD_PHI_SECRET": "s" * 32})
    outputs: dict[str, str] = {}
    try:
        wait_port(LOOPBACK, port, proc=gw)  # type: ignore[arg-type]
        base = ["-aet", "KNOWNSCU", "-aec", "RADGUARD", LOOPBACK, str(port)]
        store = _dcmtk(["storescu", *base, *map(str, files)])
        assert store.returncode == 0, store.stderr
        find = _dcmtk(["findscu", "-P", *base, "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientName={NAME}",
                       "-k", "PatientID", "-k", "PatientBirthDate"])
        assert find.returncode == 0, find.stderr
        find2 = _dcmtk(["findscu", "-S", *base, "-k", "QueryRetrieveLevel=STUDY", "-k", f"PatientID={PATIENT_ID}",
                        "-k", "StudyInstanceUID"])
        assert find2.returncode == 0, find2.stderr
        ct = ["-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(port)]
        refused = _dcmtk(["findscu", "-v", "-P", *ct, "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientName={NAME}",
                          "-k", f"PatientID={PATIENT_ID}"])
        assert "Final Find Response (Unknown Status: 0x124)" in refused.stdout + refused.stderr  # refused
        rejected = _dcmtk(["storescu", "-v", *ct, str(weaponised)])
        assert "Store Response (Unknown Status: 0x124)" in rejected.stdout + rejected.stderr  # inspection
        unknown = _dcmtk(["echoscu", "-aet", "INTRUDER", "-aec", "RADGUARD", LOOPBACK, str(port)])
        assert unknown.returncode != 0
        for args in (["--peer", "KNOWNSCU"], ["--status"], ["--release"]):
            proc = radguard(["contain", "--config", str(cfg), *args, "--json"], cwd=tmp_path)
            json_doc(proc, "contain")
            outputs[f"contain {args}"] = proc.stdout + proc.stderr
        time.sleep(1.5)  # the JSON Lines file is flushed within a second
    finally:
        gw.send_signal(signal.SIGTERM)
        out, err = gw.communicate(timeout=20)
        qr.stop()
        syslog.close()
    no_traceback(subprocess.CompletedProcess(gw.args, gw.returncode, out, err))
    outputs.update({"gateway stdout": out, "gateway stderr": err})
    audit = (tmp_path / "audit.jsonl").read_text()
    assert len(audit.splitlines()) >= 5
    outputs["audit.jsonl"] = audit
    assert phi_hash(PATIENT_ID, secret=b"s" * 32) in audit  # linkable by keyed hash, not readable
    for event in ("C-FIND refused: C-FIND not allowed for CT01", "reject by inspection: active-content",
                  "association rejected: calling AE 'INTRUDER' not recognized", "contain peer", "contain release"):
        assert event in audit, event
    outputs["store"] = sqlite_dump(Path(os.environ["RADGUARD_DB"].removeprefix("sqlite:///")))
    assert syslog.messages, "no syslog message received"
    if not include_patient_id:
        outputs["syslog"] = b"\n".join(syslog.messages).decode("utf-8", "replace")
    else:  # the collector may see the Patient ID (and raw queries), nothing else changes
        assert any(PATIENT_ID.encode() in m for m in syslog.messages)
    assert {k: leaks(v) for k, v in outputs.items() if leaks(v)} == {}


QUARANTINE_CONFIG = """
[gateway]
listen = "127.0.0.1:{port}"
upstream = "127.0.0.1:{up}"
upstream_ae = "STORESCP"
ae_title = "RADGUARD"
control = "run/control.sock"

[[peer]]
ae = "CT01"
hosts = ["127.0.0.1"]
allow = ["C-ECHO", "C-STORE"]

[inspection]
active_content = "quarantine"
executable = "quarantine"

[audit]
file = "audit.jsonl"
"""


def test_quarantined_objects_are_private(tmp_path: Path) -> None:
    from tests.support.peers import start_storescp

    up = start_storescp(tmp_path)
    port = free_port()
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(QUARANTINE_CONFIG.format(port=port, up=up.port))
    weaponised = make_phi_files(tmp_path / "bad", ("MR_small.dcm",))[0]
    ds = dcmread(weaponised)
    ds.private_block(0x0011, "E2E", create=True).add_new(0x01, "OB", ELF_HEAD + bytes(4096))
    ds.save_as(weaponised)
    gw = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", "gateway", "--config", str(cfg)],
                          cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_port(LOOPBACK, port, proc=gw)  # type: ignore[arg-type]
        _dcmtk(["storescu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(port), str(weaponised)])
    finally:
        gw.send_signal(signal.SIGTERM)
        gw.communicate(timeout=20)
        up.stop()
    kept = list((tmp_path / "quarantine").glob("*.dcmds"))
    assert len(kept) == 1 and not list(up.extra["store"].iterdir())
    assert (tmp_path / "quarantine").stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in (tmp_path / "quarantine").iterdir())
