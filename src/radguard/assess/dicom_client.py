"""A small asyncio DICOM requestor for the scanner, on top of the sans-io :class:`radguard.dicom.ul.UpperLayer`.

This module owns the socket; the protocol lives in :mod:`radguard.dicom`. Every wait has a
deadline (a peer that drips one byte per second cannot stretch an operation past
``timeout``), every association has a cap on the bytes it will read (``max_read``), and
data sets received are counted and dropped unless the caller asks for them (the scanner
never keeps patient data).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass

from radguard.assess.results import DEFAULT_MAX_READ
from radguard.dicom import events as ev
from radguard.dicom import pdu
from radguard.dicom.dimse import Command, encode_command
from radguard.dicom.enums import AbortReason, AbortSource
from radguard.dicom.ul import Role, UpperLayer
from radguard.errors import ProtocolError

#: largest PDU the scanner accepts from a peer (PS3.8 §9.3.1 length field); larger → protocol error
PDU_LENGTH_GUARD = 1 << 20
#: the maximum PDU length radguard announces (PS3.8 Annex D.1)
MAX_PDU_RECEIVE = 65536


class PeerError(Exception):
    """The peer misbehaved or went away; ``kind`` is a stable short label for the JSON error entry."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, kw_only=True, slots=True)
class Response:
    """The final response of a DIMSE request and what came before it."""

    command: Command
    pending: int  # number of pending responses seen (matches for C-FIND)
    data_bytes: int  # bytes of data sets received (and dropped)

    @property
    def status(self) -> int | None:
        return self.command.status


class DicomClient:
    """One association over an already-connected stream (plain TCP or TLS)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        timeout: float,
        max_read: int = DEFAULT_MAX_READ,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self.max_read = max_read
        self.bytes_read = 0
        self.ul = UpperLayer(Role.REQUESTOR, max_pdu_receive=MAX_PDU_RECEIVE, pdu_length_guard=PDU_LENGTH_GUARD)
        self.accept: pdu.AssociateAccept | None = None
        self.peer_max_pdu = 16384
        self._events: deque[ev.Event] = deque()
        self._message_id = 0
        self.first_bytes = b""

    # ------------------------------------------------------------- plumbing
    def _encode(self, message: pdu.PDU) -> bytes:
        try:
            return self.ul.send(message)
        except ProtocolError as exc:
            raise PeerError("protocol-violation", str(exc)) from None

    def _write(self, message: pdu.PDU) -> None:
        self.writer.write(self._encode(message))

    async def _flush(self, deadline: float) -> None:
        try:
            async with asyncio.timeout(max(0.01, deadline - time.monotonic())):  # no task per wait (wait_for)
                await self.writer.drain()
        except TimeoutError:
            raise PeerError("timeout", "peer stopped reading (send timed out)") from None
        except (ConnectionError, OSError) as exc:
            raise PeerError("connection-lost", f"connection lost while sending: {exc.__class__.__name__}") from None

    async def _next_event(self, deadline: float) -> ev.Event:
        while not self._events:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerError("timeout", f"no complete answer within {self.timeout:g}s")
            try:
                async with asyncio.timeout(remaining):
                    data = await self.reader.read(65536)
            except TimeoutError:
                raise PeerError("timeout", f"no complete answer within {self.timeout:g}s") from None
            except (ConnectionError, OSError) as exc:
                raise PeerError("connection-lost", f"connection lost: {exc.__class__.__name__}") from None
            if not data:
                raise PeerError("connection-closed", "peer closed the connection")
            if len(self.first_bytes) < 16:
                self.first_bytes += data[: 16 - len(self.first_bytes)]
            self.bytes_read += len(data)
            if self.bytes_read > self.max_read:
                raise PeerError("read-cap", f"peer sent more than {self.max_read} bytes")
            try:
                self._events.extend(self.ul.receive(data))
            except ProtocolError as exc:
                raise PeerError("protocol-violation", str(exc)) from None
        event = self._events.popleft()
        if isinstance(event, ev.ProtocolViolation):
            raise PeerError("protocol-violation", event.message)
        return event

    def _deadline(self) -> float:
        return time.monotonic() + self.timeout

    # ---------------------------------------------------------- association
    async def associate(self, request: pdu.AssociateRequest) -> pdu.AssociateAccept | pdu.AssociateReject | pdu.Abort:
        """Send A-ASSOCIATE-RQ; return the peer's AC, RJ or A-ABORT (PS3.8 §9.3.2-9.3.4, §9.3.8)."""
        deadline = self._deadline()
        self._write(request)
        await self._flush(deadline)
        event = await self._next_event(deadline)
        if isinstance(event, ev.AssociateAccepted):
            self.accept = event.pdu
            if event.pdu.max_pdu_length:
                self.peer_max_pdu = event.pdu.max_pdu_length
            elif event.pdu.max_pdu_length == 0:
                self.peer_max_pdu = 0
            return event.pdu
        if isinstance(event, ev.AssociateRejected):
            return event.pdu
        if isinstance(event, ev.Aborted):
            return event.pdu
        raise PeerError("protocol-violation", f"unexpected {type(event).__name__} in reply to A-ASSOCIATE-RQ")

    # ----------------------------------------------------------------- DIMSE
    def next_message_id(self) -> int:
        self._message_id = (self._message_id % 0xFFFF) + 1
        return self._message_id

    def _send_message(self, context_id: int, command: Command, dataset: bytes | None) -> None:
        """The command and data set P-DATA-TF PDUs of one message, handed to the socket in one write (one
        segment and one wake-up of the peer where it fits, instead of one per PDU)."""
        size = 16378 if self.peer_max_pdu == 0 else max(64, self.peer_max_pdu - 6)
        out: list[bytes] = []
        for is_command, data in ((True, encode_command(command)), (False, dataset)):
            if data is None:
                continue
            view = memoryview(data)
            pos = 0
            while True:
                chunk = bytes(view[pos : pos + size])
                pos += size
                out.append(self._encode(pdu.PDataTF([pdu.PDV(context_id, is_command, pos >= len(data), chunk)])))
                if pos >= len(data):
                    break
        self.writer.write(b"".join(out))

    async def request(
        self,
        context_id: int,
        command: Command,
        dataset: bytes | None,
        *,
        cancel_after: int | None = None,
    ) -> Response:
        """Send one request; wait for its final (non-pending) response, counting and dropping data sets.

        ``cancel_after``: send C-CANCEL-RQ (PS3.7 §9.3.2.3) once that many pending responses arrived.
        """
        from radguard.dicom.dimse import c_cancel_rq
        from radguard.dicom.enums import StatusCategory

        deadline = self._deadline()
        self._send_message(context_id, command, dataset)
        await self._flush(deadline)
        pending = 0
        data_bytes = 0
        cancelled = False
        while True:
            event = await self._next_event(deadline)
            if isinstance(event, ev.DataChunk):
                data_bytes += len(event.data)
                continue
            if isinstance(event, ev.CommandReceived):
                rsp = event.command
                if rsp.status_category is StatusCategory.PENDING:
                    pending += 1
                    if cancel_after is not None and pending >= cancel_after and not cancelled:
                        cancelled = True
                        msg_id = command.message_id or 0
                        self._send_message(context_id, c_cancel_rq(msg_id), None)
                        await self._flush(deadline)
                    continue
                if rsp.command_field is not None and not rsp.command_field.is_request:
                    return Response(command=rsp, pending=pending, data_bytes=data_bytes)
                # a request from the peer (e.g. C-STORE sub-operation of a C-GET): refuse nothing, just stop
                raise PeerError("unexpected-request", f"peer sent {rsp.command_field!r} during our request")
            if isinstance(event, ev.Aborted):
                raise PeerError("aborted", "peer aborted the association during a request")
            if isinstance(event, ev.ReleaseRequested):
                raise PeerError("released", "peer asked to release during a request")
            raise PeerError("protocol-violation", f"unexpected {type(event).__name__} during a request")

    # ------------------------------------------------------------- teardown
    async def release(self) -> None:
        """A-RELEASE (PS3.8 §7.2); any problem ends in closing the socket."""
        deadline = time.monotonic() + min(self.timeout, 2.0)
        with contextlib.suppress(PeerError):
            self._write(pdu.ReleaseRequest())
            await self._flush(deadline)
            while True:
                event = await self._next_event(deadline)
                if isinstance(event, (ev.ReleaseConfirmed, ev.Aborted)):
                    break

    def abort(self) -> None:
        """Send A-ABORT (best effort) without waiting."""
        with contextlib.suppress(Exception):
            self._write(pdu.Abort(AbortSource.SERVICE_USER, AbortReason.NOT_SPECIFIED))

    async def close(self) -> None:
        """Close the connection; TLS connections are closed hard (no close_notify wait, which some SCPs never
        answer and which would hold the socket for asyncio's 30 s shutdown timeout)."""
        if self.writer.get_extra_info("ssl_object") is not None:
            self.writer.transport.abort()
            return
        self.writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()

