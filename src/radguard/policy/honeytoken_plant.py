"""``radguard decoy plant``: store honeytoken studies in the real PACS by C-STORE (PS3.4 Annex B) and record
their UIDs (store run ``decoy-plant`` and the honeytoken file, :mod:`radguard.store.honeytokens`).

Through radguard's own requestor (:class:`radguard.assess.dicom_client.DicomClient` over the sans-io upper
layer), one association for the whole plant. A study counts as planted when every one of its instances
got a success or warning status (PS3.4 §B.2.3); only planted studies are recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from radguard.assess.dicom_client import DicomClient, PeerError
from radguard.assess.probes.dicom_services import encode_dataset
from radguard.dicom import uids
from radguard.dicom.dimse import c_store_rq
from radguard.dicom.enums import StatusCategory, status_category
from radguard.dicom.pdu import AssociateAccept, AssociateRequest, PresentationContext
from radguard.policy.honeytokens import KINDS, HoneyStudy, generate, instances


@dataclass
class PlantResult:
    """What a plant did: the studies planted (UIDs recorded), the instances refused, the errors."""

    target: str
    planted: list[HoneyStudy] = field(default_factory=list)
    instances_stored: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    run_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: UIDs and counts, never the synthetic patient names (they stay in the PACS)."""
        return {"target": self.target, "planted": len(self.planted), "instances_stored": self.instances_stored,
                "studies": [{"study_uid": s.study_uid, "series_uid": s.series_uid, "instances": list(s.instances),
                             "modality": s.modality} for s in self.planted],
                "failed": self.failed, "error": self.error, "run": self.run_id}


def _request(called_ae: str, calling_ae: str) -> AssociateRequest:
    classes = sorted({sop for _, sop, _ in KINDS})
    contexts = [PresentationContext(2 * i + 1, sop, [uids.EXPLICIT_VR_LITTLE_ENDIAN, uids.IMPLICIT_VR_LITTLE_ENDIAN])
                for i, sop in enumerate(classes)]
    return AssociateRequest(called_ae=called_ae, calling_ae=calling_ae, contexts=contexts, max_pdu_length=65536)


async def _store(client: DicomClient, accepted: AssociateAccept, request: AssociateRequest, study: HoneyStudy,
                 result: PlantResult) -> bool:
    ok = True
    ctx = next((c for c in accepted.contexts if c.accepted and (request.context(c.id) or c).abstract_syntax
                == study.sop_class), None)
    if ctx is None:
        result.failed.append({"study_uid": study.study_uid, "error": f"SOP class {study.sop_class} not accepted"})
        return False
    for elements in instances(study):
        data = encode_dataset(elements, ctx.transfer_syntaxes[0] if ctx.transfer_syntaxes else None)
        rsp = await client.request(ctx.id, c_store_rq(client.next_message_id(), study.sop_class,
                                                      elements["SOPInstanceUID"]), data)
        status = rsp.status
        if status is None or status_category(status) not in (StatusCategory.SUCCESS, StatusCategory.WARNING):
            result.failed.append({"study_uid": study.study_uid, "sop_instance_uid": elements["SOPInstanceUID"],
                                  "status": None if status is None else f"0x{status:04X}"})
            ok = False
        else:
            result.instances_stored += 1
    return ok


async def plant(host: str, port: int, *, count: int, called_ae: str, calling_ae: str, timeout: float = 10.0,
                root: str | None = None) -> PlantResult:
    """C-STORE ``count`` fresh honeytoken studies to ``host:port``; a refused or unreachable PACS is a result
    (``error``), not an exception."""
    result = PlantResult(target=f"{host}:{port}")
    studies = generate(count, root=root)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        result.error = f"cannot connect: {getattr(exc, 'strerror', None) or type(exc).__name__}"
        return result
    client = DicomClient(reader, writer, timeout=timeout)
    try:
        request = _request(called_ae, calling_ae)
        answer = await client.associate(request)
        if not isinstance(answer, AssociateAccept):
            result.error = f"association refused ({type(answer).__name__})"
            return result
        for study in studies:
            if await _store(client, answer, request, study, result):
                result.planted.append(study)
        await client.release()
    except PeerError as exc:
        result.error = f"{exc.kind}: {exc}"
    finally:
        await client.close()
    return result
