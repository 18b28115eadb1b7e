"""Shared helpers of the gateway integration tests (no tests here; named test_* to stay in the gateway paths)."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from radguard.gateway.config import GatewayConfig, parse_config
from tests.support.peers import dcmtk_env

LOOPBACK = "127.0.0.1"


def make_files(folder: Path, n: int, *, source: str = "CT_small.dcm", patient_id: str = "GW-PAT-1") -> list[Path]:
    """``n`` copies of a pydicom test file with unique SOP Instance UIDs (one study)."""
    folder.mkdir(parents=True, exist_ok=True)
    ds = dcmread(get_testdata_file(source))  # type: ignore[arg-type]
    ds.PatientID = patient_id
    ds.StudyInstanceUID = generate_uid()
    out = []
    for i in range(n):
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = folder / f"obj{i:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        out.append(path)
    return out


def gateway_config(tmp: Path, *, upstream: tuple[str, int], upstream_ae: str, peers: list[dict[str, Any]],
                   listen_port: int = 0, audit: dict[str, Any] | None = None, limits: dict[str, Any] | None = None,
                   inspection: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> GatewayConfig:
    doc: dict[str, Any] = {
        "gateway": {"listen": f"{LOOPBACK}:{listen_port}", "upstream": f"{upstream[0]}:{upstream[1]}",
                    "upstream_ae": upstream_ae, "ae_title": "RADGUARD", "control": str(tmp / "gw" / "control.sock"),
                    "spool": str(tmp / "gw" / "spool"), **(extra or {})},
        "peer": peers,
        "audit": audit if audit is not None else {"file": str(tmp / "gw" / "audit.jsonl")},
    }
    if limits:
        doc["limits"] = limits
    if inspection:
        doc["inspection"] = inspection
    return parse_config(doc, tmp)


def dcmtk(args: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a DCMTK tool with TCP_NODELAY=1 and verbose output."""
    return subprocess.run([args[0], "-v", *args[1:]], env=dcmtk_env(), capture_output=True, text=True,
                          timeout=timeout)


def reject_line(proc: subprocess.CompletedProcess[str]) -> str:
    m = re.search(r"Result: (.*)\n.*Reason: (.*)", proc.stdout + proc.stderr)
    return f"{m.group(1).strip()} / {m.group(2).strip()}" if m else ""


class UdpCollector:
    """A syslog collector on UDP (RFC 5426) in the test process."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
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

    def wait(self, predicate: Any, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate(self.messages):
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop = True
        self._t.join(2)
        self.sock.close()


def start_qrscp(tmp: Path, *, ae: str, peers: dict[str, tuple[str, int]]) -> Any:
    """dcmqrscp in its forking mode: DCMTK 3.6.7's ``--single-process -dhl`` (tests.support.peers.start_dcmqrscp)
    segfaults when the first association is released, so reuse its configuration and run it without
    ``--single-process``."""
    from tests.support.peers import start_dcmqrscp, wait_port

    peer = start_dcmqrscp(tmp, ae=ae, peers=peers)
    peer.stop()
    log = (peer.workdir / "dcmqrscp-forking.log").open("wb")
    peer.proc = subprocess.Popen(["dcmqrscp", "-c", str(peer.extra["cfg"]), "-dhl"], cwd=peer.workdir,
                                 stdout=log, stderr=subprocess.STDOUT, env=dcmtk_env())
    wait_port(LOOPBACK, peer.port, proc=peer.proc)
    return peer
