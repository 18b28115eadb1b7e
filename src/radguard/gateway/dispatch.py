"""DIMSE decision dispatch of a relayed association, in both directions.

Client events: requests go through the policy engine (fail closed) and are relayed as they come, held
for inspection (C-STORE, :mod:`radguard.gateway.store_path`) or refused with a response; C-GET
sub-operation responses are audited. Upstream events: responses are relayed (a final one answers the
client first, then is audited), C-GET sub-operation C-STOREs are relayed toward the client. Release,
abort and protocol violations (PS3.8 §9.2) end the association on both sides.
"""

from __future__ import annotations

import logging

from radguard.dicom.dimse import Command, response
from radguard.dicom.enums import CommandField, StatusCategory
from radguard.dicom.events import (
    Aborted,
    CommandReceived,
    DataChunk,
    Event,
    ProtocolViolation,
    ReleaseConfirmed,
    ReleaseRequested,
)
from radguard.dicom.pdu import ReleaseRequest, ReleaseResponse
from radguard.gateway.dataset import identifiers, query_keys
from radguard.gateway.pieces import CAPTURE_LIMIT, DataMode, HeldDataSet, Pending
from radguard.gateway.store_path import SPOOL_IN_MEMORY, StorePath

log = logging.getLogger("radguard.gateway")


class Dispatch(StorePath):
    """Act on the events the two upper layers report."""

    async def _on_client(self, ev: Event) -> None:
        if isinstance(ev, CommandReceived):
            await self._client_command(ev)
        elif isinstance(ev, DataChunk):
            await self._client_data(ev)
        elif isinstance(ev, ReleaseRequested):
            await self._write(self.u_writer, self.up.send(ReleaseRequest()))
        elif isinstance(ev, ReleaseConfirmed):
            await self._write(self.u_writer, self.up.send(ReleaseResponse()))
            self.how = "released"
            self._finish()
        elif isinstance(ev, Aborted):
            self.abort("aborted by the client")
        elif isinstance(ev, ProtocolViolation):
            self.gw.stats["violations"] += 1
            log.warning("association %s: client protocol violation: %s", self.info.label, ev.message)
            if self.gw.audit is not None:
                self.gw.audit.alert(self.info, f"protocol violation: {ev.message}")
            self.abort("protocol violation by the client", provider=True)

    async def _client_command(self, ev: CommandReceived) -> None:
        cmd, ctx = ev.command, ev.context_id
        cf = cmd.command_field
        if cf is not None and not cf.is_request:  # a response: C-GET sub-operation C-STORE-RSP
            sub = self.get_stores.pop(cmd.message_id_being_responded_to or -1, None)
            if sub is not None and self.gw.audit is not None:
                self.gw.audit.retrieved(self.info, patient_id=sub.patient_id, study_uid=sub.study_uid,
                                        sop_class=sub.command.sop_class_uid or "", status=cmd.status)
            self._u_buf.extend(self._command_pdus(ev, self.up))  # sent with what follows
            self.c_mode = DataMode.FORWARD if cmd.has_dataset else DataMode.NONE
            self._u_hold = cmd.has_dataset
            return
        decision = self.gw.engine.on_request(self.info, cmd)
        if not decision.allowed:
            self.gw.stats["requests_refused"] += 1
            self.c_mode = DataMode.DISCARD if cmd.has_dataset else DataMode.NONE
            service = cf.service if cf is not None else "DIMSE"
            log.info("association %s: %s refused: %s", self.info.label, service, decision.reason)
            if self.gw.audit is not None:
                self.gw.audit.refused(self.info, service, decision.reason)
            if cf is not None and cf is not CommandField.C_CANCEL_RQ:
                assert decision.status is not None
                rsp = response(cmd, decision.status, error_comment=decision.reason[:64])
                await self._to_client(ctx, rsp.encode())
            return
        pending = Pending(cmd, ctx)
        if cf is CommandField.C_STORE_RQ and self.gw.inspection.active:
            self.store = pending
            self.spool = HeldDataSet(self.gw.spool_dir, SPOOL_IN_MEMORY, self.up.peer_max_pdu or 0)
            self.c_mode = DataMode.SPOOL
            return
        if cf is not CommandField.C_CANCEL_RQ and cmd.message_id is not None:
            self.pending[cmd.message_id] = pending
        self._u_buf.extend(self._command_pdus(ev, self.up))  # sent with what follows
        self._u_hold = cmd.has_dataset
        if cf is CommandField.C_STORE_RQ:  # no inspection: cut-through, the data set streams upstream
            self.gw.stats["stores_forwarded"] += 1
        self.c_forward = pending
        self.c_mode = DataMode.FORWARD if cmd.has_dataset else DataMode.NONE

    async def _client_data(self, ev: DataChunk) -> None:
        if self.c_mode is DataMode.SPOOL and self.spool is not None:
            self.spool.add(ev.data, ev.wire)
            if ev.last:
                await self._finish_store(ev.context_id)
        elif self.c_mode is DataMode.FORWARD:
            if self.c_forward is not None and len(self.c_forward.captured) < CAPTURE_LIMIT:
                self.c_forward.captured += ev.data[: CAPTURE_LIMIT - len(self.c_forward.captured)]
            self._u_buf.extend(self._data_pdus(ev, self.up))
            self._u_hold = False
            if ev.last:
                self._request_identified(self.c_forward)
        if ev.last:
            self.c_mode = DataMode.NONE

    def _request_identified(self, p: Pending | None) -> None:
        """A data set relayed as it came is complete: note a C-STORE's identifiers for its audit record,
        audit the start of a C-MOVE/C-GET transfer."""
        if p is None:
            return
        cf = p.command.command_field
        if cf is CommandField.C_STORE_RQ:
            self._identify = p  # read once the data set is on its way upstream, before the response comes
            return
        elif cf in (CommandField.C_MOVE_RQ, CommandField.C_GET_RQ) and self.gw.audit is not None:
            pid, study = identifiers(bytes(p.captured), self._ts(p.context_id))
            dest = p.command.move_destination or self.info.calling_ae
            assert cf is not None
            self.gw.audit.retrieve_started(self.info, service=cf.service, destination=dest.strip(),
                                           study_uid=study, patient_id=pid)

    async def _on_upstream(self, ev: Event) -> None:
        if isinstance(ev, CommandReceived):
            await self._upstream_command(ev)
        elif isinstance(ev, DataChunk):
            sub = self.u_forward
            if sub is not None and len(sub.captured) < CAPTURE_LIMIT:
                sub.captured += ev.data[: CAPTURE_LIMIT - len(sub.captured)]
            self._c_buf.extend(self._data_pdus(ev, self.client))
            if ev.last and sub is not None:
                sub.patient_id, sub.study_uid = identifiers(bytes(sub.captured), self._ts(sub.context_id))
                sub.captured = bytearray()
                self.u_forward = None
        elif isinstance(ev, ReleaseConfirmed):
            await self._write(self.c_writer, self.client.send(ReleaseResponse()))
            self.how = "released"
            self._finish()
        elif isinstance(ev, ReleaseRequested):
            await self._write(self.c_writer, self.client.send(ReleaseRequest()))
        elif isinstance(ev, Aborted):
            self.abort(f"aborted by {self.info.target_ae}")
        elif isinstance(ev, ProtocolViolation):
            self.gw.stats["violations"] += 1
            log.warning("association %s: upstream protocol violation: %s", self.info.label, ev.message)
            self.abort(f"protocol violation by {self.info.target_ae}", provider=True)

    async def _upstream_command(self, ev: CommandReceived) -> None:
        cmd, ctx = ev.command, ev.context_id
        cf = cmd.command_field
        if cf is CommandField.C_STORE_RQ:  # C-GET sub-operation toward the client
            sub = Pending(cmd, ctx)
            if cmd.message_id is not None:
                self.get_stores[cmd.message_id] = sub
            self.u_forward = sub
        elif cf is not None and not cf.is_request:
            final = cmd.status_category is not StatusCategory.PENDING
            msg_id = cmd.message_id_being_responded_to
            p = self.pending.get(msg_id) if msg_id is not None else None
            if p is not None and final:
                del self.pending[msg_id]  # type: ignore[arg-type]
                # answer the client first, audit after: the audit record is off the latency path
                await self._write(self.c_writer, *self._command_pdus(ev, self.client))
                self._audit_response(p, cmd)
                return
        self._c_buf.extend(self._command_pdus(ev, self.client))  # sent with what follows

    def _audit_response(self, p: Pending, rsp: Command) -> None:
        audit = self.gw.audit
        cf = p.command.command_field
        if cf is CommandField.C_STORE_RQ:
            self.gw.stats["stores_acknowledged"] += 1
            self._note_identifiers(p)
            if audit is not None:
                audit.stored(self.info, patient_id=p.patient_id, study_uid=p.study_uid,
                             sop_class=p.command.sop_class_uid or "", status=rsp.status)
        elif cf is CommandField.C_FIND_RQ and audit is not None:
            ts = self._ts(p.context_id)
            audit.query(self.info, sop_class=p.command.sop_class_uid or "", keys=query_keys(bytes(p.captured), ts),
                        identifier=bytes(p.captured), transfer_syntax=ts, status=rsp.status)
