"""Audit addon: every association, operation, refusal and alert as a PS3.15 A.5 audit message
(45 CFR 164.312(b); IHE ATNA). An observer: it never raises into the relay (errors are logged)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from radguard.audittrail import messages as m
from radguard.audittrail.codes import EventAction, EventTypeCode, Outcome
from radguard.audittrail.trail import AuditTrail
from radguard.dicom.enums import StatusCategory, status_category
from radguard.gateway.policy import AssociationInfo, Direction

log = logging.getLogger("radguard.gateway")

P = ParamSpec("P")
R = TypeVar("R")


def _observer(fn: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            log.exception("audit observer %s failed (flow continues)", fn.__name__)
    return wrapper


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

    @property
    def source(self) -> str:
        return self._source()

    def _ends(self, assoc: AssociationInfo) -> tuple[str, str]:
        """(AE, host) of the side the association is relayed to."""
        target = assoc.target[0] if assoc.target else self._upstream()[1]
        return assoc.target_ae or self._upstream()[0], target

    @_observer
    def started(self, start: bool, description: str | None = None) -> None:
        self.trail.emit(m.application_activity(start=start, source_id=self.source, description=description))

    @_observer
    def association(self, assoc: AssociationInfo, *, accepted: bool, reason: str = "") -> None:
        if accepted:
            self.trail.emit(m.user_authentication(login=True, user_id=assoc.calling_ae, host=assoc.client_host,
                                                  source_id=self.source, description=f"association {assoc.label}"))
        else:
            self.trail.emit(m.security_alert(
                alert=EventTypeCode.NODE_AUTHENTICATION, reporter=self.source, subject_ae=assoc.calling_ae,
                subject_host=assoc.client_host, description=f"association rejected: {reason}"))

    @_observer
    def closed(self, assoc: AssociationInfo, *, how: str) -> None:
        outcome = Outcome.SUCCESS if how == "released" else Outcome.MINOR_FAILURE
        self.trail.emit(m.user_authentication(login=False, user_id=assoc.calling_ae, host=assoc.client_host,
                                              source_id=self.source, outcome=outcome,
                                              description=f"association {assoc.label} {how}"))

    @_observer
    def refused(self, assoc: AssociationInfo, service: str, reason: str) -> None:
        self.trail.emit(m.security_alert(
            alert=EventTypeCode.USE_OF_RESTRICTED_FUNCTION, reporter=self.source, subject_ae=assoc.calling_ae,
            subject_host=assoc.client_host, description=f"{service} refused: {reason}"))

    @_observer
    def alert(self, assoc: AssociationInfo | None, description: str,
              kind: EventTypeCode = EventTypeCode.SOFTWARE_CONFIGURATION) -> None:
        self.trail.emit(m.security_alert(
            alert=kind, reporter=self.source, subject_ae=assoc.calling_ae if assoc else None,
            subject_host=assoc.client_host if assoc else None, description=description))

    @_observer
    def stored(self, assoc: AssociationInfo, *, patient_id: str, study_uid: str, sop_class: str,
               status: int | None, description: str | None = None) -> None:
        dest_ae, dest_host = self._ends(assoc)
        self.trail.emit(m.instances_transferred(
            source_ae=assoc.calling_ae, source_host=assoc.client_host, dest_ae=dest_ae, dest_host=dest_host,
            patient_id=patient_id, study_uid=study_uid, sop_classes={sop_class: 1}, outcome=outcome_of(status),
            description=description or (f"status 0x{status:04X}" if status is not None else "no response"),
            source_id=self.source))

    @_observer
    def retrieved(self, assoc: AssociationInfo, *, patient_id: str, study_uid: str, sop_class: str,
                  status: int | None) -> None:
        """An instance sent to the client over its own association (C-GET sub-operation)."""
        src_ae, src_host = self._ends(assoc)
        self.trail.emit(m.instances_transferred(
            source_ae=src_ae, source_host=src_host, dest_ae=assoc.calling_ae, dest_host=assoc.client_host,
            patient_id=patient_id, study_uid=study_uid, sop_classes={sop_class: 1}, outcome=outcome_of(status),
            action=EventAction.READ, requestor_is_source=False, source_id=self.source,
            description=f"C-GET sub-operation, status 0x{status:04X}" if status is not None else None))

    @_observer
    def query(self, assoc: AssociationInfo, *, sop_class: str, keys: tuple[str, ...], identifier: bytes | None,
              transfer_syntax: str | None, status: int | None) -> None:
        dest_ae, dest_host = self._ends(assoc)
        self.trail.emit(m.query(
            requestor_ae=assoc.calling_ae, requestor_host=assoc.client_host, responder_ae=dest_ae,
            responder_host=dest_host, sop_class_uid=sop_class, query_keys=keys, query_bytes=identifier,
            transfer_syntax=transfer_syntax, outcome=outcome_of(status), source_id=self.source))

    @_observer
    def retrieve_started(self, assoc: AssociationInfo, *, service: str, destination: str, study_uid: str,
                         patient_id: str) -> None:
        src_ae, src_host = self._ends(assoc)
        dest_host = assoc.client_host if service == "C-GET" else None
        self.trail.emit(m.begin_transferring(
            source_ae=src_ae, source_host=src_host, dest_ae=destination, dest_host=dest_host,
            patient_id=patient_id, study_uid=study_uid, description=f"{service} by {assoc.calling_ae}",
            source_id=self.source))

    @_observer
    def containment(self, action: str, detail: Mapping[str, Any], peer: str | None) -> None:
        self.trail.emit(m.security_alert(
            alert=EventTypeCode.SECURITY_CONFIGURATION, reporter=self.source, subject_ae=peer,
            user_id="radguard-contain", outcome=Outcome.SUCCESS, description=f"contain {action}: {dict(detail)}"))

    def is_suboperation(self, assoc: AssociationInfo) -> bool:
        return assoc.direction is Direction.SUBOPERATION
