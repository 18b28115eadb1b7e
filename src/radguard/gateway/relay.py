"""One association through the gateway: two :class:`~radguard.gateway.side.Side` objects, one pump, and
the sans-io :class:`~radguard.gateway.association.Association` that decides what their events mean.

The client talks to an ACCEPTOR upper layer, the upstream (PACS, or a peer's storage SCP for C-MOVE
sub-operations) to a REQUESTOR one (PS3.8 §9.2). The A-ASSOCIATE-RQ is relayed with the client's calling
AE, so the upstream's own per-AE permissions still apply. Each side is told a Maximum Length Received of
``[limits] max_pdu_length`` lowered to the other side's own maximum (PS3.8 Annex D.1), so P-DATA-TF PDUs
are forwarded untouched (re-cut only if a peer's PDU does not fit), and a PDU larger than what the gateway
announced is a violation whatever the other side accepts.

The relay is the driver: it reads both ends (the same pump for each), feeds the events to the
association and carries out the commands it returns: writes, events on the bus, the ``on_store`` hooks
(inline up to :data:`INSPECT_INLINE`, else in the executor), quarantine, abort. It receives a narrow
:class:`~radguard.gateway.services.Services` object, never the server.

Protocol-callback read path: while a pump is parked in its read, the transport's callback serves a chunk
right away (:meth:`Relay._take`); what had to wait is finished by the pump (:class:`streams.Resume`), in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from radguard.dicom import events
from radguard.dicom.enums import AbortReason, AbortSource
from radguard.dicom.pdu import Abort, AssociateRequest
from radguard.dicom.ul import Role, UpperLayer
from radguard.gateway import bus, streams
from radguard.gateway import commands as do
from radguard.gateway.association import SPOOL_IN_MEMORY, Association
from radguard.gateway.hostile import Hostility, classify
from radguard.gateway.pieces import End
from radguard.gateway.policy import REJECT_CONGESTION, AssociationInfo, StoreData
from radguard.gateway.services import Services
from radguard.gateway.side import READ_SIZE, Side

log = logging.getLogger("radguard.gateway")

__all__ = ["ARTIM_SECONDS", "INSPECT_INLINE", "READ_SIZE", "SPOOL_IN_MEMORY", "WRITE_BATCH", "Relay"]

#: A-ASSOCIATE-RQ must arrive within this many seconds of the connection (ARTIM, PS3.8 §9.1.5)
ARTIM_SECONDS = 30.0
#: first bytes of a connection kept to tell what a violation before association was (a PDU header)
HEAD = 6
#: C-STORE data sets up to this size are inspected on the event loop (~0.2 ms for a 0.5 MB CT image),
#: larger ones in the executor so that other associations keep moving
INSPECT_INLINE = 1024 * 1024
#: a held data set is sent upstream in writes of about this many bytes
WRITE_BATCH = 256 * 1024


class Relay:
    """Relay one association between a client connection and its target, under the gateway's policy."""

    def __init__(self, services: Services, info: AssociationInfo, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.services, self.info = services, info
        limits = services.config().limits
        self._guard = guard = limits.max_pdu_length + 1024
        # keep_wire: P-DATA-TF PDUs that fit the other side's maximum are forwarded untouched
        client_ul = UpperLayer(Role.ACCEPTOR, max_pdu_receive=limits.max_pdu_length, pdu_length_guard=guard,
                               keep_wire=True)
        up_ul = UpperLayer(Role.REQUESTOR, max_pdu_receive=limits.max_pdu_length, pdu_length_guard=guard,
                           keep_wire=True)
        self.client = Side(End.CLIENT, client_ul, reader, writer)
        self.upstream = Side(End.UPSTREAM, up_ul)
        self.client.other, self.upstream.other = self.upstream, self.client
        self.sides = (self.client, self.upstream)
        self.assoc = Association(info, client_ul, up_ul, (self.client.out, self.upstream.out), services.engine,
                                 services.spool_dir)
        self.client.handle, self.upstream.handle = self.assoc.from_client, self.assoc.from_upstream
        self.bus = services.bus
        self.established = False
        self.closing = False
        self.how = "closed"
        self._last_activity = 0.0
        self._loop = asyncio.get_running_loop()
        self._watchdog: asyncio.TimerHandle | None = None
        #: called once when the A-ASSOCIATE phase is over (accepted or not): the server's flood accounting
        self.on_established: Callable[[], None] | None = None

    # ------------------------------------------------------------------ the association's life

    async def run(self) -> None:
        """Serve the association to its end; never raises."""
        try:
            if await self._associate():
                self.established = True
                self._last_activity = self._loop.time()
                self._watchdog = self._loop.call_later(self.services.config().limits.idle_timeout, self._watch_idle)
                self._direct(True)
                await asyncio.gather(self._pump(self.client), self._pump(self.upstream))
        except Exception as exc:
            log.error("association %s: internal error %s: %s", self.info.label, type(exc).__name__, exc)
            self.abort("internal error", provider=True)
        finally:
            self._direct(False)
            for side in self.sides:
                if side.resume is not None:
                    side.resume.close()
            if self._watchdog is not None:
                self._watchdog.cancel()
            for event in self.assoc.unanswered(self.how):
                self.bus.publish(event)
            self.assoc.close()
            for side in self.sides:
                side.close()
            if self.established:
                self.bus.publish(bus.AssociationClosed(self.info, self.how))

    def abort(self, reason: str, *, provider: bool = False) -> None:
        """A-ABORT both sides now and close (containment, violations, shutdown)."""
        if self.closing:
            return
        self.closing = True
        self.how = reason
        pdu = Abort(AbortSource.SERVICE_PROVIDER, AbortReason.NOT_SPECIFIED) if provider else Abort()
        for side in self.sides:
            side.abort(pdu)

    def _finish(self, how: str) -> None:
        self.how = how
        self.closing = True
        for side in self.sides:
            side.close()

    def _watch_idle(self) -> None:
        """Abort once neither side has sent anything for ``idle_timeout`` seconds (a long C-MOVE
        keeps the client quiet while the upstream talks); otherwise check again when it could be due."""
        if self.closing:
            return
        idle = self.services.config().limits.idle_timeout
        quiet = self._loop.time() - self._last_activity
        if quiet >= idle:
            self.abort("idle timeout")
            return
        self._watchdog = self._loop.call_later(idle - quiet, self._watch_idle)

    # ------------------------------------------------------------------ A-ASSOCIATE

    def _own_max(self, other_side: int | None = None) -> int:
        """The Maximum Length Received the gateway announces to one side: ``[limits] max_pdu_length``,
        lowered to the other side's own maximum (``other_side``; 0 or None = unlimited), so that P-DATA-TF
        PDUs fit the other side as they are and are forwarded untouched (PS3.8 Annex D.1)."""
        limit: int = self.services.config().limits.max_pdu_length
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

    async def _associate(self) -> bool:
        try:
            return await self._negotiate()
        finally:
            if self.on_established is not None:
                self.on_established()
                self.on_established = None

    def _not_associated(self, client: Side, received: int) -> None:
        """The connection ended or timed out before its A-ASSOCIATE-RQ: a hostile act unless it just closed
        without a byte (a health check) or the gateway ended it (shutdown, containment)."""
        host = self.info.client_host
        if self.closing:
            return
        if not client.at_end():
            detail = f"no A-ASSOCIATE-RQ within {ARTIM_SECONDS:g} s (ARTIM, PS3.8 §9.1.5), {received} bytes received"
            kind = Hostility.ARTIM_TIMEOUT
            self.abort("ARTIM timeout", provider=True)
        elif received:
            detail, kind = f"closed after {received} bytes without a whole PDU", Hostility.INCOMPLETE_PDU
        else:
            return
        log.debug("connection from %s: %s", host, detail)
        self.bus.publish(bus.HostileConnection(host, kind, detail))

    async def _negotiate(self) -> bool:
        info, client, upstream, publish = self.info, self.client, self.upstream, self.bus.publish
        limits = self.services.config().limits
        assert client.reader is not None
        rq: AssociateRequest | None = None
        head, received = b"", 0  # what the connection sent so far (hostile acts are told by kind)
        artim = self._loop.time() + ARTIM_SECONDS  # one timer for the whole request: no slowloris byte by byte
        while rq is None:
            data = await self._read(client.reader, max(0.0, artim - self._loop.time()))
            if not data:
                self._not_associated(client, received)
                return False
            if len(head) < HEAD:
                head += data[:HEAD - len(head)]
            received += len(data)
            for ev in client.ul.receive(data):
                if isinstance(ev, events.AssociateRequested):
                    rq = ev.pdu
                elif isinstance(ev, events.ProtocolViolation):
                    publish(bus.ProtocolViolated(info, End.CLIENT, ev.message, negotiating=True))
                    publish(bus.HostileConnection(info.client_host, classify(head, self._guard),
                                                  ev.message))
                    log.debug("connection from %s: %s", info.client_host, ev.message)  # the audit logs, folded
                    self.abort("protocol violation", provider=True)
                    return False
        info.calling_ae, info.called_ae = rq.calling_ae.strip(), rq.called_ae.strip()
        decision = self.services.engine.on_associate(info)
        if not decision.allowed:
            assert decision.reject is not None
            await client.write(client.ul.send(decision.reject))
            log.info("association %s rejected: %s", info.label, decision.reason)
            publish(bus.AssociationRejected(info, decision.reason))
            return False
        assert info.target is not None
        try:
            u_reader, u_writer = await asyncio.wait_for(streams.open_connection(*info.target), limits.connect_timeout)
            streams.tune_socket(u_writer)
            upstream.reader, upstream.writer = u_reader, u_writer
        except (OSError, TimeoutError) as exc:
            await client.write(client.ul.send(REJECT_CONGESTION))
            log.warning("association %s: upstream %s:%d unavailable (%s)", info.label, *info.target,
                        type(exc).__name__)
            publish(bus.AssociationRejected(info, f"upstream {info.target_ae} unavailable", unavailable=True))
            return False
        # each side gets the gateway's own receive maximum; fragments are re-cut to the other side's maximum
        up_rq = dataclasses.replace(rq, called_ae=info.target_ae, max_pdu_length=self._own_max(rq.max_pdu_length))
        upstream.ul.max_pdu_receive = up_rq.max_pdu_length or 0
        await upstream.write(upstream.ul.send(up_rq))
        while True:
            data = await self._read(u_reader, limits.connect_timeout)
            answer = upstream.ul.receive(data) if data else []
            for ev in answer:
                if isinstance(ev, events.AssociateAccepted):
                    ac = dataclasses.replace(ev.pdu, called_ae=rq.called_ae, calling_ae=rq.calling_ae,
                                             max_pdu_length=self._own_max(ev.pdu.max_pdu_length))
                    client.ul.max_pdu_receive = ac.max_pdu_length or 0
                    await client.write(client.ul.send(ac))
                    publish(bus.AssociationAccepted(info))
                    return True
                if isinstance(ev, events.AssociateRejected):
                    await client.write(client.ul.send(ev.pdu))
                    publish(bus.AssociationRejected(info, f"rejected by {info.target_ae}"))
                    return False
            if not data or any(isinstance(ev, (events.Aborted, events.ProtocolViolation)) for ev in answer):
                await client.write(client.ul.send(REJECT_CONGESTION))
                publish(bus.AssociationRejected(info, f"{info.target_ae} did not answer", unavailable=True))
                return False

    # ------------------------------------------------------------------ the pump (either side)

    def _direct(self, on: bool) -> None:
        """Let the transports' callbacks serve received chunks (protocol-callback read path) or stop."""
        for side in self.sides:
            side.direct(functools.partial(self._take, side) if on else None)

    async def _pump(self, side: Side) -> None:
        """Serve what one side sends: chunks taken in the transport's callback (:meth:`_take`) and
        finished here if they had to wait, and the chunks queued meanwhile."""
        reader = side.reader
        assert reader is not None
        while not self.closing:
            side.parked = True
            try:
                data = await reader.read(READ_SIZE)
            except (ConnectionError, OSError):
                data = b""
            side.parked = False
            self._last_activity = self._loop.time()
            resume, side.resume = side.resume, None
            if resume is not None:
                await resume
                if self.closing:
                    return
            if not data:
                if self.closing:
                    return
                if resume is None or side.at_end():
                    self._closed_by(side)
                    return
                continue
            await self._chunk(side, data)

    def _closed_by(self, side: Side) -> None:
        if side.end is End.CLIENT:
            self.abort("client closed the connection")
            return
        how = f"{self.info.target_ae} closed the connection"
        log.warning("association %s: %s", self.info.label, how)
        self.abort(how)

    async def _chunk(self, side: Side, data: bytes) -> None:
        """Feed one received chunk to the side's upper layer and the association; send what it queued."""
        handle, publish = side.handle, self.bus.publish
        for ev in side.ul.receive(data):
            commands = handle(ev)
            if commands:
                if len(commands) == 1 and type(commands[0]) is do.Publish:  # no await: no coroutine
                    publish(commands[0].event)
                else:
                    await self._execute(commands)
            if self.closing:
                return
        out = side.other.out
        if out.pdus and not out.hold:
            await side.other.write()
        self.assoc.sent()

    def _take(self, side: Side, data: bytes) -> bool:
        """A chunk in the transport's callback: served right here while the side's pump is idle."""
        if not side.parked or side.resume is not None or self.closing or self.services.negotiating():
            return False
        self._last_activity = self._loop.time()
        resume = self._drive(self._chunk(side, data))
        if resume is not None:
            side.resume = resume
            side.kick()
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

    # ------------------------------------------------------------------ carrying out commands

    async def _execute(self, commands: Sequence[do.Command]) -> None:
        """Carry out the association's commands in order."""
        for cmd in commands:
            if isinstance(cmd, do.Publish):
                self.bus.publish(cmd.event)
            elif isinstance(cmd, do.Send):
                await self.sides[cmd.to].write(*cmd.pdus)
            elif isinstance(cmd, do.Continue):
                more = cmd.step()
                if len(more) == 1 and type(more[0]) is do.Publish:
                    self.bus.publish(more[0].event)
                elif more:
                    await self._execute(more)
            elif isinstance(cmd, do.Close):
                if cmd.abort:
                    self.abort(cmd.how, provider=cmd.provider)
                else:
                    self._finish(cmd.how)
            elif isinstance(cmd, do.CheckStore):
                await self._check_store(cmd.store)
            elif isinstance(cmd, do.SendHeld):
                await self._send_held(cmd)
            elif isinstance(cmd, do.Quarantine):
                path = await self._loop.run_in_executor(self.services.executor, self.services.quarantine, cmd.data,
                                                        cmd.sop_instance, cmd.meta)
                log.warning("association %s: data set quarantined to %s (%s)", self.info.label, path, cmd.detail)

    async def _check_store(self, held: do.HeldStore) -> None:
        """Run the ``on_store`` hooks on a complete held data set, then do what the association decides."""
        spool = held.spool
        try:
            data = spool.data()
            store = StoreData(data, held.transfer_syntax, held.target, held.pending.command)
            engine = self.services.engine
            if spool.size <= INSPECT_INLINE:  # a thread hand-off costs more than checking a small data set here
                verdict = engine.on_store(self.info, store)
            else:
                verdict = await self._loop.run_in_executor(self.services.executor, engine.on_store, self.info, store)
            commands = self.assoc.store_checked(held, data, verdict)
            del data, store
            await self._execute(commands)
        finally:
            spool.close()

    async def _send_held(self, cmd: do.SendHeld) -> None:
        """The held data set's command and data PDUs go upstream in batches of :data:`WRITE_BATCH` bytes:
        one send (and one wake-up of the upstream) per batch rather than one per PDU."""
        batch = list(cmd.head)
        queued = 0
        for pdu in cmd.store.spool.pdus(cmd.store.context_id):
            batch.append(pdu)
            queued += len(pdu)
            if queued >= WRITE_BATCH:
                await self.upstream.write(*batch)
                batch, queued = [], 0
        if batch:
            await self.upstream.write(*batch)
