"""The DICOM upper-layer association state machine, sans-io (PS3.8 §9.2, Table 9-10 states Sta1-Sta13).

Bytes go in through :meth:`UpperLayer.receive` and come out as events; PDUs to send go
through :meth:`UpperLayer.send`, which checks the transition and returns the wire bytes.
No sockets, no timers (ARTIM is the owner's job), no policy: a violation is reported as a
:class:`~radguard.dicom.events.ProtocolViolation` event and closes the machine; the owner
decides what to do (a gateway sends an A-ABORT, a passive monitor records an anomaly).

Roles: REQUESTOR and ACCEPTOR are the two ends of PS3.8's state table; OBSERVER sees both
directions of a connection (a capture) and never sends.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from radguard.dicom import events as ev
from radguard.dicom.dimse import Command, decode_command, fragment
from radguard.dicom.enums import PDUType
from radguard.dicom.framing import DEFAULT_PDU_LENGTH_GUARD, OversizedPDU, PDUFramer
from radguard.dicom.pdu import (
    PDU,
    Abort,
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    PDataTF,
    ReleaseRequest,
    ReleaseResponse,
    decode_pdata,
    decode_pdu,
)
from radguard.errors import ProtocolError

_P_DATA_TF = int(PDUType.P_DATA_TF)
#: a command set larger than this is not a command set (PS3.7 group 0000 is a few hundred bytes)
MAX_COMMAND_SET = 64 * 1024


class Role(enum.Enum):
    """Which end of the association this machine plays."""

    REQUESTOR = "requestor"
    ACCEPTOR = "acceptor"
    OBSERVER = "observer"


class State(enum.Enum):
    """Association states of PS3.8 Table 9-10."""

    STA1 = "idle"
    STA2 = "transport open, awaiting A-ASSOCIATE-RQ"
    STA3 = "awaiting local A-ASSOCIATE response"
    STA4 = "awaiting transport open (requestor, nothing sent)"
    STA5 = "awaiting A-ASSOCIATE-AC or -RJ"
    STA6 = "association established"
    STA7 = "awaiting A-RELEASE-RP"
    STA8 = "awaiting local A-RELEASE response"
    STA9 = "release collision requestor: awaiting local A-RELEASE response"
    STA10 = "release collision acceptor: awaiting A-RELEASE-RP"
    STA11 = "release collision requestor: awaiting A-RELEASE-RP"
    STA12 = "release collision acceptor: awaiting local A-RELEASE response"
    STA13 = "awaiting transport close"


@dataclass
class _Stream:
    """Per-sender reassembly state: PDU framing and PDV-to-message assembly (PS3.8 Annex E.2)."""

    framer: PDUFramer
    synced: bool = True
    cmd_buf: bytearray = field(default_factory=bytearray)
    cmd_ctx: int | None = None
    data_ctx: int | None = None
    #: bytes dropped while looking for the first command (mid-stream pick-up)
    skipped: int = 0


class _Violation(Exception):
    pass


_OBSERVER = Role.OBSERVER  # a module global reads faster than the enum member, once per TCP segment
_PDATA_STATES = (State.STA6, State.STA7)  # Sta7: the peer may still send until it answers (AR-6)


class UpperLayer:
    """One association's upper layer, for one role (PS3.8 §9.2).

    Parameters
    ----------
    role
        REQUESTOR, ACCEPTOR, or OBSERVER (passive: both directions fed, nothing sent).
    max_pdu_receive
        The Maximum Length Received this side announces (PS3.8 Annex D.1); a received P-DATA-TF
        body above it is a violation when ``enforce_max_pdu``. 0 = unlimited. An OBSERVER uses the
        lengths the two peers announced instead.
    pdu_length_guard
        Hard limit on any PDU length, applied before buffering (hostile length fields).
    enforce_max_pdu
        Whether P-DATA-TF bodies above the receiver's negotiated maximum are violations.
    mid_stream
        OBSERVER only: the capture starts inside an established association; start in Sta6,
        learn presentation context ids as they appear, skip data until the first command.
    keep_wire
        Give :class:`~radguard.dicom.events.DataChunk` and :class:`~radguard.dicom.events.CommandReceived`
        the whole P-DATA-TF PDU they came in (``wire``) when it held only that one PDV, so that a
        relay can forward it untouched instead of re-encoding it (PS3.8 §9.3.5).
    """

    def __init__(self, role: Role, *, max_pdu_receive: int = 16384,
                 pdu_length_guard: int = DEFAULT_PDU_LENGTH_GUARD, enforce_max_pdu: bool = True,
                 mid_stream: bool = False, keep_wire: bool = False) -> None:
        self.role = role
        self.keep_wire = keep_wire
        self.max_pdu_receive = max_pdu_receive
        self.enforce_max_pdu = enforce_max_pdu
        self.mid_stream = mid_stream and role is Role.OBSERVER
        self.state = {Role.REQUESTOR: State.STA4, Role.ACCEPTOR: State.STA2, Role.OBSERVER: State.STA2}[role]
        if self.mid_stream:
            self.state = State.STA6
        self.closed = False
        self.request: AssociateRequest | None = None
        self.accept: AssociateAccept | None = None
        self.reject: AssociateReject | None = None
        #: accepted presentation contexts: id -> (abstract syntax, transfer syntax); None when not seen
        self.contexts: dict[int, tuple[str | None, str | None]] = {}
        self._streams = {True: _Stream(PDUFramer(pdu_length_guard), synced=not self.mid_stream),
                         False: _Stream(PDUFramer(pdu_length_guard), synced=not self.mid_stream)}
        self._releases_requested = 0
        self._releases_confirmed = 0

    # ------------------------------------------------------------------ properties
    @property
    def peer_max_pdu(self) -> int | None:
        """The peer's Maximum Length Received (0 = unlimited), once the association negotiated it."""
        pdu = self.accept if self.role is Role.REQUESTOR else self.request
        return None if pdu is None else pdu.max_pdu_length

    @property
    def established(self) -> bool:
        return self.state in (State.STA6, State.STA7, State.STA8)

    def skipped_bytes(self, from_requestor: bool) -> int:
        """Bytes an OBSERVER in mid-stream mode dropped before the first command of that direction."""
        return self._streams[from_requestor].skipped

    def discard_partial(self, from_requestor: bool, *, framer_bytes: bool = True) -> None:
        """The owner lost bytes of one direction (a capture gap): forget its partial PDU and message.

        The owner resumes feeding at the next PDU boundary it finds (see
        :func:`~radguard.dicom.framing.plausible_pdu_start`); until the next complete command set, data
        fragments of that direction are skipped (counted in :meth:`skipped_bytes`), not violations.
        """
        stream = self._streams[from_requestor]
        if framer_bytes:
            stream.framer = PDUFramer(stream.framer.max_pdu_length)
        stream.cmd_buf.clear()
        stream.cmd_ctx = stream.data_ctx = None
        stream.synced = False
        self.mid_stream = True

    # ------------------------------------------------------------------ receive
    def receive(self, data: bytes, *, from_requestor: bool | None = None) -> list[ev.Event]:
        """Feed bytes from the peer (or, for an OBSERVER, from the side named by ``from_requestor``)."""
        if self.role is _OBSERVER:
            if from_requestor is None:
                raise ValueError("an OBSERVER needs from_requestor=True/False")
            sender = from_requestor
        else:
            sender = self.role is Role.ACCEPTOR
        events: list[ev.Event] = []
        if self.closed or not data:
            return events
        stream = self._streams[sender]
        offset = stream.framer.offset
        try:
            pdus = stream.framer.feed(data, whole=self.keep_wire)
        except OversizedPDU as exc:
            pdus = exc.complete  # decoded first: the violation is where the oversized PDU starts
            stream.framer = PDUFramer(0)
            framing_error: ProtocolError | None = exc
        else:
            if not pdus:
                return events  # part of a PDU: held by the framer
            framing_error = None
        try:
            header = 0 if self.keep_wire else 6
            for pdu_type, chunk in pdus:
                if self.closed:
                    break
                self._handle(sender, pdu_type, chunk, events)
                offset += header + len(chunk)
            if framing_error is not None and not self.closed:
                raise _Violation(str(framing_error))
        except _Violation as exc:
            self._violate(str(exc), offset, sender, events)
        return events

    def _violate(self, message: str, offset: int, sender: bool, events: list[ev.Event]) -> None:
        events.append(ev.ProtocolViolation(message, offset, from_requestor=sender))
        self.state = State.STA13
        self.closed = True

    def _tag(self, event: ev.UpperLayerEvent, sender: bool) -> ev.UpperLayerEvent:
        event.from_requestor = sender
        return event

    def _handle(self, sender: bool, pdu_type: int, chunk: bytes, events: list[ev.Event]) -> None:
        """One PDU: ``chunk`` is its body, or with ``keep_wire`` the whole PDU, header included."""
        wire: bytes | None = None
        body: bytes | memoryview = chunk
        try:
            if self.keep_wire:
                wire = chunk
                if pdu_type == PDUType.P_DATA_TF:  # the body is read in place, PDV values are copied once
                    body = memoryview(chunk)[6:]
                    pdu: PDU = decode_pdata(body)
                else:
                    body = chunk[6:]
                    pdu = decode_pdu(pdu_type, body)
            elif pdu_type == _P_DATA_TF:
                pdu = decode_pdata(chunk)
            else:
                pdu = decode_pdu(pdu_type, chunk)
        except ProtocolError as exc:
            raise _Violation(str(exc)) from None
        if type(pdu) is PDataTF:  # the common case first (the PDU classes have no subclasses)
            self._pdata(sender, pdu, len(body), wire, events)
            return
        st = self.state
        observer = self.role is Role.OBSERVER
        if isinstance(pdu, Abort):
            events.append(ev.Aborted(pdu, from_requestor=sender))
            self.state, self.closed = State.STA1, True
        elif isinstance(pdu, AssociateRequest):
            if st is not State.STA2 or not sender:
                raise _Violation(f"unexpected A-ASSOCIATE-RQ in state {st.name}")
            self.request = pdu
            self.state = State.STA5 if observer else State.STA3
            events.append(ev.AssociateRequested(pdu, from_requestor=sender))
        elif isinstance(pdu, AssociateAccept):
            if st is not State.STA5 or sender:
                raise _Violation(f"unexpected A-ASSOCIATE-AC in state {st.name}")
            self._accepted(pdu)
            self.state = State.STA6
            events.append(ev.AssociateAccepted(pdu, from_requestor=sender))
        elif isinstance(pdu, AssociateReject):
            if st is not State.STA5 or sender:
                raise _Violation(f"unexpected A-ASSOCIATE-RJ in state {st.name}")
            self.reject = pdu
            self.state, self.closed = State.STA1, True
            events.append(ev.AssociateRejected(pdu, from_requestor=sender))
        elif isinstance(pdu, PDataTF):
            self._pdata(sender, pdu, len(body), wire, events)
        elif isinstance(pdu, ReleaseRequest):
            self._release_rq(sender, events)
        else:
            self._release_rp(sender, events)

    def _accepted(self, pdu: AssociateAccept) -> None:
        self.accept = pdu
        for ctx in pdu.contexts:
            if ctx.accepted:
                proposed = self.request.context(ctx.id) if self.request is not None else None
                abstract = proposed.abstract_syntax if proposed is not None else None
                self.contexts[ctx.id] = (abstract, ctx.transfer_syntaxes[0] if ctx.transfer_syntaxes else None)

    def _receiver_max(self, sender: bool) -> int | None:
        if self.role is not _OBSERVER:
            return self.max_pdu_receive
        pdu = self.accept if sender else self.request
        return None if pdu is None else pdu.max_pdu_length

    def _release_rq(self, sender: bool, events: list[ev.Event]) -> None:
        st = self.state
        if self.role is Role.OBSERVER:
            if st not in (State.STA6, State.STA7):
                raise _Violation(f"unexpected A-RELEASE-RQ in state {st.name}")
            self._releases_requested += 1
            self.state = State.STA7
        elif st is State.STA6:
            self.state = State.STA8
        elif st is State.STA7:  # release collision (PS3.8 §7.2.2)
            self.state = State.STA9 if self.role is Role.REQUESTOR else State.STA10
        else:
            raise _Violation(f"unexpected A-RELEASE-RQ in state {st.name}")
        events.append(ev.ReleaseRequested(from_requestor=sender))

    def _release_rp(self, sender: bool, events: list[ev.Event]) -> None:
        st = self.state
        if self.role is Role.OBSERVER:
            if st is not State.STA7:
                raise _Violation(f"unexpected A-RELEASE-RP in state {st.name}")
            self._releases_confirmed += 1
            if self._releases_confirmed >= self._releases_requested:
                self.state, self.closed = State.STA1, True
        elif st in (State.STA7, State.STA11):
            self.state, self.closed = State.STA1, True
        elif st is State.STA10:
            self.state = State.STA12
        else:
            raise _Violation(f"unexpected A-RELEASE-RP in state {st.name}")
        events.append(ev.ReleaseConfirmed(from_requestor=sender))

    def _pdata(self, sender: bool, pdu: PDataTF, length: int, wire: bytes | None, events: list[ev.Event]) -> None:
        st = self.state
        if st not in _PDATA_STATES:
            raise _Violation(f"unexpected P-DATA-TF in state {st.name}")
        if self.enforce_max_pdu and (limit := self._receiver_max(sender)) and length > limit:
            raise _Violation(f"P-DATA-TF of {length} bytes exceeds the negotiated maximum of {limit}")
        stream = self._streams[sender]
        if len(pdu.pdvs) != 1:
            wire = None  # a relay must split such a PDU: there is no single PDU to forward per event
        for pdv in pdu.pdvs:
            ctx = pdv.context_id
            if ctx not in self.contexts:
                if not self.mid_stream:
                    raise _Violation(f"PDV on presentation context {ctx}, which was not accepted")
                if ctx % 2 == 0:
                    raise _Violation(f"PDV on even presentation context id {ctx}")
                self.contexts[ctx] = (None, None)
            if pdv.is_command:
                self._command_fragment(sender, stream, ctx, pdv.is_last, pdv.data, events, wire)
            elif stream.data_ctx is None:
                if not stream.synced:
                    stream.skipped += len(pdv.data)
                    continue
                raise _Violation(f"data set fragment on context {ctx} without a command that announced one")
            elif ctx != stream.data_ctx:
                raise _Violation(f"data set fragment on context {ctx} while context {stream.data_ctx}'s is open")
            else:
                if pdv.is_last:
                    stream.data_ctx = None
                events.append(ev.DataChunk(ctx, pdv.data, pdv.is_last, wire, from_requestor=sender))

    def _command_fragment(self, sender: bool, stream: _Stream, ctx: int, last: bool, data: bytes,
                          events: list[ev.Event], wire: bytes | None = None) -> None:
        if stream.data_ctx is not None:
            if not stream.synced:
                stream.data_ctx = None
            else:
                raise _Violation(f"command fragment on context {ctx} while a data set is incomplete")
        if stream.cmd_ctx is not None and stream.cmd_ctx != ctx:
            raise _Violation(f"command fragment on context {ctx} interleaved with context {stream.cmd_ctx}'s")
        if stream.cmd_buf:
            wire = None  # the command set spans PDUs: there is no single PDU to forward
        stream.cmd_ctx = ctx
        stream.cmd_buf += data
        if len(stream.cmd_buf) > MAX_COMMAND_SET:
            raise _Violation(f"command set longer than {MAX_COMMAND_SET} bytes")
        if not last:
            return
        raw = bytes(stream.cmd_buf)
        stream.cmd_buf.clear()
        stream.cmd_ctx = None
        try:
            command: Command = decode_command(raw)
        except ProtocolError as exc:
            if not stream.synced:
                stream.skipped += len(raw)
                return
            raise _Violation(str(exc)) from None
        stream.synced = True
        if command.has_dataset:
            stream.data_ctx = ctx
        events.append(ev.CommandReceived(ctx, command, raw, wire, from_requestor=sender))

    # ------------------------------------------------------------------ send
    def send(self, pdu: PDU) -> bytes:
        """Check that sending ``pdu`` is a valid transition (PS3.8 Table 9-10), apply it, return wire bytes.

        Raises ProtocolError when the PDU may not be sent in the current state (a local mistake).
        """
        if self.role is Role.OBSERVER:
            raise ProtocolError("an OBSERVER does not send")
        st = self.state
        requestor = self.role is Role.REQUESTOR
        if isinstance(pdu, Abort):
            self.state, self.closed = State.STA13, True
        elif isinstance(pdu, AssociateRequest) and requestor and st is State.STA4:
            self.request = pdu
            self.state = State.STA5
        elif isinstance(pdu, AssociateAccept) and not requestor and st is State.STA3:
            self._accepted(pdu)
            self.state = State.STA6
        elif isinstance(pdu, AssociateReject) and not requestor and st is State.STA3:
            self.reject = pdu
            self.state, self.closed = State.STA13, True
        elif isinstance(pdu, PDataTF) and st in (State.STA6, State.STA8):
            for pdv in pdu.pdvs:
                if pdv.context_id not in self.contexts:
                    raise ProtocolError(f"presentation context {pdv.context_id} was not accepted")
        elif isinstance(pdu, ReleaseRequest) and st is State.STA6:
            self.state = State.STA7
        elif isinstance(pdu, ReleaseResponse) and st in (State.STA8, State.STA9, State.STA12):
            if st is State.STA9:
                self.state = State.STA11
            else:
                self.state, self.closed = State.STA13, True
        else:
            raise ProtocolError(f"cannot send {PDUType(pdu.encode()[0]).name} in state {st.name} "
                                f"as {self.role.value}")
        return pdu.encode()

    def send_dimse(self, context_id: int, command: Command, dataset: bytes | None = None) -> list[bytes]:
        """P-DATA-TF PDUs for one whole DIMSE message, fragmented to the peer's maximum (PS3.8 Annex E.2).

        Checks the state and presentation context like :meth:`send`; for data sets too large to hold
        in memory, send the command here and stream the rest with :func:`~radguard.dicom.dimse.fragment_stream`.
        """
        if self.role is Role.OBSERVER or self.state not in (State.STA6, State.STA8):
            raise ProtocolError(f"cannot send P-DATA-TF in state {self.state.name} as {self.role.value}")
        if context_id not in self.contexts:
            raise ProtocolError(f"presentation context {context_id} was not accepted")
        return fragment(context_id, command.encode(), dataset, self.peer_max_pdu or 0)
