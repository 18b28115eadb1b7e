"""Small pieces of the relay: the two ends, an outbox of PDUs, data-mode enum, pending-request record,
P-DATA re-fragmentation, C-STORE data sets held for inspection. No sockets, no awaits."""

from __future__ import annotations

import enum
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from radguard.dicom.dimse import Command, fragment, fragment_stream
from radguard.dicom.events import CommandReceived, DataChunk
from radguard.dicom.pdu import PDV, PDataTF
from radguard.dicom.ul import UpperLayer

#: bytes of a relayed data set (identifier, C-STORE, C-GET sub-operation) kept for the audit trail
CAPTURE_LIMIT = 64 * 1024
#: read size when streaming a held data set from its spool
STREAM_CHUNK = 1024 * 1024


class End(enum.IntEnum):
    """The two ends of a relayed association: the client (calling AE) and the upstream it is relayed to."""

    CLIENT = 0
    UPSTREAM = 1


class Outbox:
    """PDUs queued for one end, sent together with the next write (one syscall, not one per PDU).

    ``hold``: a relayed command whose data set has not started waits here for its first fragment
    (one send, one wake-up of the receiver, instead of two).
    """

    __slots__ = ("hold", "pdus")

    def __init__(self) -> None:
        self.pdus: list[bytes] = []
        self.hold = False


class DataMode(enum.Enum):
    """What to do with data-set fragments arriving from one side."""

    NONE = "none"
    SPOOL = "spool"
    FORWARD = "forward"
    DISCARD = "discard"


@dataclass
class Pending:
    """A request relayed and awaiting its final response (for the audit trail)."""

    command: Command
    context_id: int
    captured: bytearray = field(default_factory=bytearray)
    patient_id: str = ""
    study_uid: str = ""


def pdvs(context_id: int, data: bytes, last: bool, max_pdu_length: int) -> list[bytes]:
    """One data-set fragment as P-DATA-TF PDUs that fit the receiver's maximum (PS3.8 Annex D.1)."""
    size = (max_pdu_length - 6) if max_pdu_length > 6 else len(data) or 1
    if len(data) <= size:
        return [PDataTF([PDV(context_id, False, last, data)]).encode()]
    view = memoryview(data)
    out = []
    for pos in range(0, len(data), size):
        end = pos + size
        out.append(PDataTF([PDV(context_id, False, last and end >= len(data), bytes(view[pos:end]))]).encode())
    return out


def command_pdus(ev: CommandReceived, ul: UpperLayer) -> list[bytes]:
    """A relayed command set for the side of ``ul``: its PDU untouched when it fits that side's
    Maximum Length Received, else re-fragmented (PS3.8 Annex D.1)."""
    limit = ul.peer_max_pdu or 0
    if ev.wire is not None and (not limit or len(ev.wire) - 6 <= limit):
        return [ev.wire]
    return fragment(ev.context_id, ev.raw, None, limit)


def data_pdus(ev: DataChunk, ul: UpperLayer) -> list[bytes]:
    """A relayed data-set fragment for the side of ``ul``: untouched when it fits, else re-cut."""
    limit = ul.peer_max_pdu or 0
    if ev.wire is not None and (not limit or len(ev.wire) - 6 <= limit):
        return [ev.wire]
    return pdvs(ev.context_id, ev.data, ev.last, limit)


def chunks_of(fh: IO[bytes], size: int) -> Iterator[bytes]:
    remaining = size
    while remaining > 0:
        chunk = fh.read(min(STREAM_CHUNK, remaining))
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk


#: bytes in front of the value of the one PDV of a P-DATA-TF PDU: PDU header (6), PDV length (4),
#: presentation context id (1), message control header (1) (PS3.8 §9.3.5, Annex E.2)
PDV_VALUE_OFFSET = 12


class HeldDataSet:
    """A C-STORE data set held for inspection before it goes upstream.

    In memory up to ``in_memory`` bytes, then in a temporary file in ``spool_dir``. While every
    fragment came in a P-DATA-TF PDU of its own that fits the upstream's maximum (``max_pdu``;
    0 = unlimited), the PDUs are kept as they came, to be forwarded untouched; the data set is then
    read out of them (no second copy). Otherwise the values are kept and re-fragmented on the way out.
    """

    def __init__(self, spool_dir: Path, in_memory: int, max_pdu: int) -> None:
        self.size = 0
        self._spool_dir = spool_dir
        self._in_memory = in_memory
        self._max_pdu = max_pdu
        self._pdus: list[bytes] | None = []
        self._values: list[bytes] = []
        self._file: IO[bytes] | None = None

    def add(self, value: bytes, wire: bytes | None) -> None:
        """One data-set fragment (``wire``: the PDU it came in, when it was the only PDV)."""
        self.size += len(value)
        if self._file is not None:
            self._file.write(value)
            return
        if self._pdus is not None and wire is not None and (not self._max_pdu or len(wire) - 6 <= self._max_pdu):
            self._pdus.append(wire)
        else:
            if self._pdus is not None:
                self._values = [pdu[PDV_VALUE_OFFSET:] for pdu in self._pdus]
                self._pdus = None
            self._values.append(value)
        if self.size > self._in_memory:
            self._file = tempfile.TemporaryFile(dir=str(self._spool_dir))  # noqa: SIM115 - closed in close()
            for chunk in self._chunks():
                self._file.write(chunk)
            self._pdus, self._values = None, []

    def _chunks(self) -> Iterator[bytes | memoryview]:
        if self._pdus is not None:
            return (memoryview(pdu)[PDV_VALUE_OFFSET:] for pdu in self._pdus)
        return iter(self._values)

    def data(self) -> bytes:
        """The whole data set."""
        if self._file is not None:
            self._file.seek(0)
            return self._file.read()
        return b"".join(self._chunks())

    def pdus(self, context_id: int) -> Iterator[bytes]:
        """The data set's P-DATA-TF PDUs for the upstream: as received when possible, else re-cut."""
        if self._pdus is not None:
            return iter(self._pdus)
        if self._file is not None:
            self._file.seek(0)
            return fragment_stream(context_id, chunks_of(self._file, self.size), self._max_pdu)
        return fragment_stream(context_id, iter(self._values), self._max_pdu)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._pdus, self._values = None, []
