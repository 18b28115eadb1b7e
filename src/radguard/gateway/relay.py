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
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from radguard.dicom.dimse import Command, fragment, response
from radguard.dicom.enums import AbortReason, AbortSource, CommandField, Status, StatusCategory
from radguard.dicom.events import (
    Aborted,
    AssociateAccepted,
    AssociateRejected,
    AssociateRequested,
    CommandReceived,
    DataChunk,
    Event,
    ProtocolViolation,
    ReleaseConfirmed,
    ReleaseRequested,
)
from radguard.dicom.pdu import Abort, AssociateRequest, ReleaseRequest, ReleaseResponse
from radguard.dicom.ul import Role, UpperLayer
from radguard.gateway import streams
from radguard.gateway.addons.inspection import InspectionResult
from radguard.gateway.config import InspectAction
from radguard.gateway.dataset import identifiers, query_keys
from radguard.gateway.pieces import CAPTURE_LIMIT, DataMode, HeldDataSet, Pending, pdvs
from radguard.gateway.policy import REJECT_CONGESTION, AssociationInfo

if TYPE_CHECKING:
    from radguard.gateway.server import Gateway

log = logging.getLogger("radguard.gateway")

READ_SIZE = 256 * 1024
#: A-ASSOCIATE-RQ must arrive within this many seconds of the connection (ARTIM, PS3.8 §9.1.5)
ARTIM_SECONDS = 30.0
#: C-STORE data sets up to this size stay in memory, larger ones go to the spool directory
SPOOL_IN_MEMORY = 4 * 1024 * 1024
#: C-STORE data sets up to this size are inspected on the event loop (~0.2 ms for a 0.5 MB CT image),
#: larger ones in the inspection thread pool so that other associations keep moving
INSPECT_INLINE = 1024 * 1024
#: a held data set is sent upstream in writes of about this many bytes
WRITE_BATCH = 256 * 1024


class Relay:
    """Relay one association between a client connection and its target, under the gateway's policy."""

    def __init__(self, gw: Gateway, info: AssociationInfo, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.gw, self.info = gw, info
        self.c_reader, self.c_writer = reader, writer
        self.u_reader: asyncio.StreamReader | None = None
        self.u_writer: asyncio.StreamWriter | None = None
        limits = gw.config.limits
        guard = limits.max_pdu_length + 1024
        # keep_wire: P-DATA-TF PDUs that fit the other side's maximum are forwarded untouched
        self.client = UpperLayer(Role.ACCEPTOR, max_pdu_receive=limits.max_pdu_length, pdu_length_guard=guard,
                                 keep_wire=True)
        self.up = UpperLayer(Role.REQUESTOR, max_pdu_receive=limits.max_pdu_length, pdu_length_guard=guard,
                             keep_wire=True)
        self.established = False
        self.closing = False
        self.how = "closed"
        self.c_mode = DataMode.NONE
        self.u_mode = DataMode.NONE
        self.store: Pending | None = None
        self.spool: HeldDataSet | None = None
        self.c_forward: Pending | None = None  # request whose identifier is being forwarded
        self.u_forward: Pending | None = None  # C-GET sub-operation C-STORE coming from the upstream
        self.pending: dict[int, Pending] = {}  # by message id, client requests relayed upstream
        self.get_stores: dict[int, Pending] = {}  # by message id, upstream C-STOREs relayed to the client
        # data-set fragments relayed as they come are queued and sent once per read (one syscall, not one per PDU)
        self._u_buf: list[bytes] = []
        self._c_buf: list[bytes] = []
        #: a relayed command whose data set has not started is held in _u_buf: it goes with its first
        #: fragment (one send, one wake-up of the upstream, instead of two)
        self._u_hold = False
        #: a C-STORE relayed as it came whose identifiers are still to be read (off the response's path)
        self._identify: Pending | None = None
        self._last_activity = 0.0
        self._loop = asyncio.get_running_loop()
        self._watchdog: asyncio.TimerHandle | None = None
        # protocol-callback read path: a pump parked in read() lets the transport's callback serve the
        # chunk (_client_direct/_upstream_direct); what had to wait is finished by the pump (streams.Resume)
        self._c_parked = self._u_parked = False
        self._c_resume: streams.Resume | None = None
        self._u_resume: streams.Resume | None = None
        #: called once when the A-ASSOCIATE phase is over (accepted or not): the server's flood accounting
        self.on_established: Callable[[], None] | None = None

    # ------------------------------------------------------------------ helpers

    def _own_max(self, other_side: int | None = None) -> int:
        """The Maximum Length Received the gateway announces to one side: ``[limits] max_pdu_length``,
        lowered to the other side's own maximum (``other_side``; 0 or None = unlimited), so that P-DATA-TF
        PDUs fit the other side as they are and are forwarded untouched (PS3.8 Annex D.1)."""
        limit: int = self.gw.config.limits.max_pdu_length
        return min(limit, other_side) if other_side else limit

    async def _read(self, reader: asyncio.StreamReader, timeout: float) -> bytes:
        """Read with a deadline: b"" on EOF, error or timeout. A :class:`streams.ChunkReader` is woken
        by a timer (no task per read, unlike :func:`asyncio.wait_for`)."""
        if not isinstance(reader, streams.ChunkReader):
            try:
                return await asyncio.wait_for(reader.read(READ_SIZE), timeout)
            except (TimeoutError, ConnectionError, OSError):
                return b""
        timer = self._loop.call_later(timeout, reader.kick)
        try:
            return await reader.read(READ_SIZE)
        except (ConnectionError, OSError):
            return b""
        finally:
            timer.cancel()

    async def _read_active(self, reader: asyncio.StreamReader) -> bytes:
        """Read during the association: b"" on EOF or error. Idleness is the watchdog's job
        (:meth:`_watch_idle`, one timer per association instead of one per read)."""
        if self.closing:
            return b""
        try:
            data = await reader.read(READ_SIZE)
        except (ConnectionError, OSError):
            return b""
        self._last_activity = self._loop.time()
        return data

    def _watch_idle(self) -> None:
        """Abort once neither side has sent anything for ``idle_timeout`` seconds (a long C-MOVE
        keeps the client quiet while the upstream talks); otherwise check again when it could be due."""
        if self.closing:
            return
        idle = self.gw.config.limits.idle_timeout
        quiet = self._loop.time() - self._last_activity
        if quiet >= idle:
            self.abort("idle timeout")
            return
        self._watchdog = self._loop.call_later(idle - quiet, self._watch_idle)

    async def _write(self, writer: asyncio.StreamWriter | None, *chunks: bytes) -> None:
        """Send ``chunks`` after any data-set fragments queued for the same side, then drain."""
        if writer is None or writer.is_closing():
            return
        queued = self._u_buf if writer is self.u_writer else self._c_buf if writer is self.c_writer else None
        if queued:
            chunks = (*queued, *chunks)
            queued.clear()
        if chunks:
            writer.write(b"".join(chunks) if len(chunks) > 1 else chunks[0])
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()

    @staticmethod
    def _command_pdus(ev: CommandReceived, ul: UpperLayer) -> list[bytes]:
        """A relayed command set for the side of ``ul``: its PDU untouched when it fits that side's
        Maximum Length Received, else re-fragmented (PS3.8 Annex D.1)."""
        limit = ul.peer_max_pdu or 0
        if ev.wire is not None and (not limit or len(ev.wire) - 6 <= limit):
            return [ev.wire]
        return fragment(ev.context_id, ev.raw, None, limit)

    @staticmethod
    def _data_pdus(ev: DataChunk, ul: UpperLayer) -> list[bytes]:
        """A relayed data-set fragment for the side of ``ul``: untouched when it fits, else re-cut."""
        limit = ul.peer_max_pdu or 0
        if ev.wire is not None and (not limit or len(ev.wire) - 6 <= limit):
            return [ev.wire]
        return pdvs(ev.context_id, ev.data, ev.last, limit)

    def _ts(self, context_id: int) -> str:
        return (self.client.contexts.get(context_id, (None, None))[1]) or "1.2.840.10008.1.2"

    def abort(self, reason: str, *, provider: bool = False) -> None:
        """A-ABORT both sides now and close (containment, violations, shutdown)."""
        if self.closing:
            return
        self.closing = True
        self.how = reason
        pdu = Abort(AbortSource.SERVICE_PROVIDER, AbortReason.NOT_SPECIFIED) if provider else Abort()
        for ul, writer in ((self.client, self.c_writer), (self.up, self.u_writer)):
            if writer is None or writer.is_closing():
                continue
            try:
                writer.write(ul.send(pdu))
            except Exception:
                log.debug("abort: could not send A-ABORT", exc_info=True)
            writer.close()

    def _direct(self, on: bool) -> None:
        """Let the transports' callbacks serve received chunks (protocol-callback read path) or stop."""
        for reader, take in ((self.c_reader, self._client_direct), (self.u_reader, self._upstream_direct)):
            if isinstance(reader, streams.ChunkReader):
                reader.direct = take if on else None

    # ------------------------------------------------------------------ run

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

    # ------------------------------------------------------------------ client -> upstream

    async def _client_pump(self) -> None:
        """Serve what the client sends: chunks taken in the transport's callback (:meth:`_client_direct`)
        and finished here if they had to wait, and the chunks queued meanwhile."""
        while not self.closing:
            self._c_parked = True
            data = await self._read_active(self.c_reader)
            self._c_parked = False
            resume, self._c_resume = self._c_resume, None
            if resume is not None:
                await resume
                if self.closing:
                    return
            if not data:
                if self.closing:
                    return
                if resume is None or self.c_reader.at_eof() or self.c_reader.exception() is not None:
                    self.abort("client closed the connection")
                    return
                continue
            await self._client_chunk(data)

    async def _client_chunk(self, data: bytes) -> None:
        for ev in self.client.receive(data):
            await self._on_client(ev)
            if self.closing:
                return
        if self._u_buf and not self._u_hold:
            await self._write(self.u_writer)
        if self._identify is not None:  # the upstream has the data set: read its identifiers meanwhile
            self._note_identifiers(self._identify)
            self._identify = None

    def _client_direct(self, data: bytes) -> bool:
        """A client chunk in the transport's callback: served right here while the client pump is idle."""
        if not self._c_parked or self._c_resume is not None or self.closing or self.gw.negotiating:
            return False
        self._last_activity = self._loop.time()
        resume = self._drive(self._client_chunk(data))
        if resume is not None:
            self._c_resume = resume
            self.c_reader.kick()  # type: ignore[attr-defined]
        return True

    def _drive(self, coro: Coroutine[Any, Any, None]) -> streams.Resume | None:
        """Run ``coro`` until it first waits; None if it finished, else what finishes it in a task.
        An error aborts the association, as it would in the pump (:meth:`run`)."""
        try:
            yielded = coro.send(None)
        except StopIteration:
            return None
        except Exception as exc:
            log.error("association %s: internal error %s: %s", self.info.label, type(exc).__name__, exc)
            self.abort("internal error", provider=True)
            return None
        return streams.Resume(coro, yielded)

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

    async def _to_client(self, ctx: int, command: bytes) -> None:
        await self._write(self.c_writer, *fragment(ctx, command, None, self.client.peer_max_pdu or 0))

    # ------------------------------------------------------------------ upstream -> client

    async def _upstream_pump(self) -> None:
        """Serve what the upstream sends, like :meth:`_client_pump`."""
        assert self.u_reader is not None
        while not self.closing:
            self._u_parked = True
            data = await self._read_active(self.u_reader)
            self._u_parked = False
            resume, self._u_resume = self._u_resume, None
            if resume is not None:
                await resume
                if self.closing:
                    return
            if not data:
                if self.closing:
                    return
                if resume is None or self.u_reader.at_eof() or self.u_reader.exception() is not None:
                    how = f"{self.info.target_ae} closed the connection"
                    log.warning("association %s: %s", self.info.label, how)
                    self.abort(how)
                    return
                continue
            await self._upstream_chunk(data)

    async def _upstream_chunk(self, data: bytes) -> None:
        for ev in self.up.receive(data):
            await self._on_upstream(ev)
            if self.closing:
                return
        if self._c_buf:
            await self._write(self.c_writer)

    def _upstream_direct(self, data: bytes) -> bool:
        """An upstream chunk in the transport's callback, like :meth:`_client_direct`."""
        if not self._u_parked or self._u_resume is not None or self.closing or self.gw.negotiating:
            return False
        self._last_activity = self._loop.time()
        resume = self._drive(self._upstream_chunk(data))
        if resume is not None:
            self._u_resume = resume
            assert self.u_reader is not None
            self.u_reader.kick()  # type: ignore[attr-defined]
        return True

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

    def _note_identifiers(self, p: Pending) -> None:
        """Read the audit identifiers of a relayed data set from its captured prefix (once)."""
        if p.captured:
            p.patient_id, p.study_uid = identifiers(bytes(p.captured), self._ts(p.context_id))
            p.captured = bytearray()

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

    def _finish(self) -> None:
        self.closing = True
        for w in (self.c_writer, self.u_writer):
            if w is not None and not w.is_closing():
                w.close()
