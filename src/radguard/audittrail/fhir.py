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
