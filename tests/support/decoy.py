"""A real ``radguard decoy`` process on a free loopback port, the probes that touch it (radguard scan, nmap
dicom-ping, DCMTK), and the time from each probe's first connection to its first alert line on disk (test
and benchmark support).

The alerts file is watched by a thread that notes when each line first appears (polling every 2 ms):
time to alert = that moment minus the connection time the decoy wrote in the line (``connected``), both
read from this machine's clock.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.peers import LOOPBACK, dcmtk_env, free_port, wait_port

POLL = 0.002


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Seen:
    """One alert line and when the watcher first saw it on disk."""

    doc: dict[str, Any]
    seen: float

    @property
    def time_to_alert(self) -> float:
        return self.seen - _epoch(str(self.doc["connected"]))


@dataclass
class DecoyProcess:
    """``radguard decoy --listen 127.0.0.1:PORT --alerts FILE --json`` as a subprocess, with a watcher."""

    workdir: Path
    extra: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[str] | None = None
    lines: list[Seen] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def alerts(self) -> Path:
        return self.workdir / "alerts.jsonl"

    def start(self) -> DecoyProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = dict(os.environ, TCP_NODELAY="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "radguard.cli.main", "decoy", "--listen", f"{LOOPBACK}:{self.port}",
             "--alerts", str(self.alerts), "--json", *self.extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=self.workdir)
        wait_port(LOOPBACK, self.port, timeout=30, proc=self.proc)  # type: ignore[arg-type]
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        offset = 0
        buf = b""
        while not self._stop.is_set():
            try:
                with self.alerts.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
            except FileNotFoundError:
                chunk = b""
            now = time.time()
            if chunk:
                offset += len(chunk)
                buf += chunk
                *complete, buf = buf.split(b"\n")
                self.lines.extend(Seen(json.loads(line), now) for line in complete if line.strip())
            time.sleep(POLL)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> list[Seen]:
        """The lines matching ``predicate``, once at least one appeared (empty after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [s for s in list(self.lines) if predicate(s.doc)]
            if found:
                time.sleep(0.1)  # the rest of the burst
                return [s for s in list(self.lines) if predicate(s.doc)]
            time.sleep(0.01)
        return []

    def stop(self) -> tuple[int, dict[str, Any], str]:
        """SIGTERM; (exit code, the --json document, stderr)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        return self.proc.returncode, json.loads(out) if out.strip() else {}, err


def dcmtk(args: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=dcmtk_env())


def probes(port: int) -> dict[str, Callable[[], subprocess.CompletedProcess[str]]]:
    """The probes of the issue, in order: radguard scan (its DICOM probes), nmap's dicom-ping, and DCMTK
    echoscu/findscu/movescu."""
    target = [LOOPBACK, str(port)]
    return {
        "radguard-scan": lambda: subprocess.run(
            [sys.executable, "-m", "radguard.cli.main", "scan", LOOPBACK, "-p", str(port), "--json", "--no-store"],
            capture_output=True, text=True, timeout=60, env=dict(os.environ, TCP_NODELAY="1")),
        # the "+" runs dicom-ping on a port outside its port rule (104, 11112, ...), as benchmarks/scan_vs_nmap.py
        "nmap-dicom-ping": lambda: dcmtk(["nmap", "-Pn", "-n", "-p", str(port), "--script", "+dicom-ping", LOOPBACK]),
        "echoscu": lambda: dcmtk(["echoscu", "-aet", "DCMECHO", "-aec", "ANYTHING", *target]),
        "findscu": lambda: dcmtk(["findscu", "-S", "-aet", "DCMFIND", "-aec", "PACS", "-k", "QueryRetrieveLevel=STUDY",
                                  "-k", "PatientName=*", "-k", "StudyInstanceUID", *target]),
        "movescu": lambda: dcmtk(["movescu", "-S", "-aet", "DCMMOVE", "-aec", "PACS", "-aem", "EXFIL", "-k",
                                  "QueryRetrieveLevel=STUDY", "-k", "PatientID=*", *target]),
    }


def time_to_alert(decoy: DecoyProcess) -> dict[str, dict[str, Any]]:
    """Run every probe against ``decoy``, one after the other; per probe: the events of the alert lines it
    caused, the time from its first connection to its first line on disk, and the longest such time of any
    of its lines (each from its own association's connection)."""
    out: dict[str, dict[str, Any]] = {}
    for name, run in probes(decoy.port).items():
        before = len(decoy.lines)
        result = run()
        time.sleep(0.3)  # the lines of its last association
        seen = decoy.lines[before:]
        first = min(seen, key=lambda s: s.seen) if seen else None
        out[name] = {"events": sorted({str(s.doc["event"]) for s in seen}), "exit": result.returncode,
                     "calling_aes": sorted({str(s.doc["calling_ae"]) for s in seen}),
                     "time_to_alert_s": first.time_to_alert if first else None,
                     "max_s": max((s.time_to_alert for s in seen), default=None), "lines": [s.doc for s in seen]}
    return out


def summary(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    times = [r["time_to_alert_s"] for r in results.values() if r["time_to_alert_s"] is not None]
    return {"median_ms": round(statistics.median(times) * 1000, 1), "max_ms": round(max(times) * 1000, 1)}
