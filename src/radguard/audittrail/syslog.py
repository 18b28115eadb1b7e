"""RFC 5424 syslog messages and their transports: UDP (RFC 5426), TCP (RFC 6587), TLS (RFC 5425).

The audit message is the MSG part, UTF-8 with a BOM (RFC 5424 §6.4), as IHE ATNA (ITI-20) expects:
facility 10 (security/authorization), severity 5 (notice), MSGID ``IHE+RFC-3881``.
Stream transports use octet-counting framing, ``MSG-LEN SP SYSLOG-MSG`` (RFC 5425 §4.3, RFC 6587 §3.4.1).
Senders are blocking and raise :class:`OSError` when the collector cannot take the message; the
caller (:class:`radguard.audittrail.trail.AuditTrail`) spools and retries.
"""

from __future__ import annotations

import enum
import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from radguard.errors import ConfigError

BOM = b"\xef\xbb\xbf"
#: RFC 5424 §6.1: UDP payloads above this may be truncated by receivers; we refuse to fragment.
MAX_UDP_PAYLOAD = 65_000


class Facility(enum.IntEnum):
    """RFC 5424 §6.2.1 facilities radguard uses."""

    AUTH = 4
    AUTHPRIV = 10


class SyslogSeverity(enum.IntEnum):
    """RFC 5424 §6.2.1 severities."""

    ALERT = 1
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6


class Transport(enum.StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


def _header_field(value: str, limit: int) -> str:
    """PRINTUSASCII without spaces (RFC 5424 §6), truncated; ``-`` when empty."""
    cleaned = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return cleaned or "-"


def format_message(
    msg: bytes, *, hostname: str, app_name: str = "radguard", procid: str | None = None,
    msgid: str = "IHE+RFC-3881", facility: Facility = Facility.AUTHPRIV,
    severity: SyslogSeverity = SyslogSeverity.NOTICE, time: datetime | None = None,
) -> bytes:
    """One RFC 5424 SYSLOG-MSG (§6): ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BOM MSG``."""
    ts = (time or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    pri = int(facility) * 8 + int(severity)
    host, app = _header_field(hostname, 255), _header_field(app_name, 48)
    proc, mid = _header_field(procid or str(os.getpid()), 128), _header_field(msgid, 32)
    header = f"<{pri}>1 {ts} {host} {app} {proc} {mid} -"
    return header.encode("ascii") + b" " + BOM + msg


def frame_octet_counting(message: bytes) -> bytes:
    """RFC 6587 §3.4.1 / RFC 5425 §4.3 framing: ``MSG-LEN SP SYSLOG-MSG``."""
    return str(len(message)).encode("ascii") + b" " + message


class Sender(Protocol):
    """Delivers one formatted syslog message or raises OSError."""

    def send(self, message: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SyslogTarget:
    """Where audit messages go: parsed from ``udp://host:port`` / ``tcp://`` / ``tls://``."""

    transport: Transport
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> SyslogTarget:
        try:
            parts = urlsplit(url)
        except ValueError:  # a bracketed host that is no IPv6 address, an unmatched bracket
            raise ConfigError(f"[audit] syslog: not a URL: {url!r}") from None
        try:
            transport = Transport(parts.scheme.lower())
        except ValueError:
            raise ConfigError(f"[audit] syslog: unknown scheme in {url!r} (use udp://, tcp:// or tls://)") from None
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise ConfigError(f"[audit] syslog: expected {transport}://HOST:PORT, got {url!r}")
        return cls(transport=transport, host=parts.hostname, port=port)


class UdpSender:
    """RFC 5426: one message per datagram. Delivery is unconfirmed (only local errors are seen)."""

    def __init__(self, host: str, port: int) -> None:
        self._addr = (host, port)
        self._sock: socket.socket | None = None

    def send(self, message: bytes) -> None:
        if len(message) > MAX_UDP_PAYLOAD:
            raise OSError(f"syslog message of {len(message)} bytes is too large for UDP")
        if self._sock is None:
            family = socket.AF_INET6 if ":" in self._addr[0] else socket.AF_INET
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
            self._sock.connect(self._addr)
        try:
            self._sock.send(message)
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class StreamSender:
    """RFC 6587 (TCP) or RFC 5425 (TLS) sender with octet-counting framing; reconnects on demand."""

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None = None, timeout: float = 5.0) -> None:
        self._host, self._port, self._tls, self._timeout = host, port, tls, timeout
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self._host, self._port), timeout=self._timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self._host)
        return sock

    def send(self, message: bytes) -> None:
        if self._sock is None:
            self._sock = self._connect()
        try:
            self._sock.sendall(frame_octet_counting(message))
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


def tls_context(ca: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    """Client context for RFC 5425: verify the collector (``ca``), optional client certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca) if ca else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key) if key else None)
    return ctx


def make_sender(target: SyslogTarget, *, ca: Path | None = None, cert: Path | None = None,
                key: Path | None = None) -> Sender:
    """The sender for ``target``."""
    if target.transport is Transport.UDP:
        return UdpSender(target.host, target.port)
    if target.transport is Transport.TCP:
        return StreamSender(target.host, target.port)
    return StreamSender(target.host, target.port, tls=tls_context(ca, cert, key))
