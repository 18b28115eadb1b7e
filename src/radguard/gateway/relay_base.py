"""Shared state and plumbing of one relayed association (see :mod:`radguard.gateway.relay`).

:class:`RelayBase` holds the two sans-io upper layers (PS3.8 §9.2), the sockets, the per-association
bookkeeping (requests awaiting a response, the held C-STORE, relay modes) and the small pieces every other
layer uses: timed and untimed reads, writes that flush queued fragments first, re-fragmentation of relayed
PDUs to the other side's Maximum Length Received (PS3.8 Annex D.1), A-ABORT, and the driver of the
protocol-callback read path. The layers built on it: :mod:`radguard.gateway.store_path` (C-STORE
hold-inspect-forward), :mod:`radguard.gateway.dispatch` (DIMSE decisions), :mod:`radguard.gateway.pumps`
(reading loops) and :class:`radguard.gateway.relay.Relay` (negotiation and the association's life).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from radguard.dicom.dimse import fragment
from radguard.dicom.enums import AbortReason, AbortSource
from radguard.dicom.events import (
    CommandReceived,
    DataChunk,
)
from radguard.dicom.pdu import Abort
from radguard.dicom.ul import Role, UpperLayer
from radguard.gateway import streams
from radguard.gateway.dataset import identifiers
from radguard.gateway.pieces import DataMode, HeldDataSet, Pending, pdvs
from radguard.gateway.policy import AssociationInfo

if TYPE_CHECKING:
    from radguard.gateway.server import Gateway

log = logging.getLogger("radguard.gateway")

READ_SIZE = 256 * 1024


class RelayBase:
    """State of one association through the gateway and the helpers every relay layer uses."""

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

    async def _to_client(self, ctx: int, command: bytes) -> None:
        await self._write(self.c_writer, *fragment(ctx, command, None, self.client.peer_max_pdu or 0))

    def _note_identifiers(self, p: Pending) -> None:
        """Read the audit identifiers of a relayed data set from its captured prefix (once)."""
        if p.captured:
            p.patient_id, p.study_uid = identifiers(bytes(p.captured), self._ts(p.context_id))
            p.captured = bytearray()

    def _finish(self) -> None:
        self.closing = True
        for w in (self.c_writer, self.u_writer):
            if w is not None and not w.is_closing():
                w.close()
