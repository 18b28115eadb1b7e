"""DICOM audit messages (DICOM PS3.15 A.5): one neutral record, rendered as XML or JSON.

An :class:`AuditRecord` is built by the helpers below (one per A.5.3 message type radguard
emits) and rendered by :func:`to_xml` (the A.5.1 schema, for syslog/ATNA) or :func:`to_json`
(the JSON Lines file and the store).

PHI rule: the only patient identifier a record carries is the Patient ID of the patient
participant object. :func:`to_json` always replaces it by a keyed hash
(:func:`radguard.phi.phi_hash` with the site secret); :func:`to_xml` writes the real value only
when ``include_patient_id`` is true (``[audit] include_patient_id``, default false). Patient
names are never recorded; query data sets are summarised by their attribute keywords.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from radguard.audittrail.codes import (
    AccessPointType,
    AuditSourceType,
    Code,
    EventAction,
    EventID,
    EventTypeCode,
    ObjectIDType,
    ObjectRole,
    ObjectType,
    Outcome,
    RoleID,
)
from radguard.models import utc_now
from radguard.phi import phi_hash

#: ``ParticipantObjectName`` of a patient object: the schema requires a name or a query
#: (PS3.15 A.5.1.1) and radguard never records patient names.
PATIENT_NAME_PLACEHOLDER = "not-recorded"


@dataclass(frozen=True, kw_only=True, slots=True)
class Participant:
    """An active participant (PS3.15 A.5.1.1 ``ActiveParticipant``): a process, AE or user."""

    user_id: str
    is_requestor: bool
    role: RoleID | None = None
    host: str | None = None
    alt_user_id: str | None = None
    user_name: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ParticipantObject:
    """A participant object (PS3.15 A.5.1.1 ``ParticipantObjectIdentification``).

    ``sop_classes`` maps SOP Class UID to the number of instances (``SOPClass`` description).
    ``query`` is the bytes of the query for Query events (A.5.3.12); only written to XML when
    patient identifiers may be disclosed, else replaced by the ``query_keys`` summary.
    """

    object_id: str
    id_type: ObjectIDType
    type: ObjectType
    role: ObjectRole
    name: str | None = None
    query: bytes | None = None
    query_keys: tuple[str, ...] = ()
    sop_classes: Mapping[str, int] = field(default_factory=dict)
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_patient(self) -> bool:
        return self.role is ObjectRole.PATIENT


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditRecord:
    """One audit event, neutral of its encoding (PS3.15 A.5.1.1 ``AuditMessage``)."""

    event: EventID
    action: EventAction
    outcome: Outcome = Outcome.SUCCESS
    event_types: tuple[EventTypeCode, ...] = ()
    description: str | None = None
    participants: tuple[Participant, ...] = ()
    objects: tuple[ParticipantObject, ...] = ()
    source_id: str = "RADGUARD"
    site_id: str | None = None
    source_type: AuditSourceType = AuditSourceType.SECURITY_SERVER
    time: datetime = field(default_factory=utc_now)


# ---------------------------------------------------------------- rendering


def _coded(parent: etree._Element, tag: str, code: Code) -> etree._Element:
    return etree.SubElement(
        parent, tag, {"csd-code": code.code, "codeSystemName": code.scheme, "originalText": code.meaning}
    )


def _patient_id(obj: ParticipantObject, include_patient_id: bool, secret: bytes | None) -> str:
    if obj.is_patient and not include_patient_id:
        return phi_hash(obj.object_id, secret=secret)
    return obj.object_id


def _token(text: str) -> str:
    """Collapse whitespace (xsd:token) and never emit an empty token."""
    return " ".join(text.split()) or "-"


def to_xml(record: AuditRecord, *, include_patient_id: bool = False, secret: bytes | None = None) -> bytes:
    """Render ``record`` as a PS3.15 A.5.1 ``AuditMessage`` (UTF-8 XML, no declaration).

    Parameters
    ----------
    record : AuditRecord
        The event.
    include_patient_id : bool
        Write the real Patient ID in the patient participant object (else its keyed hash).
    secret : bytes, optional
        Site secret of the keyed hash (default: :func:`radguard.phi.phi_hash`'s).
    """
    root = etree.Element("AuditMessage")
    ev = etree.SubElement(
        root,
        "EventIdentification",
        {
            "EventActionCode": record.action.value,
            "EventDateTime": record.time.astimezone(UTC).isoformat(timespec="milliseconds"),
            "EventOutcomeIndicator": record.outcome.value,
        },
    )
    _coded(ev, "EventID", record.event.coded)
    for et in record.event_types:
        _coded(ev, "EventTypeCode", et.coded)
    if record.description:
        etree.SubElement(ev, "EventOutcomeDescription").text = record.description
    for p in record.participants:
        attrs = {"UserID": p.user_id, "UserIsRequestor": "true" if p.is_requestor else "false"}
        if p.alt_user_id:
            attrs["AlternativeUserID"] = p.alt_user_id
        if p.user_name:
            attrs["UserName"] = p.user_name
        if p.host:
            attrs["NetworkAccessPointID"] = _token(p.host)
            attrs["NetworkAccessPointTypeCode"] = (
                AccessPointType.IP_ADDRESS.value if _is_ip(p.host) else AccessPointType.MACHINE_NAME.value
            )
        ap = etree.SubElement(root, "ActiveParticipant", attrs)
        if p.role is not None:
            _coded(ap, "RoleIDCode", p.role.coded)
    src_attrs = {"AuditSourceID": _token(record.source_id)}
    if record.site_id:
        src_attrs["AuditEnterpriseSiteID"] = _token(record.site_id)
    src = etree.SubElement(root, "AuditSourceIdentification", src_attrs)
    etree.SubElement(src, "AuditSourceTypeCode", {"csd-code": record.source_type.value})
    for obj in record.objects:
        po = etree.SubElement(
            root,
            "ParticipantObjectIdentification",
            {
                "ParticipantObjectID": _token(_patient_id(obj, include_patient_id, secret)),
                "ParticipantObjectTypeCode": obj.type.value,
                "ParticipantObjectTypeCodeRole": obj.role.value,
            },
        )
        _coded(po, "ParticipantObjectIDTypeCode", obj.id_type.coded)
        if obj.query is not None or obj.query_keys:
            raw = obj.query if (obj.query is not None and include_patient_id) else ",".join(obj.query_keys).encode()
            etree.SubElement(po, "ParticipantObjectQuery").text = base64.b64encode(raw).decode("ascii")
        else:
            name = PATIENT_NAME_PLACEHOLDER if obj.is_patient else (obj.name or obj.object_id)
            etree.SubElement(po, "ParticipantObjectName").text = _token(name)
        for key, value in obj.details.items():
            etree.SubElement(
                po,
                "ParticipantObjectDetail",
                {"type": _token(key), "value": base64.b64encode(value.encode()).decode("ascii")},
            )
        if obj.sop_classes:
            desc = etree.SubElement(po, "ParticipantObjectDescription")
            for uid, count in obj.sop_classes.items():
                etree.SubElement(desc, "SOPClass", {"UID": uid, "NumberOfInstances": str(count)})
    return bytes(etree.tostring(root, encoding="utf-8", xml_declaration=False))


def _is_ip(host: str) -> bool:
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(fam, host)
            return True
        except OSError:
            continue
    return False


def to_json(record: AuditRecord, *, secret: bytes | None = None) -> dict[str, Any]:
    """The JSON Lines / store form of ``record``: Patient IDs always as keyed hashes.

    Written once per relayed object: the enums' values are read as ``_value_`` (the attribute that
    ``.value`` returns through a descriptor, several times slower)."""
    return {
        "time": record.time.astimezone(UTC).isoformat(timespec="milliseconds"),
        "event": record.event._value_,
        "event_name": record.event.coded.meaning,
        "event_types": [et._value_ for et in record.event_types],
        "action": record.action._value_,
        "outcome": record.outcome._value_,
        "description": record.description,
        "source": record.source_id,
        "participants": [
            {
                "user_id": p.user_id,
                "requestor": p.is_requestor,
                "role": p.role._value_ if p.role else None,
                "host": p.host,
            }
            for p in record.participants
        ],
        "objects": [
            {
                "id": _patient_id(o, False, secret),
                "id_type": o.id_type._value_,
                "type": o.type._value_,
                "role": o.role._value_,
                **({"query_keys": list(o.query_keys)} if o.query_keys or o.query is not None else {}),
                **({"sop_classes": dict(o.sop_classes)} if o.sop_classes else {}),
                **({"details": dict(o.details)} if o.details else {}),
            }
            for o in record.objects
        ],
    }


# ---------------------------------------------------------------- builders (PS3.15 A.5.3)


def _app(source_id: str, host: str | None, *, requestor: bool = False) -> Participant:
    return Participant(user_id=source_id, is_requestor=requestor, role=RoleID.APPLICATION, host=host)


def patient(patient_id: str) -> ParticipantObject:
    """Patient participant object (A.5.3: ID type "Patient Number", role Patient)."""
    return ParticipantObject(
        object_id=patient_id or "unknown",
        id_type=ObjectIDType.PATIENT_NUMBER,
        type=ObjectType.PERSON,
        role=ObjectRole.PATIENT,
    )


def study(study_uid: str, sop_classes: Mapping[str, int] | None = None) -> ParticipantObject:
    """Study participant object (A.5.3: ID type "Study Instance UID", role Report)."""
    return ParticipantObject(
        object_id=study_uid or "unknown",
        id_type=ObjectIDType.STUDY_INSTANCE_UID,
        type=ObjectType.SYSTEM_OBJECT,
        role=ObjectRole.REPORT,
        name=study_uid or "unknown",
        sop_classes=dict(sop_classes or {}),
    )


def node(ae_title: str, host: str | None = None) -> ParticipantObject:
    """A network node as participant object (A.5.3.13 Security Alert subject: ID type "Node ID")."""
    return ParticipantObject(
        object_id=ae_title or "unknown",
        id_type=ObjectIDType.NODE_ID,
        type=ObjectType.SYSTEM_OBJECT,
        role=ObjectRole.SECURITY_RESOURCE,
        name=f"{ae_title}@{host}" if host else ae_title,
    )


def _executed(
    event: EventID, event_type: EventTypeCode, participants: tuple[Participant, ...], *,
    objects: tuple[ParticipantObject, ...] = (), outcome: Outcome, description: str | None, source_id: str,
) -> AuditRecord:
    """An event of action Execute with one event type code (application activity, login/logout, alert)."""
    return AuditRecord(event=event, event_types=(event_type,), action=EventAction.EXECUTE, outcome=outcome,
                       description=description, participants=participants, objects=objects, source_id=source_id)


def application_activity(
    *, start: bool, source_id: str, host: str | None = None, outcome: Outcome = Outcome.SUCCESS,
    description: str | None = None,
) -> AuditRecord:
    """Application Activity (A.5.3.1): the gateway started or stopped."""
    kind = EventTypeCode.APPLICATION_START if start else EventTypeCode.APPLICATION_STOP
    return _executed(EventID.APPLICATION_ACTIVITY, kind, (_app(source_id, host),), outcome=outcome,
                     description=description, source_id=source_id)


def user_authentication(
    *, login: bool, user_id: str, host: str | None, source_id: str, outcome: Outcome = Outcome.SUCCESS,
    description: str | None = None,
) -> AuditRecord:
    """User Authentication (A.5.3.14): an AE (node) opened or closed an association."""
    return _executed(EventID.USER_AUTHENTICATION, EventTypeCode.LOGIN if login else EventTypeCode.LOGOUT,
                     (Participant(user_id=user_id, is_requestor=True, host=host), _app(source_id, None)),
                     outcome=outcome, description=description, source_id=source_id)


def _transfer(
    event: EventID, action: EventAction, *, source_ae: str, source_host: str | None, dest_ae: str,
    dest_host: str | None, requestor_is_source: bool, patient_id: str, study_uid: str,
    sop_classes: Mapping[str, int], outcome: Outcome, description: str | None, source_id: str,
) -> AuditRecord:
    return AuditRecord(
        event=event,
        action=action,
        outcome=outcome,
        description=description,
        participants=(
            Participant(user_id=source_ae, is_requestor=requestor_is_source, role=RoleID.SOURCE, host=source_host),
            Participant(user_id=dest_ae, is_requestor=not requestor_is_source, role=RoleID.DESTINATION,
                        host=dest_host),
        ),
        objects=(study(study_uid, sop_classes), patient(patient_id)),
        source_id=source_id,
    )


def instances_transferred(
    *, source_ae: str, source_host: str | None, dest_ae: str, dest_host: str | None, patient_id: str,
    study_uid: str, sop_classes: Mapping[str, int], outcome: Outcome = Outcome.SUCCESS,
    description: str | None = None, source_id: str = "RADGUARD", action: EventAction = EventAction.CREATE,
    requestor_is_source: bool = True,
) -> AuditRecord:
    """DICOM Instances Transferred (A.5.3.5): C-STORE relayed (action C when stored, R when read)."""
    return _transfer(
        EventID.INSTANCES_TRANSFERRED, action, source_ae=source_ae, source_host=source_host, dest_ae=dest_ae,
        dest_host=dest_host, requestor_is_source=requestor_is_source, patient_id=patient_id, study_uid=study_uid,
        sop_classes=sop_classes, outcome=outcome, description=description, source_id=source_id,
    )


def begin_transferring(
    *, source_ae: str, source_host: str | None, dest_ae: str, dest_host: str | None, patient_id: str,
    study_uid: str, sop_classes: Mapping[str, int] | None = None, outcome: Outcome = Outcome.SUCCESS,
    description: str | None = None, source_id: str = "RADGUARD",
) -> AuditRecord:
    """Begin Transferring DICOM Instances (A.5.3.3): a C-MOVE/C-GET started."""
    return _transfer(
        EventID.BEGIN_TRANSFERRING, EventAction.EXECUTE, source_ae=source_ae, source_host=source_host,
        dest_ae=dest_ae, dest_host=dest_host, requestor_is_source=False, patient_id=patient_id,
        study_uid=study_uid, sop_classes=sop_classes or {}, outcome=outcome, description=description,
        source_id=source_id,
    )


def instances_accessed(
    *, user_ae: str, user_host: str | None, patient_id: str, study_uid: str, action: EventAction,
    outcome: Outcome = Outcome.SUCCESS, description: str | None = None, source_id: str = "RADGUARD",
) -> AuditRecord:
    """DICOM Instances Accessed (A.5.3.4): instances read/changed other than by transfer."""
    return AuditRecord(
        event=EventID.INSTANCES_ACCESSED,
        action=action,
        outcome=outcome,
        description=description,
        participants=(Participant(user_id=user_ae, is_requestor=True, host=user_host),),
        objects=(study(study_uid), patient(patient_id)),
        source_id=source_id,
    )


def query(
    *, requestor_ae: str, requestor_host: str | None, responder_ae: str, responder_host: str | None,
    sop_class_uid: str, query_keys: Sequence[str], query_bytes: bytes | None = None,
    transfer_syntax: str | None = None, outcome: Outcome = Outcome.SUCCESS, description: str | None = None,
    source_id: str = "RADGUARD",
) -> AuditRecord:
    """Query (A.5.3.12): a C-FIND; the object is the SOP class, with the query (or its keys)."""
    details = {"TransferSyntax": transfer_syntax} if transfer_syntax else {}
    return AuditRecord(
        event=EventID.QUERY,
        action=EventAction.EXECUTE,
        outcome=outcome,
        description=description,
        participants=(
            Participant(user_id=requestor_ae, is_requestor=True, role=RoleID.SOURCE, host=requestor_host),
            Participant(user_id=responder_ae, is_requestor=False, role=RoleID.DESTINATION, host=responder_host),
        ),
        objects=(
            ParticipantObject(
                object_id=sop_class_uid,
                id_type=ObjectIDType.SOP_CLASS_UID,
                type=ObjectType.SYSTEM_OBJECT,
                role=ObjectRole.QUERY,
                query=query_bytes,
                query_keys=tuple(query_keys),
                details=details,
            ),
        ),
        source_id=source_id,
    )


def security_alert(
    *, alert: EventTypeCode, reporter: str, subject_ae: str | None = None, subject_host: str | None = None,
    outcome: Outcome = Outcome.MINOR_FAILURE, description: str | None = None, source_id: str = "RADGUARD",
    user_id: str | None = None,
) -> AuditRecord:
    """Security Alert (A.5.3.13): a rejected node, a refused operation, a containment action."""
    participants = [_app(reporter, None, requestor=user_id is None)]
    if user_id is not None:
        participants.insert(0, Participant(user_id=user_id, is_requestor=True, host=subject_host))
    objects = (node(subject_ae, subject_host),) if subject_ae is not None else ()
    return _executed(EventID.SECURITY_ALERT, alert, tuple(participants), objects=objects, outcome=outcome,
                     description=description, source_id=source_id)
