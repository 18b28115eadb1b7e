"""What the decoy answers, without I/O: its product profile, presentation contexts, and DIMSE answers
over its synthetic honeytoken studies (PS3.4 Annex A verification, Annex B storage, Annex C
query/retrieve; PS3.7 §9.3).

The decoy behaves like a PACS that holds a few studies: C-ECHO succeeds, C-FIND matches its studies
(PS3.4 §C.2.2.2: single value, wildcard, list of UID and date range matching, at the patient, study,
series and image levels), C-MOVE answers "move destination unknown" (0xA801, what a PACS says to an AE
it has no address for), C-GET reports its sub-operations as failed (no storage role was negotiated for
them), C-STORE is acknowledged and its data set dropped. Nothing the peer sends is kept: the alert
names query keys by keyword, never their values (a query may carry a real patient's name).
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from radguard.assess.probes.dicom_services import encode_dataset
from radguard.dicom import uids
from radguard.dicom.dimse import Command, response
from radguard.dicom.enums import CommandField, ContextResult, Status
from radguard.dicom.pdu import AssociateAccept, AssociateRequest, PresentationContext
from radguard.errors import UsageError
from radguard.policy.honeytokens import HoneyStudy, patient_keys

#: answers to one C-FIND at most (a PACS caps them too: PS3.4 §C.4.1.3.1 0xA700 beyond)
MAX_MATCHES = 100
QUERY_RETRIEVE_LEVEL = "QueryRetrieveLevel"
#: keys matched as a list of UIDs (PS3.4 §C.2.2.2.2)
UID_KEYS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
#: transfer syntaxes the decoy accepts, in order of preference (what DCMTK-based PACSs accept without codecs)
TRANSFER_SYNTAXES = (uids.EXPLICIT_VR_LITTLE_ENDIAN, uids.IMPLICIT_VR_LITTLE_ENDIAN)
#: C-GET/C-MOVE "sub-operations complete, one or more failures" (PS3.4 §C.4.3.1.4, Table C.4-3)
SUB_OPERATIONS_FAILED = 0xB000
SERVICES = frozenset({uids.VERIFICATION, *uids.QUERY_FIND_SOP_CLASSES, *uids.RETRIEVE_MOVE_SOP_CLASSES,
                      *uids.RETRIEVE_GET_SOP_CLASSES})


@dataclass(frozen=True)
class Profile:
    """How the decoy introduces itself (``decoy_profiles.toml``)."""

    name: str
    product: str
    version: str
    ae_title: str
    implementation_class_uid: str
    implementation_version_name: str
    max_pdu_length: int = 16384
    studies: int = 12
    default: bool = False


def profiles() -> dict[str, Profile]:
    """The product profiles of ``decoy_profiles.toml`` by name."""
    doc = tomllib.loads(resources.files("radguard.policy").joinpath("decoy_profiles.toml").read_text("utf-8"))
    return {p["name"]: Profile(**p) for p in doc["profile"]}


def profile(name: str | None) -> Profile:
    """The profile called ``name`` (the default one for None); a UsageError naming the others."""
    known = profiles()
    if name is None:
        return next(p for p in known.values() if p.default)
    try:
        return known[name.lower()]
    except KeyError:
        raise UsageError(f"--product {name!r}: unknown product (known: {', '.join(sorted(known))})") from None


def accept(request: AssociateRequest, prof: Profile) -> AssociateAccept:
    """The A-ASSOCIATE-AC the product would send (PS3.8 §9.3.3): any called AE; verification, query/retrieve
    and every storage SOP class accepted in explicit or implicit VR little endian, the rest refused."""
    contexts = []
    for ctx in request.contexts:
        abstract = ctx.abstract_syntax or ""
        if abstract not in SERVICES and not uids.is_storage_sop_class(abstract):
            contexts.append(PresentationContext(ctx.id, abstract, [uids.IMPLICIT_VR_LITTLE_ENDIAN],
                                                ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED))
            continue
        ts = next((t for t in TRANSFER_SYNTAXES if t in ctx.transfer_syntaxes), None)
        contexts.append(PresentationContext(ctx.id, abstract, [ts or uids.IMPLICIT_VR_LITTLE_ENDIAN],
                                            ContextResult.ACCEPTANCE if ts else
                                            ContextResult.TRANSFER_SYNTAXES_NOT_SUPPORTED))
    return AssociateAccept(called_ae=request.called_ae, calling_ae=request.calling_ae, contexts=contexts,
                           max_pdu_length=prof.max_pdu_length, implementation_class_uid=prof.implementation_class_uid,
                           implementation_version_name=prof.implementation_version_name)


# ---------------------------------------------------------------------------------------------- matching

@dataclass
class Query:
    """A parsed identifier: level, keys with a value (keyword -> text), every key asked for (keywords)."""

    level: str
    values: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)


def parse_identifier(data: bytes, transfer_syntax: str) -> Query:
    """Read a query/retrieve identifier (PS3.4 §C.4.1.1.3); ValueError when it cannot be read."""
    from io import BytesIO

    from pydicom.filereader import read_dataset
    from pydicom.multival import MultiValue

    from radguard.dicom.dataset import walk

    implicit = transfer_syntax == uids.IMPLICIT_VR_LITTLE_ENDIAN
    elements, complete = walk(data, implicit=implicit)
    if not complete or not elements:  # radguard's strict walk first: pydicom reads much garbage as elements
        raise ValueError("unreadable identifier: damaged or empty data set")
    try:
        ds = read_dataset(BytesIO(data), is_implicit_VR=implicit, is_little_endian=True)
        query = Query(level="")
        for elem in ds:
            if elem.VR == "SQ" or not elem.keyword:
                continue
            value = elem.value
            text = ("\\".join(str(v) for v in value) if isinstance(value, MultiValue)
                    else str(value if value is not None else "")).strip()
            if elem.keyword == QUERY_RETRIEVE_LEVEL:
                query.level = text.upper()
                continue
            query.asked.append(elem.keyword)
            if text:
                query.values[elem.keyword] = text
    except Exception as exc:  # a hostile identifier is an answer (0xA900) and an alert, never a traceback
        raise ValueError(f"unreadable identifier: {type(exc).__name__}") from None
    return query


def _match_one(key: str, wanted: str, have: str) -> bool:
    if key in UID_KEYS:
        return have in {u.strip() for u in wanted.split("\\")}
    if key.endswith("Date") and "-" in wanted:
        low, _, high = wanted.partition("-")
        return (not low or have >= low) and (not high or have <= high)
    return fnmatch.fnmatchcase(have.upper(), wanted.upper().replace("[", "[[]"))


def _rows(study: HoneyStudy, level: str) -> Iterator[dict[str, Any]]:
    keys = patient_keys(study)
    if level in ("PATIENT", "STUDY", ""):
        yield keys
        return
    series = {**keys, "SeriesInstanceUID": study.series_uid, "Modality": study.modality, "SeriesNumber": "1"}
    if level == "SERIES":
        yield series
        return
    for n, sop in enumerate(study.instances, start=1):
        yield {**series, "SOPInstanceUID": sop, "SOPClassUID": study.sop_class, "InstanceNumber": str(n)}


def matches(studies: list[HoneyStudy], query: Query) -> list[dict[str, Any]]:
    """The rows (keyword -> value) of ``studies`` matching ``query`` at its level; one row per patient at the
    PATIENT level."""
    out: list[dict[str, Any]] = []
    seen_patients: set[str] = set()
    for study in studies:
        for row in _rows(study, query.level):
            if all(_match_one(k, v, str(row[k])) for k, v in query.values.items() if k in row):
                if query.level == "PATIENT":
                    if row["PatientID"] in seen_patients:
                        continue
                    seen_patients.add(row["PatientID"])
                out.append(row)
    return out[:MAX_MATCHES]


# ---------------------------------------------------------------------------------------------- answers

Answer = tuple[Command, bytes | None]


@dataclass
class Served:
    """What one request asked and got (for the alert): service, level, keys, matches, honeytoken UIDs named."""

    service: str
    status: int
    level: str = ""
    keys: list[str] = field(default_factory=list)
    matches: int = 0
    destination: str = ""
    sop_class: str = ""
    honeytokens: int = 0
    error: str = ""


def _answer_row(row: dict[str, Any], query: Query, transfer_syntax: str) -> bytes:
    elements = {k: row[k] for k in query.asked if k in row}
    elements[QUERY_RETRIEVE_LEVEL] = query.level or "STUDY"
    return encode_dataset(elements, transfer_syntax)


def answer(command: Command, dataset: bytes | None, transfer_syntax: str,
           studies: list[HoneyStudy]) -> tuple[list[Answer], Served]:
    """The responses a PACS holding ``studies`` sends to one request (PS3.7 §9.3), and what was served."""
    cf = command.command_field
    service = cf.service if cf is not None else "unknown"
    if cf is None or not cf.is_request or cf is CommandField.C_CANCEL_RQ:  # nothing to answer (PS3.7 §9.3)
        return [], Served(service, Status.UNRECOGNIZED_OPERATION, error="not a request the decoy answers")
    if cf is CommandField.C_ECHO_RQ:
        return [(response(command, Status.SUCCESS), None)], Served(service, Status.SUCCESS)
    if cf is CommandField.C_STORE_RQ:
        served = Served(service, Status.SUCCESS, sop_class=command.sop_class_uid or "")
        return [(response(command, Status.SUCCESS), None)], served
    if cf not in (CommandField.C_FIND_RQ, CommandField.C_MOVE_RQ, CommandField.C_GET_RQ):
        return [(response(command, Status.UNRECOGNIZED_OPERATION), None)], Served(service,
                                                                                  Status.UNRECOGNIZED_OPERATION)
    try:
        query = parse_identifier(dataset or b"", transfer_syntax)
    except ValueError as exc:
        status = Status.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS
        return [(response(command, status), None)], Served(service, status, error=str(exc))
    found = [] if command.sop_class_uid == uids.MODALITY_WORKLIST_FIND else matches(studies, query)
    named = {u for k in UID_KEYS for u in query.values.get(k, "").split("\\") if u}
    tokens = sum(1 for s in studies for u in (s.study_uid, s.series_uid, *s.instances) if u in named)
    served = Served(service, Status.SUCCESS, level=query.level, keys=sorted(query.asked), matches=len(found),
                    sop_class=command.sop_class_uid or "", honeytokens=tokens)
    if cf is CommandField.C_FIND_RQ:
        out: list[Answer] = [(response(command, Status.PENDING, has_dataset=True),
                              _answer_row(row, query, transfer_syntax)) for row in found]
        out.append((response(command, Status.SUCCESS), None))
        return out, served
    images = sum(len(s.instances) for s in studies if any(r.get("StudyInstanceUID") == s.study_uid for r in found))
    if cf is CommandField.C_MOVE_RQ:
        served.destination = (command.move_destination or "").strip()
        served.status = Status.MOVE_DESTINATION_UNKNOWN
        return [(response(command, Status.MOVE_DESTINATION_UNKNOWN, sub_operations=(0, 0, images, 0)), None)], served
    served.status = SUB_OPERATIONS_FAILED if images else Status.SUCCESS
    return [(response(command, served.status, sub_operations=(0, 0, images, 0)), None)], served
