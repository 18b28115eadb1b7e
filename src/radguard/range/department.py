"""The simulated imaging department the demo's drills run against, and what every drill shares.

:func:`start_department` starts the peers on loopback (Orthanc as the PACS, DCMTK storescp as
a viewing workstation, DCMTK dcmqrscp as a hardened archive, see :mod:`radguard.range.peers`)
and a tcpdump :class:`Capture` of their ports; :func:`radguard` runs the real CLI as a user
would; a drill returns a :class:`StepResult`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radguard.range.peers import (
    OrthancPeer,
    Peer,
    free_port,
    start_dcmqrscp,
    start_orthanc,
    start_storescp,
    storescu,
)
from radguard.range.samples import bundled


class Capture:
    """tcpdump on the loopback interface, limited to the given TCP ports."""

    def __init__(self, path: Path, ports: list[int]) -> None:
        self.path = path
        expr = " or ".join(f"tcp port {p}" for p in ports)
        self.proc: subprocess.Popen[bytes] | None = None
        if shutil.which("tcpdump") is None:
            return
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-s", "0", "-U", "--immediate-mode", "-B", "131072", "-w", str(path), expr],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # let tcpdump open the interface before traffic starts

    def stop(self) -> Path | None:
        if self.proc is None:
            return None
        time.sleep(0.5)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return self.path if self.path.exists() else None


@dataclass
class Department:
    """The simulated department's peers and working directories."""

    pacs: OrthancPeer
    workstation: Peer
    archive: Peer
    workdir: Path
    out: Path
    images: list[Path] = field(default_factory=list)
    extra_ports: dict[str, int] = field(default_factory=dict)
    capture: Capture | None = None

    @property
    def scan_ports(self) -> list[int]:
        """The department's ports plus the usual DICOM/PACS web ports (mostly closed here: a real sweep)."""
        from radguard.assess.targets import DEFAULT_PORTS

        own = [self.pacs.port, self.pacs.http_port, self.workstation.port, self.archive.port]
        return own + [p for p in DEFAULT_PORTS if p not in own]


@dataclass
class StepResult:
    """What one drill did: ``ok`` when the defense worked; ``data["attacks"]`` lists each attack tried
    and whether it was ``blocked`` or ``detected``; ``seconds`` is set by the demo, which times every drill."""

    name: str
    ok: bool
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def say(msg: str) -> None:
    """Progress for people, on stderr."""
    print(msg, file=sys.stderr, flush=True)


def radguard(args: Sequence[str], out: Path, *, check_json: bool = True,
             echo_stderr: bool = True) -> tuple[int, dict[str, Any]]:
    """Run the real CLI (``python -m radguard.cli.main``) with ``--json``; return (exit code, document).
    Its stderr (progress, warnings) is passed on unless ``echo_stderr`` is False."""
    env = dict(os.environ)
    env["RADGUARD_DB"] = f"sqlite:///{out / 'radguard.db'}"
    env["TCP_NODELAY"] = "1"
    cmd = [sys.executable, "-m", "radguard.cli.main", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if echo_stderr and proc.stderr.strip():
        sys.stderr.write(proc.stderr)
    doc: dict[str, Any] = {}
    if check_json and proc.stdout.strip():
        try:
            doc = json.loads(proc.stdout)
        except json.JSONDecodeError:
            doc = {"unparsed_stdout": proc.stdout[-2000:]}
    return proc.returncode, doc


def demo_images() -> list[Path]:
    """A few real third-party DICOM files that pydicom ships (CT, MR, J2K, multi-frame RLE, RT dose)."""
    names = ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "SC_rgb_rle_2frame.dcm", "rtdose.dcm", "liver_1frame.dcm"]
    return [bundled(name) for name in names]


def start_department(stack: ExitStack, workdir: Path, out: Path) -> Department:
    """Start the peers (stopped by ``stack``), seed the PACS with :func:`demo_images`, start the capture."""
    say("• starting the simulated department on 127.0.0.1 (Orthanc PACS, DCMTK workstation, DCMTK archive)")
    ws = start_storescp(workdir, ae="WS01")
    stack.callback(ws.stop)
    # the PACS knows its peers by AE title (as behind the gateway, from the gateway's address)
    known = {"ws01": ("WS01", "127.0.0.1", ws.port), "ct01": ("CT01", "127.0.0.1", 104)}
    pacs = start_orthanc(workdir, ae="PACS", modalities=known)
    stack.callback(pacs.stop)
    archive = start_dcmqrscp(workdir, ae="ARCHIVE", peers={"WS01": ("127.0.0.1", ws.port)})
    stack.callback(archive.stop)
    dept = Department(pacs=pacs, workstation=ws, archive=archive, workdir=workdir, out=out, images=demo_images())
    dept.extra_ports["gateway"] = free_port()
    dept.capture = Capture(out / "department.pcap", [*dept.scan_ports, dept.extra_ports["gateway"]])
    stack.callback(dept.capture.stop)
    r = storescu(pacs.host, pacs.port, dept.images, called_ae="PACS", calling_ae="CT01", extra_args=["-xs"])
    if r.returncode != 0:
        r = storescu(pacs.host, pacs.port, dept.images, called_ae="PACS", calling_ae="CT01")
    say(f"  PACS      Orthanc  DICOM {pacs.address}  REST :{pacs.http_port}  (seeded with {len(dept.images)} images)")
    say(f"  WS01      storescp {ws.address}")
    say(f"  ARCHIVE   dcmqrscp {archive.address}  (AE table: only WS01)")
    return dept
