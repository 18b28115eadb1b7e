"""Run a scan end to end: engine → store (run kind ``scan``) → one outcome for the CLI.

Results are written to the store host by host as they arrive (a crash loses at most one
host), and only findings, assets, per-port summaries and errors are kept in memory.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from radguard.assess.evaluate import count_by_severity
from radguard.assess.knowledge import kb_version
from radguard.assess.scanner import Scanner, ScanOptions
from radguard.models import Asset, Finding


@dataclass(kw_only=True)
class ScanOutcome:
    run_id: int | None
    params: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    assets: list[Asset] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "hosts": self.params["hosts"],
            "ports_scanned": len(self.ports),
            "open": sum(1 for p in self.ports if p["state"] == "open"),
            "services": len(self.assets),
            "findings": count_by_severity(self.findings),
            "errors": len(self.errors),
            "elapsed_s": round(self.elapsed, 3),
        }

    def to_json(self) -> dict[str, Any]:
        """The ``radguard.scan/1`` document (README "CLI contract")."""
        return {
            "run": self.run_id,
            "params": self.params,
            "summary": self.summary(),
            "ports": [p for p in self.ports if p["state"] != "closed"],
            "assets": [a.to_dict() for a in self.assets],
            "findings": [f.to_dict() for f in self.findings],
            "errors": self.errors,
        }


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
            outcome.findings.extend(host.findings)
            outcome.assets.extend(host.assets)
            outcome.ports.extend(p.to_dict() for p in host.ports)
            outcome.errors.extend(host.all_errors)
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
