"""One end of a relayed association as the driver sees it: the same object for the client and the upstream.

A :class:`Side` holds the end's stream reader and writer, its sans-io upper layer (PS3.8 §9.2), the
:class:`~radguard.gateway.pieces.Outbox` of PDUs waiting for the next write, and the state of the
protocol-callback read path (parked in a read, or a chunk's work to finish: :class:`streams.Resume`).
One pump (:meth:`radguard.gateway.relay.Relay._pump`) serves either end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from radguard.dicom.events import Event
from radguard.dicom.pdu import Abort
from radguard.dicom.ul import UpperLayer
from radguard.gateway import streams
from radguard.gateway.commands import Command
from radguard.gateway.pieces import End, Outbox

log = logging.getLogger("radguard.gateway")

#: bytes asked of a reader at a time (a :class:`streams.ChunkReader` returns whole chunks whatever the size)
READ_SIZE = 256 * 1024


def _no_handler(ev: Event) -> Sequence[Command]:
    raise RuntimeError("side without an event handler")


class Side:
    """Reader, writer, upper layer, outbox and read-path state of one end.

    Parameters
    ----------
    end : End
        Which end this is.
    ul : UpperLayer
        The end's sans-io upper layer.
    reader, writer : asyncio streams, optional
        The connection (the upstream's is set once it is open).
    """

    __slots__ = ("end", "handle", "other", "out", "parked", "reader", "resume", "ul", "writer")

    def __init__(self, end: End, ul: UpperLayer, reader: asyncio.StreamReader | None = None,
                 writer: asyncio.StreamWriter | None = None) -> None:
        self.end, self.ul = end, ul
        self.reader, self.writer = reader, writer
        self.out = Outbox()
        #: what the association does with this end's events (returns commands for the driver)
        self.handle: Callable[[Event], Sequence[Command]] = _no_handler
        self.other: Side = self
        #: the pump waits in a read: the transport's callback may serve a chunk right away
        self.parked = False
        #: a chunk served in the callback that had to wait: the pump finishes it, in order
        self.resume: streams.Resume | None = None

    async def write(self, *chunks: bytes) -> None:
        """Send ``chunks`` after what the outbox holds, then drain."""
        writer = self.writer
        if writer is None or writer.is_closing():
            return
        queued = self.out.pdus
        if queued:
            chunks = (*queued, *chunks)
            queued.clear()
        if chunks:
            writer.write(b"".join(chunks) if len(chunks) > 1 else chunks[0])
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()

    def direct(self, take: Callable[[bytes], bool] | None) -> None:
        """Let the transport's callback offer received chunks to ``take`` (None: stop)."""
        if isinstance(self.reader, streams.ChunkReader):
            self.reader.direct = take

    def kick(self) -> None:
        """Wake the pump's read without data (it finishes a :attr:`resume`)."""
        if isinstance(self.reader, streams.ChunkReader):
            self.reader.kick()

    def at_end(self) -> bool:
        """The connection reached EOF or failed."""
        reader = self.reader
        return reader is None or reader.at_eof() or reader.exception() is not None

    def abort(self, pdu: Abort) -> None:
        """Send an A-ABORT and close (PS3.8 §7.3)."""
        writer = self.writer
        if writer is None or writer.is_closing():
            return
        try:
            writer.write(self.ul.send(pdu))
        except Exception:
            log.debug("abort: could not send A-ABORT", exc_info=True)
        writer.close()

    def close(self) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.close()
