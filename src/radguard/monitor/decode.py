"""Link, IP and TCP header decoding for captured frames (RFC 791, RFC 8200, RFC 9293).

Link types (https://www.tcpdump.org/linktypes.html): Ethernet (with 802.1Q/802.1ad tags),
BSD loopback NULL and LOOP, raw IP, IPv4, IPv6, Linux cooked SLL and SLL2. Anything else,
IP fragments and non-TCP traffic decode to None.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass


class LinkType(enum.IntEnum):
    """Link-layer header types radguard decodes."""

    NULL = 0
    ETHERNET = 1
    RAW_BSD = 12
    RAW_OPENBSD = 14
    RAW = 101
    LOOP = 108
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276


class TCPFlag(enum.IntFlag):
    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10


@dataclass(slots=True)
class Segment:
    """A TCP segment: addresses as text, ports, sequence/ack numbers, flags, payload."""

    ts: float
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes


_ETH_IPV4, _ETH_IPV6, _ETH_VLAN, _ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8
_IPV6_EXTENSIONS = frozenset({0, 43, 60})
_NULL_IPV6 = frozenset({24, 28, 30})
_addr_cache: dict[bytes, str] = {}
# the link types as plain ints: an enum member costs a descriptor call per frame
_ETHERNET, _NULL, _LINUX_SLL, _LINUX_SLL2 = (int(t) for t in (LinkType.ETHERNET, LinkType.NULL, LinkType.LINUX_SLL,
                                                               LinkType.LINUX_SLL2))
_NULL_LOOP = frozenset({int(LinkType.NULL), int(LinkType.LOOP)})
_RAW_IP = frozenset(int(t) for t in (LinkType.RAW, LinkType.RAW_BSD, LinkType.RAW_OPENBSD, LinkType.IPV4,
                                     LinkType.IPV6))
#: IPv4 header (RFC 791): version/IHL, total length, flags/fragment offset, protocol, source, destination
_IPV4_HEADER = struct.Struct(">BxHxxHxBxx4s4s")
_TCP_HEADER = struct.Struct(">HHLLH")


def _addr(raw: bytes) -> str:
    text = _addr_cache.get(raw)
    if text is None:
        text = str(ipaddress.ip_address(raw))
        if len(_addr_cache) < 65536:
            _addr_cache[raw] = text
    return text


def _network(linktype: int, data: bytes) -> tuple[int, int] | None:
    """(ethertype-like protocol, offset of the network header) for a frame."""
    if linktype == _ETHERNET:
        if len(data) < 14:
            return None
        pos, proto = 14, (data[12] << 8) | data[13]
        while proto in (_ETH_VLAN, _ETH_QINQ) and len(data) >= pos + 4:
            proto = (data[pos + 2] << 8) | data[pos + 3]
            pos += 4
        return proto, pos
    if linktype in _NULL_LOOP:
        if len(data) < 4:
            return None
        family = struct.unpack_from("<L" if linktype == _NULL and data[0] else ">L", data)[0]
        if family == 2:
            return _ETH_IPV4, 4
        return (_ETH_IPV6, 4) if family in _NULL_IPV6 else None
    if linktype in _RAW_IP:
        if not data:
            return None
        return (_ETH_IPV4 if data[0] >> 4 == 4 else _ETH_IPV6), 0
    if linktype == _LINUX_SLL:
        return ((data[14] << 8) | data[15], 16) if len(data) >= 16 else None
    if linktype == _LINUX_SLL2:
        return ((data[0] << 8) | data[1], 20) if len(data) >= 20 else None
    return None


def decode_segment(ts: float, linktype: int, data: bytes) -> Segment | None:
    """Decode a frame to a TCP segment, or None (not TCP/IP, an IP fragment, truncated headers)."""
    net = _network(linktype, data)
    if net is None:
        return None
    proto, pos = net
    if proto == _ETH_IPV4:
        if len(data) < pos + 20:
            return None
        version_ihl, total, frag, ip_proto, raw_src, raw_dst = _IPV4_HEADER.unpack_from(data, pos)
        ihl = (version_ihl & 0x0F) * 4
        # not IPv4, a fragment (MF flag or fragment offset), not TCP, a header length below the minimum
        if version_ihl >> 4 != 4 or frag & 0x3FFF or ip_proto != 6 or ihl < 20:
            return None
        src, dst = _addr_cache.get(raw_src) or _addr(raw_src), _addr_cache.get(raw_dst) or _addr(raw_dst)
        end = pos + total if total else len(data)  # TSO captures may carry total length 0
        pos += ihl
    elif proto == _ETH_IPV6:
        if len(data) < pos + 40 or data[pos] >> 4 != 6:
            return None
        next_header = data[pos + 6]
        end = pos + 40 + ((data[pos + 4] << 8) | data[pos + 5])
        src, dst = _addr(data[pos + 8:pos + 24]), _addr(data[pos + 24:pos + 40])
        pos += 40
        while next_header in _IPV6_EXTENSIONS and len(data) >= pos + 8:
            next_header = data[pos]
            pos += (data[pos + 1] + 1) * 8
        if next_header != 6:
            return None
    else:
        return None
    if len(data) < pos + 20:
        return None
    sport, dport, seq, ack, off_flags = _TCP_HEADER.unpack_from(data, pos)
    header = (off_flags >> 12) * 4
    if header < 20:
        return None
    return Segment(ts, src, sport, dst, dport, seq, ack, off_flags & 0x3F, data[pos + header:min(end, len(data))])
