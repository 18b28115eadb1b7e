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

from radguard.audittrail.codes import Code
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


def to_fhir(record: AuditRecord, *, include_patient_id: bool = False, secret: bytes | None = None) -> dict[str, Any]:
    """One FHIR R4 ``AuditEvent`` resource for ``record`` (IHE BALP minimal profile)."""
    agents = []
    for p in record.participants:
        agent: dict[str, Any] = {
            "who": {"identifier": {"value": p.user_id}},
            "requestor": p.is_requestor,
        }
        if p.role is not None:
            agent["type"] = {"coding": [_coding(p.role.value)]}
        if p.host:
            agent["network"] = {"address": p.host, "type": "2"}
        if p.alt_user_id:
            agent["altId"] = p.alt_user_id
        agents.append(agent)
    entities = []
    for o in record.objects:
        oid = o.object_id if (include_patient_id or not o.is_patient) else phi_hash(o.object_id, secret=secret)
        entity: dict[str, Any] = {
            "what": {"identifier": {"type": {"coding": [_coding(o.id_type.value)]}, "value": oid}},
            "type": {"system": ENTITY_TYPE_SYSTEM, "code": o.type.value},
            "role": {"system": OBJECT_ROLE_SYSTEM, "code": o.role.value},
        }
        if o.query is not None or o.query_keys:
            raw = o.query if (o.query is not None and include_patient_id) else ",".join(o.query_keys).encode()
            entity["query"] = base64.b64encode(raw).decode("ascii")
        details = [{"type": k, "valueString": v} for k, v in o.details.items()]
        details += [{"type": f"SOPClass:{uid}", "valueString": str(n)} for uid, n in o.sop_classes.items()]
        if details:
            entity["detail"] = details
        entities.append(entity)
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [BALP_PROFILE]},
        "type": _coding(record.event.value),
        "action": record.action.value,
        "recorded": record.time.astimezone(UTC).isoformat(timespec="milliseconds"),
        "outcome": record.outcome.value,
        "agent": agents,
        "source": {
            "observer": {"display": record.source_id},
            "type": [{"system": SOURCE_TYPE_SYSTEM, "code": record.source_type.value}],
        },
    }
    if record.event_types:
        resource["subtype"] = [_coding(et.value) for et in record.event_types]
    if record.description:
        resource["outcomeDesc"] = record.description
    if record.site_id:
        resource["source"]["site"] = record.site_id
    if entities:
        resource["entity"] = entities
    return resource


def to_bundle(records: Iterable[AuditRecord], **kwargs: Any) -> dict[str, Any]:
    """A FHIR ``Bundle`` (type collection) of AuditEvents."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": to_fhir(r, **kwargs)} for r in records],
    }


def _lookup() -> dict[str, Code]:
    from radguard.audittrail.codes import EventID, EventTypeCode, ObjectIDType, RoleID

    table: dict[str, Code] = {}
    for enum_cls in (EventID, EventTypeCode, RoleID, ObjectIDType):
        for member in enum_cls:
            table[member.value.code] = member.value
    return table


def json_to_fhir(doc: dict[str, Any]) -> dict[str, Any]:
    """A FHIR AuditEvent from the JSON Lines form of a record (Patient IDs stay keyed hashes)."""
    codes = _lookup()

    def coding(code: str | None) -> dict[str, str]:
        c = codes.get(code or "")
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
        entity: dict[str, Any] = {
            "what": {"identifier": {"type": {"coding": [coding(o.get("id_type"))]}, "value": o.get("id")}},
            "type": {"system": ENTITY_TYPE_SYSTEM, "code": o.get("type")},
            "role": {"system": OBJECT_ROLE_SYSTEM, "code": o.get("role")},
        }
        if "query_keys" in o:
            entity["query"] = base64.b64encode(",".join(o["query_keys"]).encode()).decode("ascii")
        details = [{"type": k, "valueString": v} for k, v in (o.get("details") or {}).items()]
        sop_classes = (o.get("sop_classes") or {}).items()
        details += [{"type": f"SOPClass:{uid}", "valueString": str(n)} for uid, n in sop_classes]
        if details:
            entity["detail"] = details
        entities.append(entity)
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [BALP_PROFILE]},
        "type": coding(doc.get("event")),
        "action": doc.get("action"),
        "recorded": doc.get("time"),
        "outcome": doc.get("outcome"),
        "agent": agents,
        "source": {"observer": {"display": doc.get("source")},
                   "type": [{"system": SOURCE_TYPE_SYSTEM, "code": "6"}]},
    }
    if doc.get("event_types"):
        resource["subtype"] = [coding(c) for c in doc["event_types"]]
    if doc.get("description"):
        resource["outcomeDesc"] = doc["description"]
    if entities:
        resource["entity"] = entities
    return resource
