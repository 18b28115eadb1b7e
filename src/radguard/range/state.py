"""The state of a running range: one JSON file (``range.json``) in its run directory.

``radguard range up`` writes it, every other ``radguard range`` command reads it: the ports and
AE titles of the peers, the processes to stop, and the paths of the sealed archive, its backup and
its pristine copy. Only loopback addresses (127.0.0.0/8) appear in it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from radguard.errors import UsageError

STATE_FILE = "range.json"
SCHEMA = "radguard.range-state/1"


@dataclass
class Proc:
    """One process of the range: its pid, a marker its command line must contain (so ``down`` never
    signals a process that merely reused the pid), and whether it leads its own process group."""

    name: str
    pid: int
    marker: str
    group: bool = False

    def alive(self) -> bool:
        """True when the pid runs and its command line still carries the marker."""
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
        return self.marker in cmdline

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (to the group when it leads one), SIGKILL after ``timeout`` seconds."""
        if not self.alive():
            return
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return
            time.sleep(0.05)
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        try:
            if self.group:
                os.killpg(self.pid, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:
            pass


@dataclass
class RangeState:
    """Everything the range commands need to reach a running range."""

    run_dir: str
    host: str
    pacs_ae: str
    pacs_port: int
    pacs_http_port: int
    gateway_ae: str
    gateway_port: int
    workstation_ae: str
    workstation_port: int
    workstation_store: str
    archive_ae: str
    archive_port: int
    rogue_ae: str
    rogue_port: int
    rogue_store: str
    archive_dir: str
    backup_dir: str
    pristine_dir: str
    key: str
    db: str
    gateway_config: str
    gateway_audit: str
    monitor_alerts: str
    monitor_filter: str
    monitor_args: list[str] = field(default_factory=list)
    #: the decoy PACS (``radguard decoy``, 0: none) and its alerts file
    decoy_port: int = 0
    decoy_alerts: str = ""
    #: Study Instance UIDs of the honeytoken studies planted in the PACS (``radguard decoy plant``)
    honeytoken_studies: list[str] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)
    study_uids: list[str] = field(default_factory=list)
    patient_names: list[str] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)
    started: float = 0.0
    #: the gateway's DICOM TLS port (0: none) and the range PKI's folder (range/pki.py)
    gateway_tls_port: int = 0
    tls_dir: str = ""

    @property
    def dir(self) -> Path:
        return Path(self.run_dir)

    def ports(self) -> list[int]:
        """Every listening port of the range."""
        ports = [self.pacs_port, self.pacs_http_port, self.gateway_port, self.workstation_port, self.archive_port,
                 self.rogue_port]
        return [*ports, *(p for p in (self.gateway_tls_port, self.decoy_port) if p)]

    def proc(self, name: str) -> Proc | None:
        return next((p for p in self.procs if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self)}

    def save(self) -> None:
        path = self.dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, run_dir: Path) -> RangeState:
        """The state of the range in ``run_dir``; a :class:`UsageError` when there is none."""
        path = run_dir / STATE_FILE
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise UsageError(f"no range in {run_dir} (start one with: radguard range up --dir {run_dir})") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: unreadable range state ({exc})") from None
        doc.pop("schema", None)
        doc["procs"] = [Proc(**p) for p in doc.get("procs", [])]
        return cls(**doc)
