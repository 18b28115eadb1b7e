"""Run a scan end to end: engine → store (run kind ``scan``) → one outcome for the CLI.

Results are written to the store host by host as they arrive (a crash loses at most one
host). The outcome keeps counters in memory and spools ports, assets, findings and errors
as JSON to temporary files (in memory up to 256 KiB each, then on disk), so memory stays flat
however many targets are scanned; the ``--json`` document is streamed from the spools.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from radguard.assess.knowledge import kb_version
from radguard.assess.scanner import HostResult, Scanner, ScanOptions
from radguard.models import Finding, Severity

_SPOOL_IN_MEMORY = 256 << 10


class _Spool:
    """A JSON array written item by item to a spooled temporary file."""

    def __init__(self) -> None:
        # lives as long as the spool; closed by close()
        self.file: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=_SPOOL_IN_MEMORY, mode="w+", encoding="utf-8")
        self.count = 0

    def add(self, item: Any) -> None:
        self.file.write(json.dumps(item, default=str) + "\n")
        self.count += 1

    def add_lines(self, lines: list[str]) -> None:
        """Add items already encoded, one JSON text per line (each ending in a line feed)."""
        self.file.write("".join(lines))
        self.count += len(lines)

    def items(self) -> Iterator[Any]:
        self.file.seek(0)
        for line in self.file:
            if line.strip():
                yield json.loads(line)
        self.file.seek(0, 2)

    def write_array(self, out: IO[str]) -> None:
        out.write("[")
        self.file.seek(0)
        first = True
        for line in self.file:
            line = line.rstrip("\n")
            if not line:
                continue
            if not first:
                out.write(", ")
            out.write(line)
            first = False
        out.write("]")
        self.file.seek(0, 2)

    def close(self) -> None:
        self.file.close()


@dataclass(kw_only=True)
class ScanOutcome:
    run_id: int | None
    params: dict[str, Any]
    ports: _Spool = field(default_factory=_Spool)
    assets: _Spool = field(default_factory=_Spool)
    findings: _Spool = field(default_factory=_Spool)
    errors: _Spool = field(default_factory=_Spool)
    ports_scanned: int = 0
    open_ports: int = 0
    severities: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Severity})
    worst: Severity | None = None
    elapsed: float = 0.0

    def add(self, host: HostResult) -> None:
        self.ports_scanned += len(host.ports)
        self.open_ports += sum(1 for p in host.ports if p.state.value == "open")
        self.ports.add_lines([p.json_line() for p in host.ports])
        for a in host.assets:
            self.assets.add(a.to_dict())
        for f in host.findings:
            self.findings.add(f.to_dict())
            self.severities[f.severity.value] += 1
            if self.worst is None or f.severity > self.worst:
                self.worst = f.severity
        for e in host.all_errors:
            self.errors.add(e)

    def summary(self) -> dict[str, Any]:
        return {
            "hosts": self.params["hosts"],
            "ports_scanned": self.ports_scanned,
            "open": self.open_ports,
            "services": self.assets.count,
            "findings": dict(self.severities),
            "errors": self.errors.count,
            "elapsed_s": round(self.elapsed, 3),
        }

    def finding_list(self) -> list[Finding]:
        """All findings (read back from the spool: for tables and SARIF)."""
        return [Finding.from_dict(d) for d in self.findings.items()]

    def write_json(self, out: IO[str]) -> None:
        """Stream the ``radguard.scan/1`` document (README "CLI contract") to ``out``."""
        out.write('{"schema": "radguard.scan/1", ')
        out.write(f'"run": {json.dumps(self.run_id)}, "params": {json.dumps(self.params)}, ')
        out.write(f'"summary": {json.dumps(self.summary())}, "ports": ')
        self.ports.write_array(out)
        out.write(', "assets": ')
        self.assets.write_array(out)
        out.write(', "findings": ')
        self.findings.write_array(out)
        out.write(', "errors": ')
        self.errors.write_array(out)
        out.write("}\n")
        out.flush()

    def to_json(self) -> dict[str, Any]:
        """The same document as a dict (small scans, tests)."""
        doc = {"schema": "radguard.scan/1", "run": self.run_id, "params": self.params, "summary": self.summary(),
               "ports": list(self.ports.items()), "assets": list(self.assets.items()),
               "findings": list(self.findings.items()), "errors": list(self.errors.items())}
        return doc

    def close(self) -> None:
        for spool in (self.ports, self.assets, self.findings, self.errors):
            spool.close()


async def run_scan(
    hosts: Sequence[str],
    ports: Sequence[int],
    *,
    concurrency: int,
    per_host: int,
    timeout: float,
    intrusive: bool,
    calling_ae: str | None,
    called_aes: tuple[str, ...],
    store: bool = True,
    progress: bool = False,
) -> ScanOutcome:
    """Scan and (unless ``store=False``) record the run; raises StoreError if the store is unreachable."""
    options = ScanOptions(ports=list(ports), concurrency=concurrency, per_host=per_host, timeout=timeout,
                          intrusive=intrusive, calling_ae=calling_ae, called_aes=called_aes)
    params: dict[str, Any] = {
        "hosts": len(hosts),
        "targets_sample": list(hosts[:20]),
        "ports": list(ports),
        "concurrency": concurrency,
        "per_host": per_host,
        "timeout": timeout,
        "intrusive": intrusive,
        "knowledge_base": kb_version(),
    }
    handle = None
    if store:
        from radguard.store import open_store

        handle = open_store().start_run("scan", params)
    outcome = ScanOutcome(run_id=handle.id if handle else None, params=params)
    started = time.monotonic()
    done = 0
    try:
        async for host in Scanner(options).run(hosts):
            done += 1
            outcome.add(host)
            if handle is not None:
                handle.add_assets(host.assets)
                handle.add_findings(host.findings)
            if progress and len(hosts) > 1:
                print(f"\rscanned {done}/{len(hosts)} hosts", end="", file=sys.stderr, flush=True)
    except BaseException:
        if handle is not None:
            handle.finish({"interrupted": True}, status="failed")
        raise
    if progress and len(hosts) > 1:
        print(file=sys.stderr)
    outcome.elapsed = time.monotonic() - started
    if handle is not None:
        handle.finish(outcome.summary())
    return outcome
