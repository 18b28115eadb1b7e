"""Security alerts folded per source: the first hostile act of a source is written at once, the ones that
follow within a window become one record with a count, so a flood cannot flood the audit trail.

A :class:`SourceFolder` is sans-io and sans-clock for its caller: it answers whether an act is written now
(:meth:`SourceFolder.hit`) and hands back the count of the acts it folded once their window is over
(:meth:`SourceFolder.due`, :meth:`SourceFolder.drain`); the owner writes the records and runs the timer.
Bounds (documented in docs/gateway.md): at most ``max_sources`` sources are tracked one by one; acts from
further sources, while the table is full, share one :data:`OTHER_SOURCES` entry. Each tracked source (and
the shared entry) gives at most two records per window: the first act, and the count of the rest. Memory is
O(``max_sources``) whatever the flood. The records are DICOM PS3.15 A.5.3.13 Security Alerts whose subject
is the network node (Node ID: its address; PS3.16 CID 404), built by :func:`node_alert`.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from radguard.audittrail import codes as c
from radguard.audittrail.codes import EventTypeCode
from radguard.audittrail.messages import AuditRecord, Participant, ParticipantObject
from radguard.models import utc_now

#: seconds during which further acts of a source are counted rather than written one by one
WINDOW_SECONDS = 60.0
#: sources tracked one by one; beyond them, acts share :data:`OTHER_SOURCES`
MAX_SOURCES = 1024
#: the entry shared by sources beyond :data:`MAX_SOURCES` while the table is full
OTHER_SOURCES = "(other sources)"


@dataclass(slots=True)
class _Entry:
    opened: float  # monotonic start of the window
    first: datetime
    last: datetime
    folded: int = 0
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)


@dataclass(frozen=True, slots=True)
class Folded:
    """The acts of one source counted, not written, during one window."""

    source: str
    count: int
    kinds: Mapping[str, int]
    first: datetime  # the act written at once that opened the window
    last: datetime
    window: float


class SourceFolder:
    """Per-source folding of repeated alerts with bounded memory.

    Parameters
    ----------
    window : float
        Seconds a window lasts from the act written at once (:data:`WINDOW_SECONDS`).
    max_sources : int
        Sources tracked one by one (:data:`MAX_SOURCES`).
    clock : callable
        Monotonic seconds (tests pass their own).
    """

    def __init__(self, window: float = WINDOW_SECONDS, max_sources: int = MAX_SOURCES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window, self.max_sources, self.clock = window, max_sources, clock
        self._table: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._table)

    def hit(self, source: str, kind: str) -> tuple[bool, list[Folded]]:
        """One hostile act of ``source``: (write it now?, counts of windows that are over, to write first:
        the source's previous one, and those swept to make room in a full table)."""
        now, wall = self.clock(), utc_now()
        entry = self._table.get(source)
        over: list[Folded] = []
        if entry is None and len(self._table) >= self.max_sources:
            over = self.due()
            if len(self._table) >= self.max_sources:
                source = OTHER_SOURCES
                entry = self._table.get(source)
        if entry is not None and now - entry.opened < self.window:
            entry.folded += 1
            entry.kinds[kind] += 1
            entry.last = wall
            return False, over
        previous = self._summary(source, entry) if entry is not None else None
        if previous is not None:
            over.append(previous)
        self._table[source] = _Entry(now, wall, wall)
        return True, over

    def due(self) -> list[Folded]:
        """The counts of every window that is over; sources whose window is over are forgotten."""
        now = self.clock()
        over = [(s, e) for s, e in self._table.items() if now - e.opened >= self.window]
        out = []
        for source, entry in over:
            del self._table[source]
            summary = self._summary(source, entry)
            if summary is not None:
                out.append(summary)
        return out

    def drain(self) -> list[Folded]:
        """The counts of every window, over or not (the owner stops); the table is emptied."""
        out = [s for s in (self._summary(src, e) for src, e in self._table.items()) if s is not None]
        self._table.clear()
        return out

    def next_due(self) -> float | None:
        """Seconds until the earliest window holding folded acts is over (None: none holds any)."""
        opened = [e.opened for e in self._table.values() if e.folded]
        return max(0.0, min(opened) + self.window - self.clock()) if opened else None

    def _summary(self, source: str, entry: _Entry) -> Folded | None:
        if not entry.folded:
            return None
        return Folded(source, entry.folded, dict(entry.kinds), entry.first, entry.last, self.window)


def node_alert(*, reporter: str, host: str, description: str, details: Mapping[str, str],
               alert: EventTypeCode = EventTypeCode.NODE_AUTHENTICATION, source_id: str = "RADGUARD") -> AuditRecord:
    """Security Alert (PS3.15 A.5.3.13) about a network node known only by its address (no AE title yet).

    The node is the requesting active participant (``NetworkAccessPointID`` its address) and the alert
    subject (participant object of ID type Node ID, role Security Resource), with ``details`` (kind, count,
    window) as ``ParticipantObjectDetail``. No PHI: an address and protocol facts only.
    """
    return AuditRecord(
        event=c.EventID.SECURITY_ALERT,
        event_types=(alert,),
        action=c.EventAction.EXECUTE,
        outcome=c.Outcome.MINOR_FAILURE,
        description=description,
        participants=(Participant(user_id=host, is_requestor=True, host=host),
                      Participant(user_id=reporter, is_requestor=False, role=c.RoleID.APPLICATION)),
        objects=(ParticipantObject(object_id=host, id_type=c.ObjectIDType.NODE_ID, type=c.ObjectType.SYSTEM_OBJECT,
                                   role=c.ObjectRole.SECURITY_RESOURCE, name=host, details=dict(details)),),
        source_id=source_id,
    )
