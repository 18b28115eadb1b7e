"""Small pieces of the relay: data-mode enum, pending-request record, P-DATA re-fragmentation."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from radguard.dicom.dimse import Command
from radguard.dicom.pdu import PDV, PDataTF

#: bytes of a relayed data set (identifier, C-STORE, C-GET sub-operation) kept for the audit trail
CAPTURE_LIMIT = 64 * 1024
#: read size when streaming a held data set from its spool
STREAM_CHUNK = 1024 * 1024


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


def chunks_of(fh: IO[bytes], size: int) -> Iterator[bytes]:
    remaining = size
    while remaining > 0:
        chunk = fh.read(min(STREAM_CHUNK, remaining))
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk
