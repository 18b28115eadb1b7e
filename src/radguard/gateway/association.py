"""One relayed association, sans-io: the events of both upper layers in, commands out.

The client talks to an ACCEPTOR upper layer, the upstream to a REQUESTOR one (PS3.8 §9.2); the driver
(:class:`radguard.gateway.relay.Relay`) feeds their events to :meth:`Association.from_client` and
:meth:`Association.from_upstream` and carries out the :mod:`~radguard.gateway.commands` they return. Bytes
that may wait for the next write go to the ends' :class:`~radguard.gateway.pieces.Outbox`. No sockets, no
awaits: what needs them (writes, the ``on_store`` hooks in a thread, quarantine files) is a command.

Client requests go through the policy engine's ``on_request`` hook (fail closed) and are relayed as they
come, held for the ``on_store`` hooks (C-STORE, PS3.4 Annex B) or refused with a response (PS3.7 Annex C).
Upstream responses are relayed (a final one answers the client first, its audit event comes after); C-GET
sub-operation C-STOREs are relayed toward the client. Relayed PDUs go as they came when they fit the other
end's Maximum Length Received, else re-cut (PS3.8 Annex D.1). Release, abort and protocol violations end
the association on both ends.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from radguard.dicom import events
from radguard.dicom.dimse import Command as Dimse
from radguard.dicom.dimse import fragment, response
from radguard.dicom.enums import CommandField, Status, StatusCategory
from radguard.dicom.pdu import ReleaseRequest, ReleaseResponse
from radguard.dicom.ul import UpperLayer
from radguard.gateway import bus
from radguard.gateway import commands as do
from radguard.gateway.commands import Command, HeldStore
from radguard.gateway.config import InspectAction
from radguard.gateway.dataset import identifiers
from radguard.gateway.pieces import (
    CAPTURE_LIMIT,
    DataMode,
    End,
    HeldDataSet,
    Outbox,
    Pending,
    command_pdus,
    data_pdus,
)
from radguard.gateway.policy import AssociationInfo, PolicyEngine, StoreVerdict

log = logging.getLogger("radguard.gateway")

#: C-STORE data sets up to this size stay in memory, larger ones go to the spool directory
SPOOL_IN_MEMORY = 4 * 1024 * 1024
#: transfer syntax of a presentation context the client did not negotiate (PS3.5 §10.1)
DEFAULT_TS = "1.2.840.10008.1.2"

NOTHING: tuple[Command, ...] = ()


class Association:
    """Dispatch and C-STORE path of one association, in both directions.

    Parameters
    ----------
    info : AssociationInfo
        What the policy knows of the association (filled in by the A-ASSOCIATE negotiation).
    client, upstream : UpperLayer
        The two sans-io upper layers (ACCEPTOR toward the client, REQUESTOR toward the upstream).
    outboxes : tuple of Outbox
        Where bytes for each end wait for the next write, indexed by :class:`~radguard.gateway.pieces.End`.
    engine : PolicyEngine
        Decision hooks: ``on_request`` here, ``on_store`` run by the driver.
    spool_dir : Path
        Where held data sets above :data:`SPOOL_IN_MEMORY` go.
    """

    def __init__(self, info: AssociationInfo, client: UpperLayer, upstream: UpperLayer,
                 outboxes: tuple[Outbox, Outbox], engine: PolicyEngine, spool_dir: Path) -> None:
        self.info, self.client, self.up = info, client, upstream
        self._to_client, self._to_up = outboxes
        self.engine, self.spool_dir = engine, spool_dir
        self.mode = DataMode.NONE  # what to do with data-set fragments from the client
        self.held: HeldStore | None = None  # the C-STORE whose data set is being held
        self.forward: Pending | None = None  # client request whose data set is relayed as it comes
        self.sub: Pending | None = None  # C-GET sub-operation C-STORE coming from the upstream
        self.pending: dict[int, Pending] = {}  # by message id, client requests relayed upstream
        self.get_stores: dict[int, Pending] = {}  # by message id, upstream C-STOREs relayed to the client
        #: a C-STORE relayed as it came whose identifiers are still to be read (off the response's path)
        self.identify: Pending | None = None
        self._forwarded = (do.Publish(bus.StoreForwarded(info)),)

    def transfer_syntax(self, context_id: int) -> str:
        """The transfer syntax accepted for a presentation context (PS3.8 §9.3.3.2)."""
        return (self.client.contexts.get(context_id, (None, None))[1]) or DEFAULT_TS

    def _note_identifiers(self, p: Pending) -> None:
        """Read the audit identifiers of a relayed data set from its captured prefix (once)."""
        if p.captured:
            p.patient_id, p.study_uid = identifiers(bytes(p.captured), self.transfer_syntax(p.context_id))
            p.captured = bytearray()

    # ------------------------------------------------------------------ from the client

    def from_client(self, ev: events.Event) -> Sequence[Command]:
        """Act on one event of the client's upper layer."""
        if isinstance(ev, events.DataChunk):
            return self._client_data(ev)
        if isinstance(ev, events.CommandReceived):
            return self._client_command(ev)
        if isinstance(ev, events.ReleaseRequested):
            return (do.Send(End.UPSTREAM, [self.up.send(ReleaseRequest())]),)
        if isinstance(ev, events.ReleaseConfirmed):
            return do.Send(End.UPSTREAM, [self.up.send(ReleaseResponse())]), do.Close("released", abort=False)
        if isinstance(ev, events.Aborted):
            return (do.Close("aborted by the client"),)
        if isinstance(ev, events.ProtocolViolation):
            log.warning("association %s: client protocol violation: %s", self.info.label, ev.message)
            return (do.Publish(bus.ProtocolViolated(self.info, End.CLIENT, ev.message)),
                    do.Close("protocol violation by the client", provider=True))
        return NOTHING

    def _client_command(self, ev: events.CommandReceived) -> Sequence[Command]:
        cmd, ctx = ev.command, ev.context_id
        cf = cmd.command_field
        if cf is not None and not cf.is_request:  # a response: C-GET sub-operation C-STORE-RSP
            sub = self.get_stores.pop(cmd.message_id_being_responded_to or -1, None)
            self._to_up.pdus.extend(command_pdus(ev, self.up))  # sent with what follows
            self._to_up.hold = cmd.has_dataset
            self.mode = DataMode.FORWARD if cmd.has_dataset else DataMode.NONE
            if sub is None:
                return NOTHING
            answered = bus.StoreAnswered(self.info, sub.patient_id, sub.study_uid, sub.command.sop_class_uid or "",
                                         cmd.status, stored_by=End.CLIENT)
            return (do.Publish(answered),)
        decision = self.engine.on_request(self.info, cmd)
        if not decision.allowed:
            self.mode = DataMode.DISCARD if cmd.has_dataset else DataMode.NONE
            service = cf.service if cf is not None else "DIMSE"
            log.info("association %s: %s refused: %s", self.info.label, service, decision.reason)
            refused = do.Publish(bus.RequestRefused(self.info, service, decision.reason))
            if cf is None or cf is CommandField.C_CANCEL_RQ:
                return (refused,)
            assert decision.status is not None
            rsp = response(cmd, decision.status, error_comment=decision.reason[:64])
            return refused, do.Send(End.CLIENT, fragment(ctx, rsp.encode(), None, self.client.peer_max_pdu or 0))
        pending = Pending(cmd, ctx)
        if cf is CommandField.C_STORE_RQ and self.engine.holds_stores():
            target = f"{self.info.calling_ae}@{self.info.client_host}:{cmd.affected_sop_instance_uid}"
            spool = HeldDataSet(self.spool_dir, SPOOL_IN_MEMORY, self.up.peer_max_pdu or 0)
            self.held = HeldStore(pending, spool, self.transfer_syntax(ctx), target)
            self.mode = DataMode.SPOOL
            return NOTHING
        if cf is not CommandField.C_CANCEL_RQ and cmd.message_id is not None:
            self.pending[cmd.message_id] = pending
        self._to_up.pdus.extend(command_pdus(ev, self.up))  # sent with what follows
        self._to_up.hold = cmd.has_dataset
        self.forward = pending
        self.mode = DataMode.FORWARD if cmd.has_dataset else DataMode.NONE
        if cf is CommandField.C_STORE_RQ:  # no hold: cut-through, the data set streams upstream
            return self._forwarded
        return NOTHING

    def _client_data(self, ev: events.DataChunk) -> Sequence[Command]:
        out: Sequence[Command] = NOTHING
        mode = self.mode
        if mode is DataMode.FORWARD:
            fwd = self.forward
            if fwd is not None and len(fwd.captured) < CAPTURE_LIMIT:
                fwd.captured += ev.data[: CAPTURE_LIMIT - len(fwd.captured)]
            box = self._to_up
            box.pdus.extend(data_pdus(ev, self.up))
            box.hold = False
            if ev.last and fwd is not None:
                out = self._request_identified(fwd)
        elif mode is DataMode.SPOOL and self.held is not None:
            self.held.spool.add(ev.data, ev.wire)
            if ev.last:
                held, self.held = self.held, None
                out = (do.CheckStore(held),)
        if ev.last:
            self.mode = DataMode.NONE
        return out

    def _request_identified(self, p: Pending) -> Sequence[Command]:
        """A data set relayed as it came is complete: a C-STORE's identifiers are read once it is on its
        way upstream (:meth:`sent`); a C-MOVE/C-GET transfer starts."""
        cf = p.command.command_field
        if cf is CommandField.C_STORE_RQ:
            self.identify = p
        elif cf is CommandField.C_MOVE_RQ or cf is CommandField.C_GET_RQ:
            pid, study = identifiers(bytes(p.captured), self.transfer_syntax(p.context_id))
            dest = (p.command.move_destination or self.info.calling_ae).strip()
            return (do.Publish(bus.RetrieveStarted(self.info, cf.service, dest, study, pid)),)
        return NOTHING

    def sent(self) -> None:
        """The driver has written what a chunk produced: read the identifiers of a C-STORE relayed as it
        came, before its response arrives and off its path."""
        p = self.identify
        if p is not None:
            self.identify = None
            self._note_identifiers(p)

    # ------------------------------------------------------------------ held C-STOREs

    def store_checked(self, held: HeldStore, data: bytes, verdict: StoreVerdict) -> list[Command]:
        """The ``on_store`` verdict on a held data set: forward it upstream, or refuse it (after
        quarantine when the policy says so) with status Refused: not authorized (PS3.7 Annex C)."""
        p = held.pending
        ids = verdict.identifiers
        p.patient_id, p.study_uid = ids if ids is not None else identifiers(data, held.transfer_syntax)
        sop_class = p.command.sop_class_uid or ""
        if not verdict.forward:
            rules = sorted({f.rule for f in verdict.findings}) or [verdict.error or "inspection error"]
            detail = f"{verdict.action.value} by inspection: {', '.join(rules)}"
            out: list[Command] = []
            quarantined = verdict.action is InspectAction.QUARANTINE
            if quarantined:
                meta = {"calling_ae": self.info.calling_ae, "client": self.info.client_host,
                        "transfer_syntax": held.transfer_syntax, "sop_class": p.command.sop_class_uid,
                        "findings": [f.to_dict() for f in verdict.findings]}
                out.append(do.Quarantine(data, p.command.affected_sop_instance_uid or "", meta, detail))
            else:
                log.warning("association %s: data set %s", self.info.label, detail)
            status = Status.NOT_AUTHORIZED
            out.append(do.Publish(bus.StoreRefused(self.info, p.patient_id, p.study_uid, sop_class, detail,
                                                   quarantined, status)))
            rsp = response(p.command, status, error_comment=detail[:64]).encode()
            out.append(do.Send(End.CLIENT, fragment(held.context_id, rsp, None, self.client.peer_max_pdu or 0)))
            return out
        out = []
        if verdict.action is InspectAction.ALERT:
            out.append(do.Publish(bus.StoreAlerted(self.info, tuple(sorted({f.rule for f in verdict.findings})))))
        if p.command.message_id is not None:
            self.pending[p.command.message_id] = p
        head = fragment(held.context_id, p.command.encode(), None, self.up.peer_max_pdu or 0)
        out.append(do.SendHeld(held, head))
        out.extend(self._forwarded)
        return out

    # ------------------------------------------------------------------ from the upstream

    def from_upstream(self, ev: events.Event) -> Sequence[Command]:
        """Act on one event of the upstream's upper layer."""
        if isinstance(ev, events.DataChunk):
            sub = self.sub
            if sub is not None and len(sub.captured) < CAPTURE_LIMIT:
                sub.captured += ev.data[: CAPTURE_LIMIT - len(sub.captured)]
            self._to_client.pdus.extend(data_pdus(ev, self.client))
            if ev.last and sub is not None:
                self._note_identifiers(sub)
                self.sub = None
            return NOTHING
        if isinstance(ev, events.CommandReceived):
            return self._upstream_command(ev)
        if isinstance(ev, events.ReleaseConfirmed):
            return do.Send(End.CLIENT, [self.client.send(ReleaseResponse())]), do.Close("released", abort=False)
        if isinstance(ev, events.ReleaseRequested):
            return (do.Send(End.CLIENT, [self.client.send(ReleaseRequest())]),)
        if isinstance(ev, events.Aborted):
            return (do.Close(f"aborted by {self.info.target_ae}"),)
        if isinstance(ev, events.ProtocolViolation):
            log.warning("association %s: upstream protocol violation: %s", self.info.label, ev.message)
            return (do.Publish(bus.ProtocolViolated(self.info, End.UPSTREAM, ev.message)),
                    do.Close(f"protocol violation by {self.info.target_ae}", provider=True))
        return NOTHING

    def _upstream_command(self, ev: events.CommandReceived) -> Sequence[Command]:
        cmd, ctx = ev.command, ev.context_id
        cf = cmd.command_field
        if cf is CommandField.C_STORE_RQ:  # C-GET sub-operation toward the client
            sub = Pending(cmd, ctx)
            if cmd.message_id is not None:
                self.get_stores[cmd.message_id] = sub
            self.sub = sub
        elif cf is not None and not cf.is_request:
            msg_id = cmd.message_id_being_responded_to
            if msg_id is not None and cmd.status_category is not StatusCategory.PENDING:
                p = self.pending.pop(msg_id, None)
                if p is not None:  # answer the client first, the audit event after: off the latency path
                    return (do.Send(End.CLIENT, command_pdus(ev, self.client)),
                            do.Continue(lambda: self._answered(p, cmd)))
        self._to_client.pdus.extend(command_pdus(ev, self.client))  # sent with what follows
        return NOTHING

    def _answered(self, p: Pending, rsp: Dimse) -> Sequence[Command]:
        cf = p.command.command_field
        if cf is CommandField.C_STORE_RQ:
            self._note_identifiers(p)
            return (do.Publish(bus.StoreAnswered(self.info, p.patient_id, p.study_uid,
                                                  p.command.sop_class_uid or "", rsp.status)),)
        if cf is CommandField.C_FIND_RQ:
            return (do.Publish(bus.QueryAnswered(self.info, p.command.sop_class_uid or "", bytes(p.captured),
                                              self.transfer_syntax(p.context_id), rsp.status)),)
        return NOTHING

    # ------------------------------------------------------------------ the end

    def unanswered(self, how: str) -> list[bus.StoreAnswered]:
        """The relayed C-STOREs the upstream never answered (the association ended: ``how``)."""
        out = []
        for p in self.pending.values():
            if p.command.command_field is CommandField.C_STORE_RQ:
                self._note_identifiers(p)
                out.append(bus.StoreAnswered(self.info, p.patient_id, p.study_uid, p.command.sop_class_uid or "",
                                             None, how))
        return out

    def close(self) -> None:
        """Drop a data set still held (the association is over)."""
        if self.held is not None:
            self.held.spool.close()
            self.held = None
