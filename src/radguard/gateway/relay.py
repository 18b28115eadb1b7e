"""One association through the gateway: two sans-io upper layers and the sockets that feed them.

The client talks to an ACCEPTOR :class:`~radguard.dicom.ul.UpperLayer`, the upstream (PACS, or a
peer's storage SCP for C-MOVE sub-operations) to a REQUESTOR one (PS3.8 §9.2). The A-ASSOCIATE-RQ
is relayed with the client's calling AE, so the upstream's own per-AE permissions still apply.
Each side is told a Maximum Length Received of ``[limits] max_pdu_length`` lowered to the other
side's own maximum (PS3.8 Annex D.1), so P-DATA-TF PDUs are forwarded untouched (re-cut only if a
peer's PDU does not fit, e.g. a C-MOVE sub-operation peer), and a PDU larger than what the gateway
announced is a violation whatever the other side accepts.
DIMSE requests go through the policy engine (fail closed) before they are relayed; C-STORE data
sets are spooled (memory up to 4 MiB, then disk), inspected, then streamed upstream; the client
gets the upstream's C-STORE response (end-to-end acknowledgement), or a refusal status.

The code is layered, one module per concern: :mod:`radguard.gateway.relay_base` (state and plumbing),
:mod:`radguard.gateway.store_path` (C-STORE hold-inspect-forward), :mod:`radguard.gateway.dispatch`
(DIMSE decisions), :mod:`radguard.gateway.pumps` (reading loops); :class:`Relay` adds the A-ASSOCIATE
negotiation and the association's life.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from radguard.dicom.enums import CommandField
from radguard.dicom.events import (
    Aborted,
    AssociateAccepted,
    AssociateRejected,
    AssociateRequested,
    ProtocolViolation,
)
from radguard.dicom.pdu import AssociateRequest
from radguard.gateway import streams
from radguard.gateway.dataset import identifiers
from radguard.gateway.policy import REJECT_CONGESTION
from radguard.gateway.pumps import Pumps
from radguard.gateway.relay_base import READ_SIZE
from radguard.gateway.store_path import INSPECT_INLINE, SPOOL_IN_MEMORY, WRITE_BATCH

log = logging.getLogger("radguard.gateway")

__all__ = ["ARTIM_SECONDS", "INSPECT_INLINE", "READ_SIZE", "SPOOL_IN_MEMORY", "WRITE_BATCH", "Relay"]

#: A-ASSOCIATE-RQ must arrive within this many seconds of the connection (ARTIM, PS3.8 §9.1.5)
ARTIM_SECONDS = 30.0


class Relay(Pumps):
    """Relay one association between a client connection and its target, under the gateway's policy."""

    async def run(self) -> None:
        """Serve the association to its end; never raises."""
        try:
            if await self._associate():
                self.established = True
                self._last_activity = self._loop.time()
                self._watchdog = self._loop.call_later(self.gw.config.limits.idle_timeout, self._watch_idle)
                self._direct(True)
                await asyncio.gather(self._client_pump(), self._upstream_pump())
        except Exception as exc:
            log.error("association %s: internal error %s: %s", self.info.label, type(exc).__name__, exc)
            self.abort("internal error", provider=True)
        finally:
            self._direct(False)
            for resume in (self._c_resume, self._u_resume):
                if resume is not None:
                    resume.close()
            if self._watchdog is not None:
                self._watchdog.cancel()
            for p in list(self.pending.values()):
                if p.command.command_field is CommandField.C_STORE_RQ and self.gw.audit is not None:
                    if p.captured:
                        p.patient_id, p.study_uid = identifiers(bytes(p.captured), self._ts(p.context_id))
                    self.gw.audit.stored(self.info, patient_id=p.patient_id, study_uid=p.study_uid,
                                         sop_class=p.command.sop_class_uid or "", status=None,
                                         description=f"no upstream response ({self.how})")
                    self.gw.stats["stores_unacknowledged"] += 1
            if self.spool is not None:
                self.spool.close()
            for w in (self.c_writer, self.u_writer):
                if w is not None and not w.is_closing():
                    w.close()
            if self.established and self.gw.audit is not None:
                self.gw.audit.closed(self.info, how=self.how)

    async def _associate(self) -> bool:
        try:
            return await self._negotiate()
        finally:
            if self.on_established is not None:
                self.on_established()
                self.on_established = None

    async def _negotiate(self) -> bool:
        gw, info = self.gw, self.info
        rq: AssociateRequest | None = None
        while rq is None:
            data = await self._read(self.c_reader, ARTIM_SECONDS)
            if not data:
                return False
            for ev in self.client.receive(data):
                if isinstance(ev, AssociateRequested):
                    rq = ev.pdu
                elif isinstance(ev, ProtocolViolation):
                    gw.stats["violations"] += 1
                    log.warning("connection from %s: %s", info.client_host, ev.message)
                    self.abort("protocol violation", provider=True)
                    return False
        info.calling_ae, info.called_ae = rq.calling_ae.strip(), rq.called_ae.strip()
        decision = gw.engine.on_associate(info)
        if not decision.allowed:
            assert decision.reject is not None
            await self._write(self.c_writer, self.client.send(decision.reject))
            gw.stats["associations_rejected"] += 1
            log.info("association %s rejected: %s", info.label, decision.reason)
            if gw.audit is not None:
                gw.audit.association(info, accepted=False, reason=decision.reason)
            return False
        assert info.target is not None
        try:
            u_reader, u_writer = await asyncio.wait_for(
                streams.open_connection(*info.target), gw.config.limits.connect_timeout)
            gw.tune_socket(u_writer)
            self.u_reader, self.u_writer = u_reader, u_writer
        except (OSError, TimeoutError) as exc:
            await self._write(self.c_writer, self.client.send(REJECT_CONGESTION))
            gw.stats["upstream_unavailable"] += 1
            log.warning("association %s: upstream %s:%d unavailable (%s)", info.label, *info.target,
                        type(exc).__name__)
            if gw.audit is not None:
                gw.audit.association(info, accepted=False, reason=f"upstream {info.target_ae} unavailable")
            return False
        # each side gets the gateway's own receive maximum; fragments are re-cut to the other side's maximum
        up_rq = dataclasses.replace(rq, called_ae=info.target_ae, max_pdu_length=self._own_max(rq.max_pdu_length))
        self.up.max_pdu_receive = up_rq.max_pdu_length or 0
        await self._write(self.u_writer, self.up.send(up_rq))
        while self.u_reader is not None:
            data = await self._read(self.u_reader, gw.config.limits.connect_timeout)
            events = self.up.receive(data) if data else []
            for ev in events:
                if isinstance(ev, AssociateAccepted):
                    ac = dataclasses.replace(ev.pdu, called_ae=rq.called_ae, calling_ae=rq.calling_ae,
                                             max_pdu_length=self._own_max(ev.pdu.max_pdu_length))
                    self.client.max_pdu_receive = ac.max_pdu_length or 0
                    await self._write(self.c_writer, self.client.send(ac))
                    gw.stats["associations_accepted"] += 1
                    if gw.audit is not None:
                        gw.audit.association(info, accepted=True)
                    return True
                if isinstance(ev, AssociateRejected):
                    await self._write(self.c_writer, self.client.send(ev.pdu))
                    gw.stats["associations_rejected"] += 1
                    if gw.audit is not None:
                        gw.audit.association(info, accepted=False, reason=f"rejected by {info.target_ae}")
                    return False
            if not data or any(isinstance(ev, (Aborted, ProtocolViolation)) for ev in events):
                await self._write(self.c_writer, self.client.send(REJECT_CONGESTION))
                gw.stats["upstream_unavailable"] += 1
                if gw.audit is not None:
                    gw.audit.association(info, accepted=False, reason=f"{info.target_ae} did not answer")
                return False
        return False
