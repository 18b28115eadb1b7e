"""What a passive observer can see of a TLS session (RFC 8446 §4, RFC 5246 §7.4): the versions
offered and chosen, the cipher suite, the server name, and, up to TLS 1.2, the server
certificate's subject (TLS 1.3 encrypts it)."""

from __future__ import annotations

import struct
from typing import Any

_HANDSHAKE = 0x16
_CLIENT_HELLO, _SERVER_HELLO, _CERTIFICATE = 1, 2, 11
_EXT_SERVER_NAME, _EXT_SUPPORTED_VERSIONS = 0x0000, 0x002B
_VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
#: bytes of each direction kept to look for the handshake
TLS_HEAD = 64 * 1024


def looks_like_tls(data: bytes) -> bool:
    """A TLS handshake record header (content type 22, version 3.x)."""
    return len(data) >= 3 and data[0] == _HANDSHAKE and data[1] == 3 and data[2] <= 4


def _handshakes(data: bytes) -> list[tuple[int, bytes]]:
    """Handshake messages in the cleartext handshake records at the start of ``data``."""
    payload = bytearray()
    pos = 0
    while len(data) - pos >= 5 and data[pos] == _HANDSHAKE:
        length = struct.unpack_from(">H", data, pos + 3)[0]
        payload += data[pos + 5:pos + 5 + length]
        pos += 5 + length
    out: list[tuple[int, bytes]] = []
    pos = 0
    while len(payload) - pos >= 4:
        msg_type = payload[pos]
        length = int.from_bytes(payload[pos + 1:pos + 4], "big")
        out.append((msg_type, bytes(payload[pos + 4:pos + 4 + length])))
        pos += 4 + length
    return out


def _extensions(body: bytes, pos: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    if len(body) < pos + 2:
        return out
    end = min(len(body), pos + 2 + struct.unpack_from(">H", body, pos)[0])
    pos += 2
    while end - pos >= 4:
        ext_type, length = struct.unpack_from(">HH", body, pos)
        out[ext_type] = body[pos + 4:pos + 4 + length]
        pos += 4 + length
    return out


def _client_hello(body: bytes, info: dict[str, Any]) -> None:
    try:
        pos = 2 + 32
        pos += 1 + body[pos]
        pos += 2 + struct.unpack_from(">H", body, pos)[0]
        pos += 1 + body[pos]
    except (IndexError, struct.error):
        return
    ext = _extensions(body, pos)
    sni = ext.get(_EXT_SERVER_NAME)
    if sni and len(sni) > 5:
        info["server_name"] = sni[5:5 + struct.unpack_from(">H", sni, 3)[0]].decode("latin-1")
    versions = ext.get(_EXT_SUPPORTED_VERSIONS)
    if versions:
        offered = [struct.unpack_from(">H", versions, i)[0] for i in range(1, 1 + versions[0] - 1, 2)]
        info["offered_versions"] = [_VERSIONS[v] for v in offered if v in _VERSIONS]
    elif len(body) >= 2:
        info["offered_versions"] = [_VERSIONS.get(struct.unpack_from(">H", body)[0], "unknown")]


def _server_hello(body: bytes, info: dict[str, Any]) -> None:
    try:
        version = struct.unpack_from(">H", body)[0]
        pos = 2 + 32
        pos += 1 + body[pos]
        info["cipher_suite"] = f"0x{struct.unpack_from('>H', body, pos)[0]:04X}"
        pos += 3
    except (IndexError, struct.error):
        return
    chosen = _extensions(body, pos).get(_EXT_SUPPORTED_VERSIONS)
    if chosen and len(chosen) == 2:
        version = struct.unpack(">H", chosen)[0]
    info["version"] = _VERSIONS.get(version, f"0x{version:04X}")


def _certificate(body: bytes, info: dict[str, Any]) -> None:
    if len(body) < 6:
        return
    length = int.from_bytes(body[3:6], "big")
    der = body[6:6 + length]
    try:
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        info["certificate_subject"] = cert.subject.rfc4514_string()
        info["certificate_issuer"] = cert.issuer.rfc4514_string()
    except Exception:  # a certificate we cannot parse is a fact, not a crash
        info["certificate_subject"] = None


def inspect(client_head: bytes, server_head: bytes) -> dict[str, Any]:
    """Facts from the first bytes of each direction of a TLS connection."""
    info: dict[str, Any] = {"version": None, "cipher_suite": None, "server_name": None,
                            "certificate_subject": None, "offered_versions": []}
    for msg_type, body in _handshakes(client_head):
        if msg_type == _CLIENT_HELLO:
            _client_hello(body, info)
            break
    for msg_type, body in _handshakes(server_head):
        if msg_type == _SERVER_HELLO:
            _server_hello(body, info)
        elif msg_type == _CERTIFICATE:
            _certificate(body, info)
            break
    return info
