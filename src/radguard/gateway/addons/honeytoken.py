"""Honeytoken addon: a Security Alert when a relayed operation names a honeytoken study (rule
``honeytoken-touched``; 45 CFR 164.308(a)(1)(ii)(D), 164.312(b)).

An observer of the gateway's event bus (:mod:`radguard.gateway.bus`), never a decision: the operation is
relayed as policy says (the attacker must not learn that the study is a trap), and the alert goes to the
audit trail (PS3.15 A.5.3.13, event type "use of restricted function") and the log. It watches the Study,
Series and SOP Instance UIDs of relayed C-FIND identifiers (PS3.4 §C.4.1), the Study Instance UID of
C-MOVE/C-GET identifiers and of C-STOREs in either direction (C-GET and C-MOVE sub-operations included).
The honeytoken UIDs are read at start-up from the honeytoken file (:mod:`radguard.store.honeytokens`,
written by ``radguard decoy plant`` and ``radguard decoy``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from radguard.audittrail.codes import EventTypeCode
from radguard.dicom.uids import TransferSyntax, dataset_uids
from radguard.gateway import bus as ev
from radguard.gateway.addons.audit import GatewayAudit
from radguard.gateway.policy import AssociationInfo

log = logging.getLogger("radguard.gateway")

RULE_ID = "honeytoken-touched"


class HoneytokenWatch:
    """Alert on relayed operations that name honeytoken UIDs."""

    name = "honeytoken"

    def __init__(self, uids: Iterable[str], audit: Callable[[], GatewayAudit | None]) -> None:
        self.uids = frozenset(uids)
        self._audit = audit
        #: alerts raised (``contain --status`` and tests read it)
        self.alerts = 0

    @classmethod
    def from_file(cls, audit: Callable[[], GatewayAudit | None]) -> HoneytokenWatch:
        """The watch over the honeytoken file's UIDs (none when there is no file)."""
        from radguard.store.honeytokens import read_file

        return cls(read_file(), audit)

    def subscribe(self, events: ev.EventBus) -> None:
        """Watch queries, retrieves and stores (nothing to watch without honeytokens)."""
        if not self.uids:
            return
        events.subscribe(ev.QueryAnswered, self._query)
        events.subscribe(ev.RetrieveStarted, lambda e: self._named(e.assoc, e.service, _split(e.study_uid)))
        events.subscribe(ev.StoreAnswered, lambda e: self._named(e.assoc, "C-STORE", _split(e.study_uid)))

    def _query(self, e: ev.QueryAnswered) -> None:
        explicit, _little, deflated = TransferSyntax.encoding(e.transfer_syntax)
        if not deflated:
            self._named(e.assoc, "C-FIND", dataset_uids(e.identifier, implicit=not explicit))

    def _named(self, assoc: AssociationInfo, service: str, uids: Iterable[str]) -> None:
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
