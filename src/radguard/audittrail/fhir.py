"""FHIR R4 AuditEvent export of audit records, following IHE BALP (Basic Audit Log Patterns).

The DICOM event ids and codes keep their system ``http://dicom.nema.org/resources/ontology/DCM``
(BALP and FHIR's audit-event-type value set reuse them); participant objects become ``entity``
elements with the FHIR audit-entity-type / object-role code systems (same numeric codes as
PS3.15 A.5.1.2). Patient IDs are exported as keyed hashes unless ``include_patient_id``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from radguard.audittrail.codes import CODES, Code
from radguard.audittrail.messages import AuditRecord
from radguard.phi import phi_hash

DCM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
RFC3881_SYSTEM = "urn:ietf:rfc:3881"
ENTITY_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/security-source-type"
NETWORK_TYPE_SYSTEM = "http://hl7.org/fhir/network-type"
BALP_PROFILE = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Minimal"


def _coding(code: Code) -> dict[str, str]:
    system = DCM_SYSTEM if code.scheme == "DCM" else RFC3881_SYSTEM
    return {"system": system, "code": code.code, "display": code.meaning}


def _entity(id_coding: dict[str, str], value: object, type_code: object, role_code: object,
            query: bytes | None, details: list[dict[str, str]]) -> dict[str, Any]:
    """One ``entity`` element (BALP; PS3.15 A.5.1.1 ``ParticipantObjectIdentification``)."""
    entity: dict[str, Any] = {
        "what": {"identifier": {"type": {"coding": [id_coding]}, "value": value}},
        "type": {"system": ENTITY_TYPE_SYSTEM, "code": type_code},
        "role": {"system": OBJECT_ROLE_SYSTEM, "code": role_code},
    }
    if query is not None:
        entity["query"] = base64.b64encode(query).decode("ascii")
    if details:
        entity["detail"] = details
    return entity


def _audit_event(*, type_coding: dict[str, str], action: object, recorded: object, outcome: object,
                 agents: list[dict[str, Any]], observer: object, source_type: object,
                 subtypes: list[dict[str, str]], description: object,
                 entities: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``AuditEvent`` resource around its agents and entities (IHE BALP minimal profile)."""
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [BALP_PROFILE]},
        "type": type_coding,
        "action": action,
        "recorded": recorded,
        "outcome": outcome,
        "agent": agents,
        "source": {
            "observer": {"display": observer},
            "type": [{"system": SOURCE_TYPE_SYSTEM, "code": source_type}],
        },
    }
    if subtypes:
        resource["subtype"] = subtypes
    if description:
        resource["outcomeDesc"] = description
    if entities:
        resource["entity"] = entities
    return resource


def to_fhir(record: AuditRecord, *, include_patient_id: bool = False, secret: bytes | None = None) -> dict[str, Any]:
    """One FHIR R4 ``AuditEvent`` resource for ``record`` (IHE BALP minimal profile)."""
    agents = []
    for p in record.participants:
        agent: dict[str, Any] = {
            "who": {"identifier": {"value": p.user_id}},
            "requestor": p.is_requestor,
        }
        if p.role is not None:
            agent["type"] = {"coding": [_coding(p.role.coded)]}
        if p.host:
            agent["network"] = {"address": p.host, "type": "2"}
        if p.alt_user_id:
            agent["altId"] = p.alt_user_id
        agents.append(agent)
    entities = []
    for o in record.objects:
        oid = o.object_id if (include_patient_id or not o.is_patient) else phi_hash(o.object_id, secret=secret)
        query = None
        if o.query is not None or o.query_keys:
            query = o.query if (o.query is not None and include_patient_id) else ",".join(o.query_keys).encode()
        details = [{"type": k, "valueString": v} for k, v in o.details.items()]
        details += [{"type": f"SOPClass:{uid}", "valueString": str(n)} for uid, n in o.sop_classes.items()]
        entities.append(_entity(_coding(o.id_type.coded), oid, o.type.value, o.role.value, query, details))
    resource = _audit_event(
        type_coding=_coding(record.event.coded), action=record.action.value,
        recorded=record.time.astimezone(UTC).isoformat(timespec="milliseconds"), outcome=record.outcome.value,
        agents=agents, observer=record.source_id, source_type=record.source_type.value,
        subtypes=[_coding(et.coded) for et in record.event_types], description=record.description,
        entities=entities,
    )
    if record.site_id:
        resource["source"]["site"] = record.site_id
    return resource


def to_bundle(records: Iterable[AuditRecord], **kwargs: Any) -> dict[str, Any]:
    """A FHIR ``Bundle`` (type collection) of AuditEvents."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": to_fhir(r, **kwargs)} for r in records],
    }


def json_to_fhir(doc: dict[str, Any]) -> dict[str, Any]:
    """A FHIR AuditEvent from the JSON Lines form of a record (Patient IDs stay keyed hashes)."""
    def coding(code: str | None) -> dict[str, str]:
        c = CODES.get(code or "")
        return _coding(c) if c is not None else {"system": DCM_SYSTEM, "code": str(code)}

    agents = []
    for p in doc.get("participants", []):
        agent: dict[str, Any] = {"who": {"identifier": {"value": p.get("user_id")}},
                                 "requestor": bool(p.get("requestor"))}
        if p.get("role"):
            agent["type"] = {"coding": [coding(p["role"])]}
        if p.get("host"):
            agent["network"] = {"address": p["host"], "type": "2"}
        agents.append(agent)
    entities = []
    for o in doc.get("objects", []):
        query = ",".join(o["query_keys"]).encode() if "query_keys" in o else None
        details = [{"type": k, "valueString": v} for k, v in (o.get("details") or {}).items()]
        sop_classes = (o.get("sop_classes") or {}).items()
        details += [{"type": f"SOPClass:{uid}", "valueString": str(n)} for uid, n in sop_classes]
        entities.append(_entity(coding(o.get("id_type")), o.get("id"), o.get("type"), o.get("role"), query, details))
    return _audit_event(
        type_coding=coding(doc.get("event")), action=doc.get("action"), recorded=doc.get("time"),
        outcome=doc.get("outcome"), agents=agents, observer=doc.get("source"), source_type="6",
        subtypes=[coding(c) for c in doc.get("event_types") or ()], description=doc.get("description"),
        entities=entities,
    )
