"""The C-STORE hold-inspect-forward path of a relayed association.

With inspection active, a C-STORE request's data set is held (memory up to :data:`SPOOL_IN_MEMORY`, then
disk), inspected (inline when small, else in the inspection thread pool), then either streamed upstream
with its command in batches of about :data:`WRITE_BATCH` bytes, or refused with a C-STORE response of
status Refused: not authorized (PS3.7 Annex C), after quarantine when the policy says so.
"""

from __future__ import annotations

import asyncio
import logging

from radguard.dicom.dimse import fragment, response
from radguard.dicom.enums import Status
from radguard.gateway.addons.inspection import InspectionResult
from radguard.gateway.config import InspectAction
from radguard.gateway.dataset import identifiers
from radguard.gateway.pieces import Pending
from radguard.gateway.relay_base import RelayBase

log = logging.getLogger("radguard.gateway")

#: C-STORE data sets up to this size stay in memory, larger ones go to the spool directory
SPOOL_IN_MEMORY = 4 * 1024 * 1024
#: C-STORE data sets up to this size are inspected on the event loop (~0.2 ms for a 0.5 MB CT image),
#: larger ones in the inspection thread pool so that other associations keep moving
INSPECT_INLINE = 1024 * 1024
#: a held data set is sent upstream in writes of about this many bytes
WRITE_BATCH = 256 * 1024


class StorePath(RelayBase):
    """Finish a held C-STORE: inspect it, then forward or refuse it."""

    async def _finish_store(self, ctx: int) -> None:
        store, spool = self.store, self.spool
        assert store is not None and spool is not None
        self.store, self.spool = None, None
        try:
            size = spool.size
            data = spool.data()
            ts = self._ts(ctx)
            target = f"{self.info.calling_ae}@{self.info.client_host}:{store.command.affected_sop_instance_uid}"
            if size <= INSPECT_INLINE:  # a thread hand-off costs more than checking a small data set here
                result, (pid, study) = self._inspect(data, ts, target)
            else:
                result, (pid, study) = await self._loop.run_in_executor(self.gw.executor, self._inspect, data, ts,
                                                                        target)
            store.patient_id, store.study_uid = pid, study
            if not result.forward:
                await self._refuse_store(store, data, ts, result)
                return
            if result.action is InspectAction.ALERT and self.gw.audit is not None:
                self.gw.stats["stores_alerted"] += 1
                self.gw.audit.alert(self.info, "inspection: " + ", ".join(sorted({f.rule for f in result.findings})))
            del data
            if store.command.message_id is not None:
                self.pending[store.command.message_id] = store
            max_pdu = self.up.peer_max_pdu or 0
            # command and data PDUs go out in batches of WRITE_BATCH bytes: one send (and one wake-up of
            # the upstream) per batch rather than one per PDU
            batch = fragment(ctx, store.command.encode(), None, max_pdu)
            queued = 0
            for pdu in spool.pdus(ctx):
                batch.append(pdu)
                queued += len(pdu)
                if queued >= WRITE_BATCH:
                    await self._write(self.u_writer, *batch)
                    batch, queued = [], 0
            if batch:
                await self._write(self.u_writer, *batch)
            self.gw.stats["stores_forwarded"] += 1
        finally:
            spool.close()

    def _inspect(self, data: bytes, ts: str, target: str) -> tuple[InspectionResult, tuple[str, str]]:
        return self.gw.inspection.inspect(data, ts, target), identifiers(data, ts)

    async def _refuse_store(self, store: Pending, data: bytes, ts: str, result: InspectionResult) -> None:
        rules = sorted({f.rule for f in result.findings}) or [result.error or "inspection error"]
        detail = f"{result.action.value} by inspection: {', '.join(rules)}"
        if result.action is InspectAction.QUARANTINE:
            meta = {"calling_ae": self.info.calling_ae, "client": self.info.client_host, "transfer_syntax": ts,
                    "sop_class": store.command.sop_class_uid, "findings": [f.to_dict() for f in result.findings]}
            path = await asyncio.get_running_loop().run_in_executor(
                self.gw.executor, self.gw.inspection.quarantine, data,
                store.command.affected_sop_instance_uid or "", meta)
            self.gw.stats["stores_quarantined"] += 1
            log.warning("association %s: data set quarantined to %s (%s)", self.info.label, path, detail)
        else:
            self.gw.stats["stores_rejected"] += 1
            log.warning("association %s: data set %s", self.info.label, detail)
        status = Status.NOT_AUTHORIZED  # Refused: not authorized (PS3.7 Annex C)
        if self.gw.audit is not None:
            self.gw.audit.alert(self.info, detail)
            self.gw.audit.stored(self.info, patient_id=store.patient_id, study_uid=store.study_uid,
                                 sop_class=store.command.sop_class_uid or "", status=status, description=detail)
        await self._to_client(store.context_id, response(store.command, status, error_comment=detail[:64]).encode())
