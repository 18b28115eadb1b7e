"""Honeytoken addon: a Security Alert when a relayed operation names a honeytoken study (rule
``honeytoken-touched``; 45 CFR 164.308(a)(1)(ii)(D), 164.312(b)).

An observer of the gateway's event bus (:mod:`radguard.gateway.bus`), never a decision: the operation is
relayed as policy says (the attacker must not learn that the study is a trap), and the alert goes to the
audit trail (PS3.15 A.5.3.13, event type "use of restricted function") and the log. It watches the Study,
Series and SOP Instance UIDs of relayed C-FIND identifiers (PS3.4 §C.4.1), the Study Instance UID of
C-MOVE/C-GET identifiers and of C-STOREs in either direction (C-GET and C-MOVE sub-operations included).
The honeytoken UIDs come from the honeytoken file (:mod:`radguard.store.honeytokens`, written by
``radguard decoy plant`` and ``radguard decoy``), read at start-up and again when it changes (its
modification time, looked at no more than every :data:`RECHECK_SECONDS`): a new plant needs no restart.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from radguard.audittrail.codes import EventTypeCode
from radguard.dicom.uids import TransferSyntax, dataset_uids
from radguard.gateway import bus as ev
from radguard.gateway.addons.audit import GatewayAudit
from radguard.gateway.policy import AssociationInfo

log = logging.getLogger("radguard.gateway")

RULE_ID = "honeytoken-touched"
#: seconds between two looks at the honeytoken file's modification time
RECHECK_SECONDS = 5.0


class HoneytokenWatch:
    """Alert on relayed operations that name honeytoken UIDs."""

    name = "honeytoken"

    def __init__(self, uids: Iterable[str], audit: Callable[[], GatewayAudit | None],
                 path: Path | None = None) -> None:
        self.uids = frozenset(uids)
        self._audit = audit
        self._path = path
        self._mtime = self._stat()
        self._checked = time.monotonic()
        #: alerts raised (tests read it)
        self.alerts = 0

    @classmethod
    def from_file(cls, audit: Callable[[], GatewayAudit | None], path: Path | None = None) -> HoneytokenWatch:
        """The watch over the honeytoken file's UIDs (none while there is no file)."""
        from radguard.store.honeytokens import honeytoken_file, read_file

        target = path or honeytoken_file()
        return cls(read_file(target), audit, target)

    def _stat(self) -> float | None:
        if self._path is None:
            return None
        try:
            return os.stat(self._path).st_mtime
        except OSError:
            return None

    def _refresh(self) -> None:
        """Read the file again when it changed (at most every :data:`RECHECK_SECONDS`)."""
        now = time.monotonic()
        if self._path is None or now - self._checked < RECHECK_SECONDS:
            return
        self._checked = now
        mtime = self._stat()
        if mtime != self._mtime:
            from radguard.store.honeytokens import read_file

            self._mtime, self.uids = mtime, read_file(self._path)
            log.info("honeytokens: %d UIDs from %s", len(self.uids), self._path)

    def subscribe(self, events: ev.EventBus) -> None:
        """Watch queries, retrieves and stores (without honeytokens and without a file: nothing to watch)."""
        if not self.uids and self._path is None:
            return
        events.subscribe(ev.QueryAnswered, self._query)
        events.subscribe(ev.RetrieveStarted, lambda e: self._named(e.assoc, e.service, _split(e.study_uid)))
        events.subscribe(ev.StoreAnswered, lambda e: self._named(e.assoc, "C-STORE", _split(e.study_uid)))

    def _query(self, e: ev.QueryAnswered) -> None:
        self._refresh()
        explicit, _little, deflated = TransferSyntax.encoding(e.transfer_syntax)
        if self.uids and not deflated:
            self._named(e.assoc, "C-FIND", dataset_uids(e.identifier, implicit=not explicit))

    def _named(self, assoc: AssociationInfo, service: str, uids: Iterable[str]) -> None:
        self._refresh()
        hits = len(self.uids.intersection(uids))
        if not hits:
            return
        self.alerts += 1
        text = (f"{RULE_ID} (critical): {service} by {assoc.calling_ae}@{assoc.client_host} named {hits} "
                f"honeytoken UID(s)")
        log.warning("association %s: %s", assoc.label, text)
        audit = self._audit()
        if audit is not None:
            audit.alert(assoc, text, EventTypeCode.USE_OF_RESTRICTED_FUNCTION)


def _split(value: str) -> list[str]:
    return [u.strip(" \x00") for u in value.split("\\") if u.strip(" \x00")]
