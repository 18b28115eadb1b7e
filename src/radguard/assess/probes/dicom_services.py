"""What an unknown peer may do once associated: ``dicom-open-query``, ``dicom-open-retrieve``, ``dicom-open-store``.

- C-ECHO (PS3.7 §9.1.5) on the verification context.
- Query (PS3.4 C.4.1): by default a C-FIND for a StudyInstanceUID that cannot exist (a fresh
  ``2.25`` UUID UID), so nothing is returned even by a production PACS; a success status
  proves the query service is open. ``--intrusive``: a universal STUDY-level (and
  PATIENT-level) query whose matches are counted up to a cap, then cancelled with
  C-CANCEL (PS3.7 §9.3.2.3); identifiers are counted and dropped, never decoded.
- Retrieve (PS3.4 C.4.2-C.4.3): a C-MOVE of a non-existent study to a random destination
  AE (a careful SCP answers A801 "move destination unknown" or 0124 "refused") and a C-GET
  of a non-existent study.
- Store (``--intrusive`` only, PS3.4 B.2): a C-STORE of a synthetic Secondary Capture
  object whose patient/study attributes say it is a radguard test, not patient data.
"""

from __future__ import annotations

import enum
import struct
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from radguard.assess.dicom_client import DicomClient, PeerError, Response
from radguard.assess.probes.dicom_access import AccessReport, random_ae
from radguard.dicom import uids
from radguard.dicom.dimse import Command, c_echo_rq, c_find_rq, c_get_rq, c_move_rq, c_store_rq
from radguard.dicom.enums import Status, StatusCategory, status_category

#: ``--intrusive`` query: stop counting (C-CANCEL) after this many matches
MATCH_COUNT_CAP = 100

#: statuses that mean "refused" for C-MOVE/C-GET (PS3.4 C.4.2.1.5, C.4.3.1.4; PS3.7 C.5)
RETRIEVE_REFUSALS = frozenset({
    Status.MOVE_DESTINATION_UNKNOWN, Status.NOT_AUTHORIZED, Status.SOP_CLASS_NOT_SUPPORTED,
    Status.UNRECOGNIZED_OPERATION, Status.OUT_OF_RESOURCES_SUB_OPERATIONS,
})
#: statuses that mean "refused" for C-FIND / C-STORE
QUERY_REFUSALS = frozenset({Status.NOT_AUTHORIZED, Status.SOP_CLASS_NOT_SUPPORTED, Status.UNRECOGNIZED_OPERATION})

TEST_OBJECT_LABEL = "RADGUARD SCAN TEST OBJECT - NOT PATIENT DATA"


class Verdict(enum.StrEnum):
    """Outcome of one service probe."""

    OPEN = "open"  # the peer performed (or accepted to perform) the operation
    REFUSED = "refused"  # a refusal status
    INCONCLUSIVE = "inconclusive"  # another failure status: reported as a fact, not a finding
    NOT_OFFERED = "not-offered"  # no accepted presentation context
    ERROR = "error"  # the peer misbehaved


@dataclass(kw_only=True)
class ServiceResult:
    verdict: Verdict
    sop_class: str | None = None
    status: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict.value}
        if self.sop_class:
            out["sop_class"] = self.sop_class
        if self.status is not None:
            out["status"] = f"0x{self.status:04X}"
        out.update(self.detail)
        return out


@dataclass(kw_only=True)
class ServicesReport:
    echo: ServiceResult | None = None
    query: ServiceResult | None = None
    query_counts: dict[str, Any] = field(default_factory=dict)
    move: ServiceResult | None = None
    get: ServiceResult | None = None
    store: ServiceResult | None = None
    error: PeerError | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("echo", "query", "move", "get", "store"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value.to_dict()
        if self.query_counts:
            out["query_counts"] = dict(self.query_counts)
        return out


def fresh_uid() -> str:
    """A UID that exists nowhere: ``2.25.<UUID4 as integer>`` (PS3.5 §B.2)."""
    return f"2.25.{uuid.uuid4().int}"


#: identifier attributes the probes send: keyword -> (tag, VR) (PS3.4 C.6 Q/R information models)
IDENTIFIER_ELEMENTS: dict[str, tuple[tuple[int, int], str]] = {
    "QueryRetrieveLevel": ((0x0008, 0x0052), "CS"),
    "PatientID": ((0x0010, 0x0020), "LO"),
    "StudyInstanceUID": ((0x0020, 0x000D), "UI"),
}


def encode_identifier(elements: dict[str, str], transfer_syntax: str | None) -> bytes:
    """Encode a Q/R identifier (a few short string attributes) in implicit or explicit VR little endian.

    Hand-written (PS3.5 §7.1.2-7.1.3) so that the default scan path needs no pydicom import:
    values are padded to even length (UI with NUL, others with a space, PS3.5 §6.2).
    """
    explicit = transfer_syntax == uids.EXPLICIT_VR_LITTLE_ENDIAN
    out = bytearray()
    for keyword in sorted(elements, key=lambda k: IDENTIFIER_ELEMENTS[k][0]):
        (group, element), vr = IDENTIFIER_ELEMENTS[keyword]
        value = elements[keyword].encode("ascii")
        if len(value) % 2:
            value += b"\0" if vr == "UI" else b" "
        out += struct.pack("<HH", group, element)
        out += vr.encode() + struct.pack("<H", len(value)) if explicit else struct.pack("<L", len(value))
        out += value
    return bytes(out)


def encode_dataset(elements: dict[str, Any], transfer_syntax: str | None) -> bytes:
    """Encode a data set (keyword → value) with pydicom in implicit/explicit VR LE (the synthetic store object)."""
    from pydicom import Dataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = Dataset()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = transfer_syntax != uids.EXPLICIT_VR_LITTLE_ENDIAN
    write_dataset(fp, ds)
    return bytes(fp.getvalue())


def _context(access: AccessReport, *candidates: str) -> tuple[str, int, str | None] | None:
    for uid in candidates:
        ctx_id = access.context_ids.get(uid)
        if ctx_id is not None:
            return uid, ctx_id, access.transfer_syntax.get(ctx_id)
    return None


def _classify(status: int | None, refusals: frozenset[int]) -> Verdict:
    if status is None:
        return Verdict.INCONCLUSIVE
    if status in refusals:
        return Verdict.REFUSED
    category = status_category(status)
    if category in (StatusCategory.SUCCESS, StatusCategory.WARNING, StatusCategory.PENDING, StatusCategory.CANCEL):
        return Verdict.OPEN
    return Verdict.INCONCLUSIVE


async def _echo(client: DicomClient, access: AccessReport) -> ServiceResult:
    ctx = _context(access, uids.VERIFICATION)
    if ctx is None:
        return ServiceResult(verdict=Verdict.NOT_OFFERED)
    rsp = await client.request(ctx[1], c_echo_rq(client.next_message_id()), None)
    return ServiceResult(verdict=_classify(rsp.status, QUERY_REFUSALS), sop_class=ctx[0], status=rsp.status)


async def _missing_study(
    client: DicomClient, access: AccessReport, roots: tuple[str, str], command: Callable[[int, str], Command],
    refusals: frozenset[int], detail: Callable[[Response], dict[str, Any]],
) -> ServiceResult:
    """Ask for a study that exists nowhere, at STUDY root or else PATIENT root (``roots``, in that order).

    A fresh Study Instance UID (and at PATIENT root a fresh Patient ID) cannot match a real
    patient, so the request shows whether the service is open without touching patient data.
    """
    ctx = _context(access, *roots)
    if ctx is None:
        return ServiceResult(verdict=Verdict.NOT_OFFERED)
    uid, ctx_id, ts = ctx
    ident: dict[str, str] = {"QueryRetrieveLevel": "STUDY", "StudyInstanceUID": fresh_uid()}
    if uid == roots[1]:
        ident["PatientID"] = "RADGUARD-" + uuid.uuid4().hex[:16].upper()
    rsp = await client.request(ctx_id, command(client.next_message_id(), uid), encode_identifier(ident, ts))
    return ServiceResult(verdict=_classify(rsp.status, refusals), sop_class=uid, status=rsp.status,
                         detail=detail(rsp))


async def _query(client: DicomClient, access: AccessReport) -> ServiceResult:
    return await _missing_study(
        client, access, (uids.STUDY_ROOT_QR_FIND, uids.PATIENT_ROOT_QR_FIND), c_find_rq, QUERY_REFUSALS,
        lambda rsp: {"query": "non-existent StudyInstanceUID", "matches": rsp.pending})


async def _count(client: DicomClient, access: AccessReport) -> dict[str, Any]:
    """``--intrusive``: count matches at STUDY and PATIENT level (capped, cancelled, values dropped)."""
    counts: dict[str, Any] = {"cap": MATCH_COUNT_CAP}
    plans = (
        ("studies", (uids.STUDY_ROOT_QR_FIND, uids.PATIENT_ROOT_QR_FIND), "STUDY"),
        ("patients", (uids.PATIENT_ROOT_QR_FIND,), "PATIENT"),
    )
    for name, candidates, level in plans:
        ctx = _context(access, *candidates)
        if ctx is None:
            continue
        uid, ctx_id, ts = ctx
        ident = {"QueryRetrieveLevel": level, "StudyInstanceUID": ""} if level == "STUDY" else {
            "QueryRetrieveLevel": level, "PatientID": ""}
        rsp = await client.request(ctx_id, c_find_rq(client.next_message_id(), uid), encode_identifier(ident, ts),
                                   cancel_after=MATCH_COUNT_CAP)
        counts[name] = min(rsp.pending, MATCH_COUNT_CAP)
        counts[f"{name}_capped"] = rsp.pending >= MATCH_COUNT_CAP
    return counts


async def _move(client: DicomClient, access: AccessReport) -> ServiceResult:
    destination = random_ae("RGDST")
    return await _missing_study(
        client, access, (uids.STUDY_ROOT_QR_MOVE, uids.PATIENT_ROOT_QR_MOVE),
        lambda message_id, uid: c_move_rq(message_id, uid, destination), RETRIEVE_REFUSALS,
        lambda rsp: {"request": "C-MOVE of a non-existent study to a random destination AE"})


async def _get(client: DicomClient, access: AccessReport) -> ServiceResult:
    return await _missing_study(
        client, access, (uids.STUDY_ROOT_QR_GET, uids.PATIENT_ROOT_QR_GET), c_get_rq, RETRIEVE_REFUSALS,
        lambda rsp: {"request": "C-GET of a non-existent study"})


def synthetic_object(transfer_syntax: str | None) -> tuple[str, bytes]:
    """A synthetic, clearly labelled Secondary Capture object (8x8 monochrome) → (SOP instance UID, bytes)."""
    sop_instance = fresh_uid()
    elements: dict[str, Any] = {
        "SOPClassUID": uids.SECONDARY_CAPTURE_IMAGE_STORAGE,
        "SOPInstanceUID": sop_instance,
        "StudyInstanceUID": fresh_uid(),
        "SeriesInstanceUID": fresh_uid(),
        "PatientName": "RADGUARD^SCAN-TEST",
        "PatientID": "RADGUARD-TEST-NOT-A-PATIENT",
        "StudyDescription": TEST_OBJECT_LABEL,
        "SeriesDescription": TEST_OBJECT_LABEL,
        "ImageComments": TEST_OBJECT_LABEL,
        "Modality": "OT",
        "ConversionType": "SYN",
        "SamplesPerPixel": 1,
        "PhotometricInterpretation": "MONOCHROME2",
        "Rows": 8,
        "Columns": 8,
        "BitsAllocated": 8,
        "BitsStored": 8,
        "HighBit": 7,
        "PixelRepresentation": 0,
        "PixelData": bytes(64),
    }
    return sop_instance, encode_dataset(elements, transfer_syntax)


async def _store(client: DicomClient, access: AccessReport) -> ServiceResult:
    ctx = _context(access, uids.SECONDARY_CAPTURE_IMAGE_STORAGE)
    if ctx is None:
        return ServiceResult(verdict=Verdict.NOT_OFFERED)
    uid, ctx_id, ts = ctx
    sop_instance, data = synthetic_object(ts)
    rsp = await client.request(ctx_id, c_store_rq(client.next_message_id(), uid, sop_instance), data)
    return ServiceResult(
        verdict=_classify(rsp.status, QUERY_REFUSALS), sop_class=uid, status=rsp.status,
        detail={"object": TEST_OBJECT_LABEL, "sop_instance_uid": sop_instance},
    )


#: presentation contexts each probe runs on (any of them; :func:`_context`)
_STEP_CONTEXTS: dict[str, tuple[str, ...]] = {
    "echo": (uids.VERIFICATION,),
    "query": (uids.STUDY_ROOT_QR_FIND, uids.PATIENT_ROOT_QR_FIND),
    "move": (uids.STUDY_ROOT_QR_MOVE, uids.PATIENT_ROOT_QR_MOVE),
    "get": (uids.STUDY_ROOT_QR_GET, uids.PATIENT_ROOT_QR_GET),
    "store": (uids.SECONDARY_CAPTURE_IMAGE_STORAGE,),
}


def _offered(access: AccessReport, step: str) -> bool:
    """Whether the peer accepted a context ``step`` runs on (else the step answers NOT_OFFERED, no exchange)."""
    return _context(access, *_STEP_CONTEXTS[step]) is not None


#: peer reactions that refuse an operation by tearing the association down (e.g. Orthanc aborts a C-FIND
#: from an unknown modality); the next probe then runs on a fresh association
_TEARDOWN_KINDS = frozenset({"aborted", "connection-closed", "connection-lost", "released"})

Reconnect = Callable[[], Awaitable[DicomClient | None]]


async def probe_services(
    client: DicomClient, access: AccessReport, *, intrusive: bool, reconnect: Reconnect | None = None
) -> ServicesReport:
    """Run the service probes, then release and close the association(s).

    A probe answered by an A-ABORT or a closed connection counts as refused; the remaining
    probes continue on a fresh association from ``reconnect`` (same AE titles). Any other
    misbehaviour (timeout, protocol violation, read cap) stops the sequence and is reported.
    """
    report = ServicesReport()
    steps: list[tuple[str, Callable[[DicomClient, AccessReport], Awaitable[ServiceResult]]]] = [
        ("echo", _echo), ("query", _query), ("move", _move), ("get", _get)]
    if intrusive:
        steps.append(("store", _store))
    current: DicomClient | None = client
    try:
        for i, (name, step) in enumerate(steps):
            if current is None:
                break
            try:
                setattr(report, name, await step(current, access))
                if name == "query" and intrusive and report.query is not None and report.query.verdict is Verdict.OPEN:
                    report.query_counts = await _count(current, access)  # before our own test object is stored
            except PeerError as exc:
                if exc.kind not in _TEARDOWN_KINDS:
                    raise
                setattr(report, name, ServiceResult(verdict=Verdict.REFUSED, detail={"refused_by": exc.kind}))
                await current.close()
                current = None
                rest = [n for n, _ in steps[i + 1:]]
                if reconnect is None:
                    break
                if any(_offered(access, n) for n in rest):
                    current = await reconnect()
                else:  # what is left needs no association (not offered): a fresh one would add nothing
                    for n in rest:
                        setattr(report, n, ServiceResult(verdict=Verdict.NOT_OFFERED))
        if current is not None:
            await current.release()
    except PeerError as exc:
        report.error = exc
        if current is not None:
            current.abort()
    finally:
        if current is not None:
            await current.close()
    return report
