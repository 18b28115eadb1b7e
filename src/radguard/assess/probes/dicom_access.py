"""Who may associate: ``dicom-any-called-ae``, ``dicom-any-calling-ae``, accepted presentation contexts.

Attempts, each a fresh association (PS3.8 §7.1, §9.3.2), stopping at the first acceptance:

1. random called AE + random calling AE: accepted ⇒ both titles unchecked;
2. if rejected: the user's ``--called-ae`` titles, or else a short list of common titles
   (``fingerprints.json``), each with a random calling AE: accepted ⇒ any calling AE;
   a reject with reason 7 (called AE not recognised) moves on to the next title, any
   other reject ends the guessing;
3. if still rejected and the user gave ``--calling-ae``: the best called AE with it.

Every request proposes the same presentation contexts (verification, a few storage SOP
classes, Q/R FIND/MOVE/GET, worklist, MPPS, storage commitment); the accepted ones are
recorded per service. The accepted association is handed over to the service probes.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from radguard.assess.dicom_client import DicomClient, PeerError
from radguard.assess.knowledge import called_ae_guesses
from radguard.dicom import uids
from radguard.dicom.enums import RejectReason, RejectSource, reject_reason_name
from radguard.dicom.pdu import Abort, AssociateAccept, AssociateReject, AssociateRequest, PresentationContext

#: transfer syntaxes proposed for every context (PS3.5 §10.1, §A.2)
PROPOSED_TS = [uids.EXPLICIT_VR_LITTLE_ENDIAN, uids.IMPLICIT_VR_LITTLE_ENDIAN]
#: at most this many called-AE guesses per endpoint (gentle on production systems)
MAX_CALLED_AE_GUESSES = 8


class Service(enum.StrEnum):
    """Service families reported in the asset's ``services`` attribute."""

    VERIFICATION = "verification"
    STORAGE = "storage"
    QUERY = "query"
    RETRIEVE_MOVE = "retrieve-move"
    RETRIEVE_GET = "retrieve-get"
    WORKLIST = "worklist"
    MPPS = "mpps"
    STORAGE_COMMITMENT = "storage-commitment"


PROPOSALS: tuple[tuple[Service, str], ...] = (
    (Service.VERIFICATION, uids.VERIFICATION),
    (Service.STORAGE, uids.SECONDARY_CAPTURE_IMAGE_STORAGE),
    (Service.STORAGE, uids.CT_IMAGE_STORAGE),
    (Service.STORAGE, uids.MR_IMAGE_STORAGE),
    (Service.STORAGE, uids.CR_IMAGE_STORAGE),
    (Service.QUERY, uids.STUDY_ROOT_QR_FIND),
    (Service.QUERY, uids.PATIENT_ROOT_QR_FIND),
    (Service.RETRIEVE_MOVE, uids.STUDY_ROOT_QR_MOVE),
    (Service.RETRIEVE_MOVE, uids.PATIENT_ROOT_QR_MOVE),
    (Service.RETRIEVE_GET, uids.STUDY_ROOT_QR_GET),
    (Service.RETRIEVE_GET, uids.PATIENT_ROOT_QR_GET),
    (Service.WORKLIST, uids.MODALITY_WORKLIST_FIND),
    (Service.MPPS, uids.MODALITY_PERFORMED_PROCEDURE_STEP),
    (Service.STORAGE_COMMITMENT, uids.STORAGE_COMMITMENT_PUSH_MODEL),
)

Connector = Callable[[], Awaitable[DicomClient]]


def random_ae(prefix: str = "RG") -> str:
    """A random AE title that cannot be configured anywhere by chance (16 chars, PS3.5 AE VR)."""
    return (prefix + secrets.token_hex(7)).upper()[:16]


#: encoded presentation context items, by (id, abstract syntax, transfer syntaxes): the same 14 in every request
_CONTEXT_ITEMS: dict[tuple[int, str | None, tuple[str, ...]], bytes] = {}


class _ProbeRequest(AssociateRequest):
    """The probes' A-ASSOCIATE-RQ: the presentation context items, the same in every attempt, are encoded once
    per process (only the AE titles change from one attempt to the next)."""

    def _encode_context(self, ctx: PresentationContext) -> bytes:
        key = (ctx.id, ctx.abstract_syntax, tuple(ctx.transfer_syntaxes))
        item = _CONTEXT_ITEMS.get(key)
        if item is None:
            item = super()._encode_context(ctx)
            if len(_CONTEXT_ITEMS) < 4 * len(PROPOSALS):
                _CONTEXT_ITEMS[key] = item
        return item


def build_request(called: str, calling: str) -> AssociateRequest:
    contexts = [
        PresentationContext(id=2 * i + 1, abstract_syntax=uid, transfer_syntaxes=list(PROPOSED_TS))
        for i, (_, uid) in enumerate(PROPOSALS)
    ]
    return _ProbeRequest(called_ae=called, calling_ae=calling, contexts=contexts, max_pdu_length=65536)


@dataclass(kw_only=True)
class Attempt:
    called_ae: str
    calling_ae: str
    called_random: bool
    calling_random: bool
    outcome: str  # "accepted", "rejected", "aborted", "error"
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "called_ae": "<random>" if self.called_random else self.called_ae,
            "calling_ae": "<random>" if self.calling_random else self.calling_ae,
            "outcome": self.outcome,
            **self.detail,
        }


@dataclass(kw_only=True)
class AccessReport:
    """What the association attempts showed."""

    attempts: list[Attempt] = field(default_factory=list)
    any_called: bool = False
    any_calling: bool = False
    accepted_called_ae: str | None = None
    accepted_calling_ae: str | None = None
    implementation_class_uid: str | None = None
    implementation_version_name: str | None = None
    services: dict[str, list[str]] = field(default_factory=dict)
    context_ids: dict[str, int] = field(default_factory=dict)  # abstract syntax -> accepted context id
    transfer_syntax: dict[int, str] = field(default_factory=dict)
    client: DicomClient | None = None  # the open, accepted association (for the service probes)
    error: PeerError | None = None


def _record_accept(report: AccessReport, accept: AssociateAccept) -> None:
    report.implementation_class_uid = accept.implementation_class_uid
    report.implementation_version_name = accept.implementation_version_name
    by_id = dict(enumerate(PROPOSALS))
    for ctx in accept.contexts:
        if not ctx.accepted or ctx.id % 2 == 0:
            continue
        index = (ctx.id - 1) // 2
        if index not in by_id:
            continue
        service, uid = by_id[index]
        report.services.setdefault(service.value, []).append(uid)
        report.context_ids[uid] = ctx.id
        if ctx.transfer_syntaxes:
            report.transfer_syntax[ctx.id] = ctx.transfer_syntaxes[0]


def _reject_detail(pdu: AssociateReject | Abort) -> dict[str, Any]:
    if isinstance(pdu, Abort):
        return {"abort_source": int(pdu.source), "abort_reason": int(pdu.reason)}
    return {
        "result": int(pdu.result),
        "source": int(pdu.source),
        "reason": reject_reason_name(int(pdu.source), int(pdu.reason)),
    }


def _is_called_reject(pdu: AssociateReject | Abort) -> bool:
    return (
        isinstance(pdu, AssociateReject)
        and pdu.source == RejectSource.SERVICE_USER
        and pdu.reason == RejectReason.CALLED_AE_NOT_RECOGNIZED
    )


async def _try(
    report: AccessReport,
    connect: Connector,
    client: DicomClient | None,
    called: tuple[str, bool],
    calling: tuple[str, bool],
) -> AssociateAccept | AssociateReject | Abort | None:
    attempt = Attempt(called_ae=called[0], calling_ae=calling[0], called_random=called[1],
                      calling_random=calling[1], outcome="error")
    report.attempts.append(attempt)
    try:
        client = client or await connect()
        reply = await client.associate(build_request(called[0], calling[0]))
    except PeerError as exc:
        attempt.detail = {"error": exc.kind}
        report.error = exc
        if client is not None:
            await client.close()
        return None
    if isinstance(reply, AssociateAccept):
        attempt.outcome = "accepted"
        report.client = client
        report.accepted_called_ae, report.accepted_calling_ae = called[0], calling[0]
        _record_accept(report, reply)
        if called[1]:
            report.any_called = True
        if calling[1]:
            report.any_calling = True
        return reply
    attempt.outcome = "rejected" if isinstance(reply, AssociateReject) else "aborted"
    attempt.detail = _reject_detail(reply)
    await client.close()
    return reply


async def probe_access(
    connect: Connector,
    *,
    first: DicomClient | None = None,
    called_aes: tuple[str, ...] = (),
    calling_ae: str | None = None,
) -> AccessReport:
    """Run the association attempts (module docstring). ``first``: an open connection to use first.

    The caller owns ``report.client`` (release and close it).
    """
    report = AccessReport()
    reply = await _try(report, connect, first, (random_ae(), True), (random_ae(), True))
    if reply is None or isinstance(reply, AssociateAccept):
        return report
    called_reject = _is_called_reject(reply)
    best_called: str | None = None
    if called_reject:
        guesses = list(called_aes) if called_aes else list(called_ae_guesses())[:MAX_CALLED_AE_GUESSES]
        for called in guesses:
            reply = await _try(report, connect, None, (called, False), (random_ae(), True))
            if reply is None or isinstance(reply, AssociateAccept):
                return report
            if not _is_called_reject(reply):
                best_called = called
                break
    if calling_ae:
        called_title = best_called or (called_aes[0] if called_aes else None)
        if called_title is not None:
            await _try(report, connect, None, (called_title, False), (calling_ae, False))
        elif not called_reject:
            await _try(report, connect, None, (random_ae(), True), (calling_ae, False))
    return report
