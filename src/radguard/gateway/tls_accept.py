"""The DICOM TLS handshake done by the gateway's own code, so that every failed one is audited (PS3.15 B.1).

:func:`asyncio.start_server` with ``ssl=`` does the handshake before the gateway sees the connection: garbage,
a cleartext client, a client without a certificate or with an untrusted one left no record. The TLS listener
accepts plain TCP instead (reading paused, :func:`radguard.gateway.streams.start_server` ``deferred``), and
:func:`accept_tls` does what the gateway needs before the handshake and the handshake itself, with the
gateway's own :class:`ssl.SSLContext`, under one deadline (the ARTIM timer, PS3.8 §9.1.5):

1. wait for the first bytes and peek at them (``MSG_PEEK``: the TLS stack still reads them whole). A TLS
   record starts with content type 22, handshake (RFC 8446 §5.1); a PDU type (1 to 7, PS3.8 §9.3.1) is a
   DICOM client without TLS; anything else is no TLS at all. A connection closed without a byte (a health
   check, a port probe) is not hostile, as on the plain port;
2. :meth:`asyncio.StreamWriter.start_tls` with the listener's context: the same SSL protocol, buffers and
   flow control as ``start_server(ssl=...)``, so the relay's throughput over TLS is unchanged;
3. a failure becomes a :class:`Refusal` (a :class:`~radguard.gateway.hostile.Hostility` and the protocol
   facts), which the server tells on the bus (:class:`~radguard.gateway.bus.HostileConnection`): the audit
   addon writes it as a Security Alert 110113 / Node Authentication 110126 folded per source.

The subject of a client certificate that failed verification is taken from the client's Certificate
handshake message as the TLS stack received it (:meth:`HandshakeContext.observe`: the context's message
callback, active during the handshake only); the subject is a node's identity, not PHI. It is cut to
:data:`SUBJECT_MAX` characters and stripped of control characters (the peer chose it).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import socket
import ssl
from dataclasses import dataclass

from radguard.dicom.enums import PDUType
from radguard.gateway import streams
from radguard.gateway.hostile import Hostility

#: TLS record content type of a handshake (RFC 8446 §5.1; also TLS 1.2, RFC 5246 §6.2.1)
TLS_HANDSHAKE_RECORD = 22
#: TLS 1.3 on the wire (RFC 8446 §4.2.1): its Certificate message carries a request context and extensions
TLS13 = 0x0304
#: handshake message type Certificate (RFC 8446 §4, RFC 5246 §7.4)
CERTIFICATE_MESSAGE = 11
#: certificate subjects longer than this are cut in the audit record
SUBJECT_MAX = 256
#: OpenSSL reasons of a failed handshake that mean no common protocol version or cipher suite
MISMATCH_REASONS = frozenset({
    "UNSUPPORTED_PROTOCOL", "WRONG_SSL_VERSION", "NO_PROTOCOLS_AVAILABLE", "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "NO_SHARED_GROUPS", "NO_SUITABLE_SIGNATURE_ALGORITHM",
    "NO_SHARED_SIGNATURE_ALGORITHMS", "INAPPROPRIATE_FALLBACK", "VERSION_TOO_LOW",
})

#: the Certificate messages the client sent during the handshake of the task that set it
_certificates: contextvars.ContextVar[list[tuple[int, bytes]] | None] = contextvars.ContextVar(
    "radguard_tls_certificates", default=None)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a connection to the TLS port did not become a TLS session (``kind`` None: it closed without a byte,
    which is no hostile act)."""

    kind: Hostility | None
    detail: str = ""
    subject: str | None = None


class HandshakeContext:
    """The listener's server context, and a twin made the same way that observes the client's Certificate
    message.

    Each handshake runs with the observing twin; once it is complete the connection is moved to the plain
    context (:meth:`settle`), so that no Python callback runs for the records of the association itself.

    Parameters
    ----------
    context : ssl.SSLContext
        The listener's server context.
    observing : ssl.SSLContext
        Another context made the same way (its message callback is set here).
    """

    def __init__(self, context: ssl.SSLContext, observing: ssl.SSLContext) -> None:
        assert observing is not context
        self.context, self.observing = context, observing
        # CPython's per-message hook (ssl.SSLContext._msg_callback, since 3.8; the only way to see a
        # certificate that failed verification): the handshake's messages only, see settle()
        self.observing._msg_callback = self.observe  # type: ignore[attr-defined]

    @staticmethod
    def observe(conn: object, direction: str, version: int, content_type: int, msg_type: int,
                data: bytes) -> None:
        """Keep the client's Certificate message (RFC 8446 §4.4.2) for the task that is handshaking."""
        if direction == "read" and msg_type == CERTIFICATE_MESSAGE:
            box = _certificates.get()
            if box is not None and not box:
                box.append((int(version), bytes(data[:65536])))

    def settle(self, writer: asyncio.StreamWriter) -> None:
        """Move a connection whose handshake is complete to the plain context."""
        obj = writer.get_extra_info("ssl_object")
        if isinstance(obj, ssl.SSLObject):
            obj.context = self.context


def certificate_subject(message: bytes, version: int) -> str | None:
    """The subject (RFC 4514) of the first certificate of a TLS Certificate handshake message (header
    included), None when the list is empty or the certificate cannot be read."""
    pos = 4  # msg_type(1) length(3)
    if version == TLS13:
        pos += 1 + message[pos] if len(message) > pos else 0  # certificate_request_context<0..255>
    pos += 3  # certificate_list<0..2^24-1>
    if len(message) < pos + 3:
        return None
    length = int.from_bytes(message[pos:pos + 3], "big")
    der = message[pos + 3:pos + 3 + length]
    if not der:
        return None
    try:
        from cryptography import x509

        subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except Exception:  # a certificate we cannot read is no reason to fail the audit
        return None
    return "".join(ch for ch in subject if ch.isprintable())[:SUBJECT_MAX]


async def first_bytes(writer: asyncio.StreamWriter, timeout: float) -> bytes | None:
    """Wait for the connection's first bytes and peek at up to 6 of them (None: none within ``timeout``;
    b"": closed). The transport is paused, so nothing is consumed."""
    raw = writer.get_extra_info("socket")
    if raw is None:
        return b""
    loop = asyncio.get_running_loop()
    # a duplicate descriptor: the transport owns the original, and the loop lets one owner watch an fd
    with socket.socket(fileno=os.dup(raw.fileno())) as sock:
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(sock.fileno(), readable)
        try:
            await asyncio.wait_for(ready, timeout)
        except TimeoutError:
            return None
        finally:
            loop.remove_reader(sock.fileno())
        try:
            return sock.recv(6, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        except OSError:
            return b""


def refusal_of(exc: BaseException, subject: str | None, timeout: float) -> Refusal:
    """The hostile act a failed handshake was (OpenSSL's reason names are protocol facts)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Refusal(Hostility.TLS_UNTRUSTED_CERTIFICATE,
                       f"client certificate not trusted: {exc.verify_message} (mutual TLS, PS3.15 B.1)", subject)
    if isinstance(exc, ssl.SSLError):
        reason = str(exc.reason or type(exc).__name__)
        if reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
            return Refusal(Hostility.TLS_NO_CERTIFICATE, "no client certificate (mutual TLS, PS3.15 B.1)")
        if reason in MISMATCH_REASONS:
            return Refusal(Hostility.TLS_MISMATCH, f"TLS handshake failed: {reason} (TLS 1.2+, BCP 195)", subject)
        return Refusal(Hostility.TLS_HANDSHAKE_FAILED, f"TLS handshake failed: {reason}", subject)
    if isinstance(exc, TimeoutError) or "taking longer" in str(exc):
        return Refusal(Hostility.TLS_HANDSHAKE_TIMEOUT, f"no complete TLS handshake within {timeout:g} s "
                       "(ARTIM, PS3.8 §9.1.5)", subject)
    return Refusal(Hostility.TLS_HANDSHAKE_FAILED, f"closed during the TLS handshake ({type(exc).__name__})",
                   subject)


async def accept_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: HandshakeContext,
                     timeout: float) -> Refusal | None:
    """Make a deferred TLS connection a TLS session within ``timeout`` seconds: None when it is one (the
    reader and writer now carry TLS), else why not (the connection is then closed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    head = await first_bytes(writer, timeout)
    if not head or head[0] != TLS_HANDSHAKE_RECORD:
        writer.close()
        if head is None:
            return Refusal(Hostility.TLS_HANDSHAKE_TIMEOUT, f"no TLS handshake within {timeout:g} s "
                           "(ARTIM, PS3.8 §9.1.5)")
        if not head:
            return Refusal(None)
        if head[0] in PDUType._value2member_map_:
            return Refusal(Hostility.CLEARTEXT_ON_TLS, f"a DICOM PDU (type {head[0]}) in clear on the TLS port")
        return Refusal(Hostility.NOT_TLS, "the first bytes are no TLS handshake record")
    box: list[tuple[int, bytes]] = []
    token = _certificates.set(box)  # the transport's callbacks run in a copy of this task's context
    try:
        await streams.start_tls(reader, writer, tls.observing, max(0.1, deadline - loop.time()))
    except (OSError, ssl.SSLError, TimeoutError) as exc:
        writer.close()
        subject = certificate_subject(box[0][1], box[0][0]) if box else None
        return refusal_of(exc, subject, timeout)
    finally:
        _certificates.reset(token)
    tls.settle(writer)
    return None
