"""Service identification by probing, never by port number.

The first bytes radguard sends on an open port are an A-ASSOCIATE-RQ (PS3.8 §9.3.2) — the
start of the DICOM access probe itself, so a DICOM port costs no extra connection. The
reply tells the service:

- an A-ASSOCIATE-AC/RJ or A-ABORT PDU → DICOM in clear text;
- ``HTTP/`` → an HTTP server (it answered the binary request with an error status);
- a TLS record (content type 0x15 alert / 0x16 handshake) → TLS: a fresh connection does a TLS
  handshake and repeats the probe inside (DICOM over TLS, PS3.15 B.9, or HTTPS);
- silence or anything else → one TLS handshake attempt, then one plain HTTP GET.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import os
import socket
import ssl

#: DICOM PDU types a reply may start with (PS3.8 §9.3.1)
_DICOM_FIRST = frozenset({0x02, 0x03, 0x07})
#: ``connect_ex`` results of a non-blocking connect that is under way
IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EINTR})
#: TLS record content types: alert, handshake (RFC 8446 §5.1)
_TLS_FIRST = frozenset({0x15, 0x16})


class ServiceKind(enum.StrEnum):
    """What runs on an open port (the asset ``kind``)."""

    DICOM = "dicom"
    DICOM_TLS = "dicom-tls"
    HTTP = "http"
    HTTPS = "https"
    TLS = "tls"  # TLS endpoint whose inner protocol could not be identified
    UNKNOWN = "unknown"


class PortState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"  # connect timed out / unreachable


class FirstReply(enum.StrEnum):
    """Classification of the first bytes a peer sent back."""

    DICOM = "dicom"
    HTTP = "http"
    TLS = "tls"
    NONE = "none"
    OTHER = "other"


def classify_first_bytes(data: bytes) -> FirstReply:
    """Classify a peer's first reply bytes (see module docstring)."""
    if not data:
        return FirstReply.NONE
    if data.startswith(b"HTTP/"):
        return FirstReply.HTTP
    if data[0] in _TLS_FIRST and (len(data) < 2 or data[1] == 0x03):
        return FirstReply.TLS
    if data[0] in _DICOM_FIRST and (len(data) < 2 or data[1] == 0x00):
        return FirstReply.DICOM
    if data[0] in range(0x01, 0x08) and (len(data) < 2 or data[1] == 0x00):
        return FirstReply.DICOM
    return FirstReply.OTHER


async def open_stream(
    host: str, port: int, timeout: float, ssl_ctx: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect (TCP, optionally TLS) with a deadline; raises OSError / TimeoutError / ssl.SSLError."""
    server_hostname = None
    if ssl_ctx is not None:
        server_hostname = host if not _is_ip(host) else None
    return await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl_ctx, server_hostname=server_hostname, limit=1 << 16),
        timeout,
    )


async def connect_tcp(address: str, port: int, timeout: float) -> socket.socket:
    """A connected non-blocking TCP socket to the IP literal ``address``, within ``timeout`` seconds.

    The cheap first step of a port probe: a refused port (most of a sweep) costs a socket, one
    ``connect`` and one wake-up of the loop, not the stream objects, transport and ``wait_for`` task
    of :func:`open_stream`, nor the address checks of ``loop.sock_connect`` and the timer task of
    ``asyncio.timeout``; :func:`streams` wraps a socket that connected. Raises ConnectionRefusedError,
    OSError, TimeoutError.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        err = sock.connect_ex((address, port))
        if err in IN_PROGRESS and (now := connect_outcome(sock)) is not None:
            err = now
        if err in IN_PROGRESS:
            loop = asyncio.get_running_loop()
            fd = sock.fileno()
            ready: asyncio.Future[bool] = loop.create_future()
            loop.add_writer(fd, _settle, ready, True)
            timer = loop.call_later(timeout, _settle, ready, False)
            try:
                if not await ready:
                    raise TimeoutError("connect timed out")
            finally:
                timer.cancel()
                loop.remove_writer(fd)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))  # the errno's subclass: ConnectionRefusedError, ...
    except BaseException:
        sock.close()
        raise
    return sock


def connect_outcome(sock: socket.socket) -> int | None:
    """How a non-blocking connect that said "in progress" stands now: 0 connected, an errno if it failed,
    None while it is still under way.

    On loopback the handshake (or the RST of a closed port) happens inside ``connect()`` itself, so the
    outcome is known at once and the connect costs no selector registration and no wake-up of the loop;
    over a network this is two cheap syscalls before waiting for the socket to become writable.
    """
    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        return err
    try:
        sock.getpeername()
    except OSError:
        return None
    return 0


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


async def streams(sock: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Streams over a socket from :func:`connect_tcp` (the same buffer limit as :func:`open_stream`)."""
    try:
        return await asyncio.open_connection(sock=sock, limit=1 << 16)
    except BaseException:
        sock.close()
        raise


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
