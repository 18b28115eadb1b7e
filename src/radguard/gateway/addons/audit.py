"""Audit addon: every association, operation, refusal and alert as a PS3.15 A.5 audit message
(45 CFR 164.312(b); IHE ATNA). An observer of the gateway's event bus (:mod:`radguard.gateway.bus`):
:meth:`GatewayAudit.subscribe` maps each event to its record; an error is logged by the bus and never
reaches the relay.

Hostile acts before association (garbage, oversized PDU announcements, P-DATA before association,
incomplete PDUs, ARTIM timeouts, pending-limit drops, and on the TLS port every failed TLS handshake:
:mod:`radguard.gateway.tls_accept`) are Security Alerts 110113 / Node Authentication
110126 about the source address, folded per source (:mod:`radguard.audittrail.fold`): the first act of a
source is written at once, the others of its window become one record with their count, written when the
window is over (a timer on the running event loop) or when the gateway stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from radguard.audittrail import messages as m
from radguard.audittrail.codes import EventAction, EventTypeCode, Outcome
from radguard.audittrail.fold import Folded, SourceFolder, node_alert
from radguard.audittrail.trail import AuditTrail
from radguard.dicom.enums import StatusCategory, status_category
from radguard.gateway import bus as ev
from radguard.gateway.dataset import query_keys
from radguard.gateway.pieces import End
from radguard.gateway.policy import AssociationInfo, Direction

log = logging.getLogger("radguard.gateway")

def outcome_of(status: int | None) -> Outcome:
    """EventOutcomeIndicator of a DIMSE status: success/warning 0, failure 4 (8 when nothing was done)."""
    if status is None:
        return Outcome.SERIOUS_FAILURE
    cat = status_category(status)
    if cat in (StatusCategory.SUCCESS, StatusCategory.WARNING, StatusCategory.PENDING):
        return Outcome.SUCCESS
    return Outcome.MINOR_FAILURE


class GatewayAudit:
    """Turns gateway happenings into audit records on an :class:`AuditTrail`."""

    name = "audit"

    def __init__(self, trail: AuditTrail, source_id: Callable[[], str], upstream: Callable[[], tuple[str, str]]):
        self.trail = trail
        self._source = source_id
        self._upstream = upstream  # (AE, host)
        #: hostile acts before association, folded per source address
        self.folder = SourceFolder()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def source(self) -> str:
        return self._source()

    def _ends(self, assoc: AssociationInfo) -> tuple[str, str]:
        """(AE, host) of the side the association is relayed to."""
        target = assoc.target[0] if assoc.target else self._upstream()[1]
        return assoc.target_ae or self._upstream()[0], target

    def started(self, start: bool, description: str | None = None) -> None:
        self.trail.emit(m.application_activity(start=start, source_id=self.source, description=description))

    def association(self, assoc: AssociationInfo, *, accepted: bool, reason: str = "") -> None:
        if accepted:
            self.trail.emit(m.user_authentication(login=True, user_id=assoc.calling_ae, host=assoc.client_host,
                                                  source_id=self.source, description=f"association {assoc.label}"))
        else:
            self.trail.emit(m.security_alert(
                alert=EventTypeCode.NODE_AUTHENTICATION, reporter=self.source, subject_ae=assoc.calling_ae,
                subject_host=assoc.client_host, description=f"association rejected: {reason}"))

    def closed(self, assoc: AssociationInfo, *, how: str) -> None:
        outcome = Outcome.SUCCESS if how == "released" else Outcome.MINOR_FAILURE
        self.trail.emit(m.user_authentication(login=False, user_id=assoc.calling_ae, host=assoc.client_host,
                                              source_id=self.source, outcome=outcome,
                                              description=f"association {assoc.label} {how}"))

    def refused(self, assoc: AssociationInfo, service: str, reason: str) -> None:
        self.trail.emit(m.security_alert(
            alert=EventTypeCode.USE_OF_RESTRICTED_FUNCTION, reporter=self.source, subject_ae=assoc.calling_ae,
            subject_host=assoc.client_host, description=f"{service} refused: {reason}"))

    def alert(self, assoc: AssociationInfo | None, description: str, kind: EventTypeCode) -> None:
        self.trail.emit(m.security_alert(
            alert=kind, reporter=self.source, subject_ae=assoc.calling_ae if assoc else None,
            subject_host=assoc.client_host if assoc else None, description=description))

    def stored(self, assoc: AssociationInfo, *, patient_id: str, study_uid: str, sop_class: str,
               status: int | None, description: str | None = None) -> None:
        dest_ae, dest_host = self._ends(assoc)
        self.trail.emit(m.instances_transferred(
            source_ae=assoc.calling_ae, source_host=assoc.client_host, dest_ae=dest_ae, dest_host=dest_host,
            patient_id=patient_id, study_uid=study_uid, sop_classes={sop_class: 1}, outcome=outcome_of(status),
            description=description or (f"status 0x{status:04X}" if status is not None else "no response"),
            source_id=self.source))

    def retrieved(self, assoc: AssociationInfo, *, patient_id: str, study_uid: str, sop_class: str,
                  status: int | None) -> None:
        """An instance sent to the client over its own association (C-GET sub-operation)."""
        src_ae, src_host = self._ends(assoc)
        self.trail.emit(m.instances_transferred(
            source_ae=src_ae, source_host=src_host, dest_ae=assoc.calling_ae, dest_host=assoc.client_host,
            patient_id=patient_id, study_uid=study_uid, sop_classes={sop_class: 1}, outcome=outcome_of(status),
            action=EventAction.READ, requestor_is_source=False, source_id=self.source,
            description=f"C-GET sub-operation, status 0x{status:04X}" if status is not None else None))

    def query(self, assoc: AssociationInfo, *, sop_class: str, keys: tuple[str, ...], identifier: bytes | None,
              transfer_syntax: str | None, status: int | None) -> None:
        dest_ae, dest_host = self._ends(assoc)
        self.trail.emit(m.query(
            requestor_ae=assoc.calling_ae, requestor_host=assoc.client_host, responder_ae=dest_ae,
            responder_host=dest_host, sop_class_uid=sop_class, query_keys=keys, query_bytes=identifier,
            transfer_syntax=transfer_syntax, outcome=outcome_of(status), source_id=self.source))

    def retrieve_started(self, assoc: AssociationInfo, *, service: str, destination: str, study_uid: str,
                         patient_id: str) -> None:
        src_ae, src_host = self._ends(assoc)
        dest_host = assoc.client_host if service == "C-GET" else None
        self.trail.emit(m.begin_transferring(
            source_ae=src_ae, source_host=src_host, dest_ae=destination, dest_host=dest_host,
            patient_id=patient_id, study_uid=study_uid, description=f"{service} by {assoc.calling_ae}",
            source_id=self.source))

    def containment(self, action: str, detail: Mapping[str, Any], peer: str | None) -> None:
        self.trail.emit(m.security_alert(
            alert=EventTypeCode.SECURITY_CONFIGURATION, reporter=self.source, subject_ae=peer,
            user_id="radguard-contain", outcome=Outcome.SUCCESS, description=f"contain {action}: {dict(detail)}"))

    def hostile(self, e: ev.HostileConnection) -> None:
        """A hostile act before association: written at once if it is the first of its source's window,
        else counted (and the timer set that writes the count when the window is over)."""
        write, over = self.folder.hit(e.host, e.kind.value)
        for folded in over:
            self._write_folded(folded)
        if write:
            log.warning("connection from %s before association: %s: %s (more from it within %g s are counted)",
                        e.host, e.kind.value, e.detail, self.folder.window)
            details = {"kind": e.kind.value, "count": "1", "window_seconds": f"{self.folder.window:g}"}
            if e.subject is not None:  # a TLS client's certificate (PS3.15 B.1 node authentication)
                details["certificate_subject"] = e.subject
            self.trail.emit(node_alert(
                reporter=self.source, host=e.host, source_id=self.source,
                description=f"before association: {e.kind.value}: {e.detail}", details=details))
        else:
            self._arm()

    def flush_folded(self, *, final: bool = False) -> None:
        """Write the counts of the windows that are over (``final``: of every window, the gateway stops)."""
        self._timer = None
        for folded in self.folder.drain() if final else self.folder.due():
            self._write_folded(folded)
        if not final:
            self._arm()

    def _arm(self) -> None:
        wait = self.folder.next_due()
        if self._timer is not None or wait is None:
            return
        with contextlib.suppress(RuntimeError):  # no running loop (unit tests): counts go out at the end
            self._timer = asyncio.get_running_loop().call_later(wait, self.flush_folded)

    def _write_folded(self, f: Folded) -> None:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(f.kinds.items()))
        log.warning("%s: %d more hostile connection(s) before association within %g s (%s)", f.source, f.count,
                    f.window, kinds)
        self.trail.emit(node_alert(
            reporter=self.source, host=f.source, source_id=self.source,
            description=f"before association: {f.count} more hostile connection(s) within {f.window:g} s ({kinds})",
            details={"kind": "folded", "count": str(f.count), "kinds": kinds, "window_seconds": f"{f.window:g}",
                     "first": f.first.isoformat(timespec="milliseconds"),
                     "last": f.last.isoformat(timespec="milliseconds")}))

    def _state(self, e: ev.GatewayState) -> None:
        if not e.running:
            if self._timer is not None:
                self._timer.cancel()
            self.flush_folded(final=True)
        self.started(e.running)

    def is_suboperation(self, assoc: AssociationInfo) -> bool:
        return assoc.direction is Direction.SUBOPERATION

    # ------------------------------------------------------------------ events to records

    def subscribe(self, events: ev.EventBus) -> None:
        """Write a record for every gateway event that calls for one."""
        on = events.subscribe
        on(ev.GatewayState, self._state)
        on(ev.ConfigReloaded, lambda e: self.alert(None, f"configuration reloaded ({e.peers} peers)" if e.error is None
                                                   else f"configuration reload failed: {e.error}",
                                                   EventTypeCode.SOFTWARE_CONFIGURATION))
        on(ev.ControlRefused, lambda e: self.alert(None, f"control socket: {e.reason}",
                                                   EventTypeCode.USE_OF_RESTRICTED_FUNCTION))
        on(ev.HostileConnection, self.hostile)
        on(ev.Contained, lambda e: self.containment(e.action, e.detail, e.peer))
        on(ev.ProtocolViolated, self._violated)
        on(ev.AssociationAccepted, lambda e: self.association(e.assoc, accepted=True))
        on(ev.AssociationRejected, lambda e: self.association(e.assoc, accepted=False, reason=e.reason))
        on(ev.AssociationClosed, lambda e: self.closed(e.assoc, how=e.how))
        on(ev.RequestRefused, lambda e: self.refused(e.assoc, e.service, e.reason))
        on(ev.StoreAlerted, lambda e: self.alert(e.assoc, "inspection: " + ", ".join(e.rules),
                                                 EventTypeCode.USE_OF_RESTRICTED_FUNCTION))
        on(ev.StoreRefused, self._store_refused)
        on(ev.StoreAnswered, self._store_answered)
        on(ev.QueryAnswered, lambda e: self.query(
            e.assoc, sop_class=e.sop_class, keys=query_keys(e.identifier, e.transfer_syntax),
            identifier=e.identifier, transfer_syntax=e.transfer_syntax, status=e.status))
        on(ev.RetrieveStarted, lambda e: self.retrieve_started(
            e.assoc, service=e.service, destination=e.destination, study_uid=e.study_uid, patient_id=e.patient_id))

    def _violated(self, e: ev.ProtocolViolated) -> None:
        # the upstream's are counted, not recorded; early ones are HostileConnection records (folded per source)
        if e.by is End.CLIENT and not e.negotiating:
            self.alert(e.assoc, f"protocol violation: {e.message}", EventTypeCode.NODE_AUTHENTICATION)

    def _store_answered(self, e: ev.StoreAnswered) -> None:
        if e.stored_by is End.CLIENT:  # a C-GET sub-operation: the client stored what the upstream sent
            self.retrieved(e.assoc, patient_id=e.patient_id, study_uid=e.study_uid, sop_class=e.sop_class,
                           status=e.status)
            return
        self.stored(e.assoc, patient_id=e.patient_id, study_uid=e.study_uid, sop_class=e.sop_class, status=e.status,
                    description=None if e.status is not None else f"no upstream response ({e.how})")

    def _store_refused(self, e: ev.StoreRefused) -> None:
        self.alert(e.assoc, e.detail, EventTypeCode.USE_OF_RESTRICTED_FUNCTION)
        self.stored(e.assoc, patient_id=e.patient_id, study_uid=e.study_uid, sop_class=e.sop_class,
                    status=e.status, description=e.detail)
