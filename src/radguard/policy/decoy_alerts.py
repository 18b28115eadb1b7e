"""The decoy's alerts: a JSON line per alert (written and flushed before the answer goes out), an ATNA
Security Alert (PS3.15 A.5.3.13) on the audit trail / syslog when configured, an event in the store, and
at the end one finding per source (rule ``decoy-touched``).

Nobody has a reason to talk to a decoy, so every touch is critical (45 CFR 164.308(a)(1)(ii)(D),
164.312(b); NIST CSF DE.CM-01, DE.AE-02). A flood must not fill the disk: each source gets at most
:data:`ALERTS_PER_MINUTE` alert lines per sliding minute; what it sends beyond is counted and reported
in one ``suppressed`` line when its window allows again, and in its finding.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from radguard import rulebook
from radguard.audittrail.codes import EventTypeCode, Outcome
from radguard.audittrail.messages import security_alert
from radguard.models import Event, Finding
from radguard.monitor.conversation import iso

log = logging.getLogger("radguard.decoy")

RULE = rulebook.rule("decoy-touched")
#: alert lines per source per sliding minute (the rest are counted: ``suppressed``)
ALERTS_PER_MINUTE = 120
WINDOW_SECONDS = 60.0
#: the audit source of the decoy's Security Alerts (PS3.15 A.5.3.13)
REPORTER = "RADGUARD-DECOY"
#: PS3.16 CID 401 event type per alert event
EVENT_TYPES = {"association": EventTypeCode.NODE_AUTHENTICATION, "connection": EventTypeCode.NODE_AUTHENTICATION,
               "protocol-violation": EventTypeCode.NETWORK_CONFIGURATION}


@dataclass
class SourceTally:
    """What one source did to the decoy (its finding's evidence)."""

    first: float
    last: float
    events: collections.Counter[str] = field(default_factory=collections.Counter)
    calling_aes: set[str] = field(default_factory=set)
    called_aes: set[str] = field(default_factory=set)
    suppressed: int = 0
    held: int = 0
    window: collections.deque[float] = field(default_factory=collections.deque)


class AlertSink:
    """Where the decoy's alerts go.

    Parameters
    ----------
    target : str
        The decoy's ``host:port`` (the findings' target).
    product : str
        The product profile the decoy plays (in every alert).
    path : Path, optional
        The alerts file (JSON Lines, appended, owner-only).
    trail : AuditTrail, optional
        The ATNA audit trail (file and/or syslog).
    store_events : callable, optional
        Receives each alert's store :class:`~radguard.models.Event` (called on a worker thread).
    """

    def __init__(self, target: str, product: str, *, path: Path | None = None, trail: Any = None,
                 store_events: Callable[[list[Event]], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.target, self.product = target, product
        self.trail = trail
        self.clock = clock
        self.sources: dict[str, SourceTally] = {}
        self.written = 0
        self._fh: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a", encoding="utf-8")
        self._store = store_events
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radguard-decoy-store") if store_events \
            else None

    def _allowed(self, tally: SourceTally, now: float) -> bool:
        q = tally.window
        while q and now - q[0] >= WINDOW_SECONDS:
            q.popleft()
        if len(q) >= ALERTS_PER_MINUTE:
            tally.suppressed += 1
            tally.held += 1
            return False
        q.append(now)
        return True

    def alert(self, event: str, source: str, source_port: int, connected: float, *, calling_ae: str = "",
              called_ae: str = "", detail: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Raise one alert; returns the line written, or None when the source's alert budget is spent."""
        now = self.clock()
        tally = self.sources.get(source)
        if tally is None:
            tally = self.sources[source] = SourceTally(first=now, last=now)
        tally.last = now
        tally.events[event] += 1
        if calling_ae:
            tally.calling_aes.add(calling_ae)
        if called_ae:
            tally.called_aes.add(called_ae)
        held = tally.held
        if not self._allowed(tally, now):
            return None
        doc: dict[str, Any] = {
            "time": iso(now), "rule": RULE.id, "severity": RULE.severity.value, "event": event, "source": source,
            "source_port": source_port, "calling_ae": calling_ae, "called_ae": called_ae, "decoy": self.target,
            "product": self.product, "connected": iso(connected), "detail": detail or {}}
        if held:
            doc["suppressed"] = held
            tally.held = 0
        self._write(doc)
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        """The alert line first (flushed: it is on disk before the peer gets an answer), then the observers."""
        if self._fh is not None:
            try:
                self._fh.write(json.dumps(doc) + "\n")
                self._fh.flush()
            except OSError as exc:
                log.error("decoy: cannot write the alerts file: %s", exc)
        self.written += 1
        text = f"decoy {doc['event']} from {doc['source']}" + (f" ({doc['calling_ae']} -> {doc['called_ae']})"
                                                                 if doc["calling_ae"] else "")
        log.warning("%s", text)
        if self.trail is not None:
            self.trail.emit(security_alert(
                alert=EVENT_TYPES.get(doc["event"], EventTypeCode.USE_OF_RESTRICTED_FUNCTION), reporter=REPORTER,
                subject_ae=doc["calling_ae"] or None, subject_host=doc["source"], outcome=Outcome.MAJOR_FAILURE,
                description=f"{RULE.id} ({RULE.severity.value}): {text} at {self.target}"))
        if self._worker is not None and self._store is not None:
            event = Event(kind="decoy-alert", source="decoy", summary=text[:500], severity=RULE.severity,
                          time=datetime.fromtimestamp(self.clock(), UTC), attributes=doc)
            self._worker.submit(self._stored, event)

    def _stored(self, event: Event) -> None:
        try:
            assert self._store is not None
            self._store([event])
        except Exception as exc:  # the store is an observer: the decoy goes on without it
            log.error("decoy: cannot write the alert to the store: %s", exc)

    def findings(self) -> list[Finding]:
        """One ``decoy-touched`` finding per source (what it did, when; AE titles are not PHI)."""
        return [RULE.finding(self.target, {
            "source": source, "first": iso(t.first), "last": iso(t.last), "events": dict(sorted(t.events.items())),
            "calling_aes": sorted(t.calling_aes)[:50], "called_aes": sorted(t.called_aes)[:50],
            "suppressed_alerts": t.suppressed, "product": self.product})
            for source, t in sorted(self.sources.items())]

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True)
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.trail is not None:
            self.trail.close()

