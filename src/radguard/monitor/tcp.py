"""TCP stream reassembly for passive analysis (RFC 9293 sequence space, modulo 2**32).

Per direction: in-order delivery, retransmissions and overlaps trimmed, out-of-order
segments held (bounded) until the hole fills; a hole that never fills (capture loss) is
reported as a gap of N bytes and delivery resumes after it. A connection whose SYN was not
captured starts at the first sequence number seen and is marked ``partial``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from radguard.monitor.decode import Segment, TCPFlag

# plain ints: IntFlag arithmetic is slow on the per-packet path
_SYN, _ACK, _FIN, _RST = int(TCPFlag.SYN), int(TCPFlag.ACK), int(TCPFlag.FIN), int(TCPFlag.RST)

#: default bound on out-of-order bytes held per direction before declaring a gap
DEFAULT_MAX_PENDING = 4 * 1024 * 1024
_HALF = 1 << 31
_MOD = 1 << 32


class FlowState(enum.Enum):
    """How far a TCP connection got."""

    SYN_SENT = "syn-sent"  # SYN seen, no answer yet
    REFUSED = "refused"  # SYN answered by RST
    ESTABLISHED = "established"
    CLOSED = "closed"  # FIN/RST seen


@dataclass
class HalfStream:
    """One direction of a TCP connection."""

    next_seq: int | None = None
    delivered: int = 0  # bytes delivered (absolute stream offset of next_seq)
    pending: dict[int, bytes] = field(default_factory=dict)  # absolute offset -> payload
    pending_bytes: int = 0
    gaps: int = 0
    gap_bytes: int = 0
    fin: bool = False
    fin_seq: int | None = None  # sequence number of the FIN: the stream ends once delivery reaches it
    payload_bytes: int = 0  # bytes seen on the wire, retransmissions included


Deliver = Callable[[bool, bytes], None]
Gap = Callable[[bool, int], None]


class Reassembler:
    """Reassemble both directions of one connection, calling ``on_data(from_client, bytes)`` and
    ``on_gap(from_client, n)`` in stream order."""

    def __init__(self, on_data: Deliver, on_gap: Gap, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self.on_data = on_data
        self.on_gap = on_gap
        self.max_pending = max_pending
        self.halves = {True: HalfStream(), False: HalfStream()}

    def add(self, from_client: bool, seg: Segment) -> None:
        flags = seg.flags
        halves = self.halves
        if flags & _ACK and halves[not from_client].pending:  # (nothing held: nothing the ACK could skip)
            self._acked(not from_client, seg.ack)
        half = halves[from_client]
        seq = seg.seq
        if flags & _SYN:
            half.next_seq = (seq + 1) % _MOD
            seq = (seq + 1) % _MOD
        data = seg.payload
        if flags & _FIN:
            half.fin = True
            half.fin_seq = (seq + len(data)) % _MOD
        if not data:
            return
        half.payload_bytes += len(data)
        next_seq = half.next_seq
        if next_seq is None:
            half.next_seq = next_seq = seq
        delta = ((seq - next_seq + _HALF) % _MOD) - _HALF
        if delta < 0:
            if -delta >= len(data):
                return  # retransmission of delivered bytes
            data = data[-delta:]
            delta = 0
        if delta == 0:  # in order, the common case: _deliver inlined
            half.delivered += len(data)
            half.next_seq = (next_seq + len(data)) % _MOD
            self.on_data(from_client, data)
            if half.pending:
                self._drain(from_client, half)
            return
        at = half.delivered + delta
        old = half.pending.get(at)
        if old is None or len(old) < len(data):
            half.pending[at] = data
            half.pending_bytes += len(data) - (len(old) if old else 0)
        if half.pending_bytes > self.max_pending:
            self._skip_to_pending(from_client, half)

    def _acked(self, from_client: bool, ack: int) -> None:
        """The peer acknowledged bytes the capture never showed: they are lost to us, not late (a gap now)."""
        half = self.halves[from_client]
        if half.next_seq is None or not half.pending:
            return
        delta = ((ack - half.next_seq + _HALF) % _MOD) - _HALF
        if delta <= 0:
            return
        first = min(half.pending)
        if first <= half.delivered + delta:
            self._skip_to_pending(from_client, half)
        else:
            half.gaps += 1
            half.gap_bytes += delta
            half.delivered += delta
            half.next_seq = ack % _MOD
            self.on_gap(from_client, delta)

    def _deliver(self, from_client: bool, half: HalfStream, data: bytes) -> None:
        half.delivered += len(data)
        assert half.next_seq is not None
        half.next_seq = (half.next_seq + len(data)) % _MOD
        self.on_data(from_client, data)

    def _drain(self, from_client: bool, half: HalfStream) -> None:
        while half.pending:
            at = min(half.pending)
            if at > half.delivered:
                return
            data = half.pending.pop(at)
            half.pending_bytes -= len(data)
            overlap = half.delivered - at
            if overlap < len(data):
                self._deliver(from_client, half, data[overlap:])

    def _skip_to_pending(self, from_client: bool, half: HalfStream) -> None:
        at = min(half.pending)
        missing = at - half.delivered
        if missing > 0:
            half.gaps += 1
            half.gap_bytes += missing
            half.delivered = at
            assert half.next_seq is not None
            half.next_seq = (half.next_seq + missing) % _MOD
            self.on_gap(from_client, missing)
        self._drain(from_client, half)

    def finished(self, from_client: bool) -> bool:
        """That direction's FIN was seen and every byte before it delivered (a FIN captured before the
        last data segment, as loopback captures sometimes order them, does not end the stream early)."""
        half = self.halves[from_client]
        return half.fin and (half.next_seq is None or half.next_seq == half.fin_seq)

    def flush(self) -> None:
        """End of connection or capture: deliver what is held, reporting the holes as gaps."""
        for from_client in (True, False):
            half = self.halves[from_client]
            while half.pending:
                self._skip_to_pending(from_client, half)
