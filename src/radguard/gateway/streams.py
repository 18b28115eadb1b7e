"""Asyncio streams for the relay that hand received bytes over as they came, without copying them.

:class:`asyncio.StreamReader` appends every received chunk to one ``bytearray`` and copies it out
again on ``read()`` (twice: a slice, then ``bytes()``) and shifts what is left: on a relay carrying
CT images that was a third of the gateway's CPU. :class:`ChunkReader` keeps the chunks the transport
delivered and returns them one at a time. The gateway only ever calls ``read()`` on its readers;
the other StreamReader methods are not supported. Flow control is the StreamReader's: the transport
is paused above twice the limit of buffered bytes and resumed once the relay has caught up.

Protocol-callback read path: a reader can be given a :attr:`ChunkReader.direct` callback, which
is offered each received chunk right in the transport's ``data_received`` while nothing is queued;
when it takes the chunk, no task wakes up for it (one event-loop round trip less per PDU). A chunk
it declines is queued for :meth:`ChunkReader.read` as before, and :meth:`ChunkReader.kick` wakes a
waiting :meth:`ChunkReader.read` without data (it returns b"" early, :meth:`at_eof` tells the two apart).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from typing import Any, SupportsIndex

#: buffered bytes per connection above which reading pauses (x2, like asyncio's streams)
LIMIT = 1024 * 1024


class ChunkReader(asyncio.StreamReader):
    """A StreamReader whose :meth:`read` returns received chunks whole, in order, uncopied."""

    # StreamReader's own state (CPython asyncio/streams.py), used as StreamReader itself uses it
    _paused: bool
    _eof: bool
    _limit: int
    _transport: Any
    _exception: BaseException | None

    def __init__(self, limit: int = LIMIT, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(limit=limit, loop=loop)
        self._chunks: collections.deque[bytes] = collections.deque()
        self._queued = 0
        #: offered each chunk while nothing is queued; returns True when it has taken the chunk
        self.direct: Callable[[bytes], bool] | None = None
        self._kicked = False

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        """Called by the protocol with each received chunk."""
        if not data:
            return
        chunk = data if isinstance(data, bytes) else bytes(data)
        if self.direct is not None and not self._chunks and self.direct(chunk):
            return
        self._chunks.append(chunk)
        self._queued += len(chunk)
        self._wakeup_waiter()  # type: ignore[attr-defined]
        if self._transport is not None and not self._paused and self._queued > 2 * self._limit:
            try:
                self._transport.pause_reading()
            except NotImplementedError:
                pass
            else:
                self._paused = True

    async def read(self, n: int = -1) -> bytes:
        """The next received chunk (whatever its size; ``n`` is ignored), b"" at end of stream."""
        if self._exception is not None:
            raise self._exception
        if not self._chunks and not self._eof and not self._kicked:
            await self._wait_for_data("read")  # type: ignore[attr-defined]
        self._kicked = False
        if not self._chunks:
            return b""
        chunk = self._chunks.popleft()
        self._queued -= len(chunk)
        if self._paused and self._queued <= self._limit:
            self._paused = False
            self._transport.resume_reading()
        return chunk

    def kick(self) -> None:
        """Wake a waiting (or the next) :meth:`read`, which returns b"" if no chunk is queued."""
        self._kicked = True
        self._wakeup_waiter()  # type: ignore[attr-defined]


class Resume:
    """The rest of a coroutine that started in a transport's callback and had to wait: awaiting this in
    a task finishes it there, handing what the coroutine waits on to the task and resuming it after
    (what a task does with a coroutine it runs from the start)."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, None], yielded: Any) -> None:
        self.coro, self.yielded = coro, yielded

    def __await__(self) -> Generator[Any, None, None]:
        coro, yielded = self.coro, self.yielded
        while True:
            try:
                yield yielded
            except BaseException as exc:  # cancellation included: delivered where the coroutine waits
                try:
                    yielded = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    yielded = coro.send(None)
                except StopIteration:
                    return

    def close(self) -> None:
        """Drop it unfinished (the association is over)."""
        self.coro.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _Deferred(asyncio.StreamReaderProtocol):
    """A server connection that reads nothing until its handler says so (:func:`start_tls`)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # before the transport's first read is scheduled
        super().connection_made(transport)


async def start_server(handler: Handler, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None,
                       deferred: bool = False, **kwargs: Any) -> asyncio.Server:
    """:func:`asyncio.start_server` with :class:`ChunkReader` readers (``deferred``: reading paused until the
    handler calls :func:`start_tls`, so that the TLS handshake is the handler's own)."""
    loop = asyncio.get_running_loop()
    protocol = _Deferred if deferred else asyncio.StreamReaderProtocol

    def factory() -> asyncio.StreamReaderProtocol:
        return protocol(ChunkReader(loop=loop), handler, loop=loop)

    return await loop.create_server(factory, host, port, ssl=ssl_context, **kwargs)


async def start_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext,
                    timeout: float) -> None:
    """Server-side TLS handshake on an accepted connection, within ``timeout`` seconds.

    Afterwards the reader's flow control pauses the TLS transport, as with ``start_server(ssl=...)``.
    Raises what the handshake raised (:class:`ssl.SSLError`, :class:`ConnectionError`, ...).
    """
    await writer.start_tls(context, ssl_handshake_timeout=timeout)  # type: ignore[call-arg]
    if writer.get_extra_info("ssl_object") is None:  # closed under the handshake without an error
        raise ConnectionResetError("closed during the TLS handshake")
    if isinstance(reader, ChunkReader):
        reader._transport = writer.transport


async def open_connection(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """:func:`asyncio.open_connection` with a :class:`ChunkReader` reader."""
    loop = asyncio.get_running_loop()
    reader = ChunkReader(loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await loop.create_connection(lambda: protocol, host, port)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


def tune_socket(writer: asyncio.StreamWriter) -> None:
    """TCP_NODELAY on every gateway socket (DIMSE is request/response: Nagle adds ~40 ms stalls)."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
