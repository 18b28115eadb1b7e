"""Run the real scanner (``radguard.assess.scanner``) on loopback ports from a test."""

from __future__ import annotations

import asyncio

from radguard.assess.scanner import HostResult, PortResult, Scanner, ScanOptions


def scan(ports: list[int], host: str = "127.0.0.1", **kw: object) -> dict[int, PortResult]:
    """Scan ``ports`` of ``host`` (``kw``: :class:`ScanOptions` fields); port -> result."""
    opts = ScanOptions(ports=ports, timeout=float(kw.pop("timeout", 3.0)), **kw)  # type: ignore[arg-type]

    async def go() -> list[HostResult]:
        return [h async for h in Scanner(opts).run([host])]

    [result] = asyncio.run(go())
    return {p.port: p for p in result.ports}


def rules(result: PortResult) -> set[str]:
    """The rule ids of one port's findings."""
    return {f.rule for f in result.findings}
