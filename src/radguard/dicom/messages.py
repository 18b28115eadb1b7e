"""Whole DIMSE messages from the events of :class:`~radguard.dicom.ul.UpperLayer`: a command and its
data set reassembled from P-DATA fragments (PS3.7 §6.3.1, PS3.8 Annex E.2), for small messages. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from radguard.dicom.dimse import Command
from radguard.dicom.events import CommandReceived, DataChunk, Event
from radguard.errors import ProtocolError


@dataclass
class DimseMessage:
    """A whole DIMSE message: command plus its data set, if any (small messages only)."""

    context_id: int
    command: Command
    dataset: bytes | None
    from_requestor: bool | None = None


class MessageAssembler:
    """Turn CommandReceived + DataChunk* events into :class:`DimseMessage` objects.

    For small messages (queries, echoes, test traffic): data sets above ``max_dataset`` bytes
    raise ProtocolError instead of being held in memory. Each direction is assembled separately.
    """

    def __init__(self, max_dataset: int = 16 * 1024 * 1024) -> None:
        self.max_dataset = max_dataset
        self._pending: dict[bool | None, tuple[CommandReceived, bytearray]] = {}

    def feed(self, event: Event) -> DimseMessage | None:
        """Feed one event; return a message when one is complete, else None (other events: None)."""
        key = event.from_requestor
        if isinstance(event, CommandReceived):
            if event.command.has_dataset:
                self._pending[key] = (event, bytearray())
                return None
            return DimseMessage(event.context_id, event.command, None, key)
        if isinstance(event, DataChunk) and key in self._pending:
            head, buf = self._pending[key]
            buf += event.data
            if len(buf) > self.max_dataset:
                del self._pending[key]
                raise ProtocolError(f"data set larger than {self.max_dataset} bytes")
            if event.last:
                del self._pending[key]
                return DimseMessage(head.context_id, head.command, bytes(buf), key)
        return None
