"""The demo: a simulated imaging department on loopback, attacked and defended.

Each step runs the real ``radguard`` CLI (as a user would) against real peers:
Orthanc as the PACS, DCMTK storescp as a viewing workstation, DCMTK dcmqrscp as a
hardened archive. Results go to ``demo-out/`` (store, JSON, SARIF) in the current
directory, so they can be inspected afterwards with ``radguard findings list``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radguard.range.drills import Capture, step_archive, step_gateway, step_pcap
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
    name: str
    ok: bool
    summary: str
    seconds: float
    data: dict[str, Any] = field(default_factory=dict)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def radguard(args: Sequence[str], out: Path, *, check_json: bool = True) -> tuple[int, dict[str, Any]]:
    """Run the real CLI (``python -m radguard.cli.main``) with ``--json``; return (exit code, document)."""
    env = dict(os.environ)
    env["RADGUARD_DB"] = f"sqlite:///{out / 'radguard.db'}"
    env["TCP_NODELAY"] = "1"
    cmd = [sys.executable, "-m", "radguard.cli.main", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if proc.stderr.strip():
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
    _say("• starting the simulated department on 127.0.0.1 (Orthanc PACS, DCMTK workstation, DCMTK archive)")
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
    _say(f"  PACS      Orthanc  DICOM {pacs.address}  REST :{pacs.http_port}  (seeded with {len(dept.images)} images)")
    _say(f"  WS01      storescp {ws.address}")
    _say(f"  ARCHIVE   dcmqrscp {archive.address}  (AE table: only WS01)")
    return dept


def step_scan(dept: Department) -> StepResult:
    """Identify: scan the department's DICOM and web endpoints."""
    t0 = time.monotonic()
    ports = ",".join(str(p) for p in dept.scan_ports)
    rc, doc = radguard(
        ["scan", "127.0.0.1", "--ports", ports, "--json", "--sarif", str(dept.out / "scan.sarif")], dept.out
    )
    (dept.out / "scan.json").write_text(json.dumps(doc, indent=1))
    findings = doc.get("findings", [])
    by_sev: dict[str, int] = {}
    for f in findings:
        by_sev[f["severity"]] = by_sev.get(f["severity"], 0) + 1
    rules = sorted({f["rule"] for f in findings})
    ok = rc in (0, 1) and bool(findings)
    return StepResult(
        name="identify: radguard scan",
        ok=ok,
        summary=f"{len(findings)} findings {by_sev} rules={rules}",
        seconds=time.monotonic() - t0,
        data={"exit_code": rc},
    )


#: the demo's steps, in order; later capabilities add theirs here
STEPS: list[Callable[[Department], StepResult]] = [step_scan, step_gateway, step_archive, step_pcap]


def _print_efficacy(results: list[StepResult]) -> None:
    """Efficacy table: every attack the drills tried, and whether a defense blocked or detected it."""
    rows = [(r.name.split(":")[0], a) for r in results for a in r.data.get("attacks", [])]
    if not rows:
        return
    print("\ndefense efficacy (attack -> outcome)")
    stopped = 0
    for phase, a in rows:
        outcome = "blocked" if a.get("blocked") else "detected" if a.get("detected") else "MISSED"
        stopped += outcome != "MISSED"
        print(f"  {phase:<16} {a['attack']:<62} {outcome}")
    print(f"  {stopped}/{len(rows)} attacks blocked or detected")


def main(argv: Sequence[str] | None = None) -> int:
    out = Path("demo-out").resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    results: list[StepResult] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="radguard-demo-") as tmp:
        try:
            dept = start_department(stack, Path(tmp), out)
        except (RuntimeError, OSError) as exc:
            print(f"radguard demo: error: cannot start the simulated department: {exc}", file=sys.stderr)
            return 2
        for step in STEPS:
            _say(f"\n• {step.__doc__.splitlines()[0] if step.__doc__ else step.__name__}")
            try:
                res = step(dept)
            except Exception as exc:  # a failing step is reported, the demo goes on
                res = StepResult(name=step.__name__, ok=False, summary=f"error: {exc}", seconds=0.0)
            results.append(res)
            _say(f"  {'OK ' if res.ok else 'FAIL'} {res.name}: {res.summary} ({res.seconds:.1f}s)")
    summary = {"steps": [r.__dict__ for r in results], "out": str(out)}
    (out / "demo.json").write_text(json.dumps(summary, indent=1, default=str))
    print("\nradguard demo summary")
    for r in results:
        print(f"  [{'ok' if r.ok else 'FAILED'}] {r.name}: {r.summary}")
    _print_efficacy(results)
    print(f"results: {out} (store: RADGUARD_DB=sqlite:///{out / 'radguard.db'} radguard findings list)")
    return 0 if all(r.ok for r in results) else 1
