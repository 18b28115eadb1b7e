"""Running the decoy (``radguard decoy``): its studies, its alert sinks, its store run, until SIGTERM/SIGINT.

The studies are generated from the site's honeytoken root with a seed derived from it and the product, so
a restarted decoy holds the same studies (an attacker who queried it yesterday sees the same patients),
and their UIDs join the honeytoken file and the store (:mod:`radguard.store.honeytokens`): whoever later
asks the real PACS for a study seen on the decoy is caught by the gateway and the monitor too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radguard.models import Finding
from radguard.policy.decoy import Decoy, DecoyLimits, bind
from radguard.policy.decoy_alerts import AlertSink
from radguard.policy.decoy_services import Profile, profile
from radguard.policy.honeytokens import HoneyStudy, all_uids, generate, uid_root

log = logging.getLogger("radguard.decoy")


@dataclass
class DecoyOptions:
    """What ``radguard decoy`` was asked for."""

    host: str
    port: int
    product: str | None = None
    alerts: Path | None = None
    audit_file: Path | None = None
    audit_syslog: str | None = None
    store: bool = True
    limits: DecoyLimits = field(default_factory=DecoyLimits)


@dataclass
class DecoyResult:
    """What a decoy run saw (``--json``): its address and profile, its counters (connections, associations,
    per DIMSE service, ``studies`` held, ``alerts`` written), one finding per source, its store run."""

    profile: Profile
    address: tuple[str, int]
    stats: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    run_id: int | None = None


def studies_for(prof: Profile, root: str | None = None) -> list[HoneyStudy]:
    """The decoy's studies for ``prof``: the same on every start at one site."""
    base = root or uid_root()
    return generate(prof.studies, root=base, seed=f"{base}/{prof.name}".encode())


def _trail(opts: DecoyOptions) -> Any:
    if opts.audit_file is None and opts.audit_syslog is None:
        return None
    from radguard.audittrail.syslog import SyslogTarget, make_sender
    from radguard.audittrail.trail import AuditTrail

    sender = make_sender(SyslogTarget.parse(opts.audit_syslog)) if opts.audit_syslog else None
    spool = (opts.alerts or opts.audit_file or Path(".")).parent / "decoy-audit-spool" if sender else None
    return AuditTrail(jsonl=opts.audit_file, sender=sender, spool_dir=spool)


async def serve(opts: DecoyOptions, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> DecoyResult:
    """Run a decoy until ``stop`` is set (SIGTERM/SIGINT when none is given); its result."""
    from radguard.store import honeytokens as tokens

    prof = profile(opts.product)
    sock = bind(opts.host, opts.port)
    studies = studies_for(prof)
    uids = all_uids(studies)
    tokens.append_file(uids)
    store, run = None, None
    if opts.store:
        from radguard.store import open_store

        try:
            store = open_store()
            run = store.start_run("decoy", {"listen": f"{opts.host}:{opts.port}", "product": prof.name})
            tokens.add(run, uids)
        except Exception as exc:  # the store is an observer: the decoy runs without it
            log.error("decoy: store unavailable (%s); alerts go to the file/audit trail only", exc)
            store = run = None
    sink = AlertSink(f"{opts.host}:{opts.port}", f"{prof.product} {prof.version}", path=opts.alerts,
                     trail=_trail(opts), store_events=run.add_events if run is not None else None)
    decoy = Decoy(prof, studies, sink, opts.limits)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        address = await decoy.start(sock)
        sink.target = f"{address[0]}:{address[1]}"
        log.warning("decoy %s (%s) listening on %s:%d, %d honeytoken studies", prof.ae_title, prof.product,
                    *address, len(studies))
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, stop.set)
            loop.add_signal_handler(signal.SIGINT, stop.set)
        if ready is not None:
            ready.set()
        await stop.wait()
        await decoy.stop()
    finally:
        sink.close()
    findings = sink.findings()
    if run is not None and store is not None:
        try:
            run.add_findings(findings)
            run.finish({**dict(decoy.stats), "alerts": sink.written, "studies": len(studies)})
        except Exception as exc:
            log.error("decoy: cannot finish the store run: %s", exc)
        store.close()
    stats = {**dict(decoy.stats), "studies": len(studies), "alerts": sink.written}
    return DecoyResult(prof, address, stats, findings, run.id if run is not None else None)
