"""Capture readers (pcap, pcapng with per-interface if_tsresol/if_tsoffset) and link/IP/TCP decoding.

Also home of the frame/file builders the other monitor tests use.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence

import pytest

from radguard.monitor.capture import CaptureError, Frame, read_frames
from radguard.monitor.decode import LinkType, TCPFlag, decode_segment


def ipv4_tcp(src: str, sport: int, dst: str, dport: int, seq: int, flags: int, payload: bytes = b"",
             ack: int = 0) -> bytes:
    tcp = struct.pack(">HHLLBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                     bytes(int(x) for x in src.split(".")), bytes(int(x) for x in dst.split(".")))
    return ip + tcp


def ipv6_tcp(sport: int, dport: int, seq: int, flags: int, payload: bytes = b"") -> bytes:
    tcp = struct.pack(">HHLLBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    src, dst = bytes(15) + b"\x01", bytes(15) + b"\x02"
    return struct.pack(">LHBB", 6 << 28, len(tcp), 6, 64) + src + dst + tcp


def link(linktype: int, packet: bytes) -> bytes:
    """Wrap an IP packet in the given link-layer header."""
    v6 = packet[0] >> 4 == 6
    ethertype = 0x86DD if v6 else 0x0800
    if linktype == LinkType.ETHERNET:
        return bytes(12) + struct.pack(">H", ethertype) + packet
    if linktype == LinkType.NULL:
        return struct.pack("<L", 30 if v6 else 2) + packet
    if linktype == LinkType.LOOP:
        return struct.pack(">L", 30 if v6 else 2) + packet
    if linktype == LinkType.LINUX_SLL:
        return struct.pack(">HHH8sH", 0, 772, 6, bytes(8), ethertype) + packet
    if linktype == LinkType.LINUX_SLL2:
        return struct.pack(">HHLHBB8s", ethertype, 0, 1, 772, 0, 6, bytes(8)) + packet
    return packet  # RAW, IPV4, IPV6


def write_pcap(frames: Sequence[tuple[float, bytes]], linktype: int = LinkType.ETHERNET, *, nanos: bool = False,
               big_endian: bool = False) -> bytes:
    o = ">" if big_endian else "<"
    out = [struct.pack(o + "LHHlLLL", 0xA1B23C4D if nanos else 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for ts, data in frames:
        sec = int(ts)
        frac = round((ts - sec) * (1e9 if nanos else 1e6))
        out.append(struct.pack(o + "LLLL", sec, frac, len(data), len(data)) + data)
    return b"".join(out)


def _block(block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("<LL", block_type, len(body) + 12) + body + struct.pack("<L", len(body) + 12)


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


def write_pcapng(frames: Sequence[tuple[int, float, bytes]],
                 interfaces: Sequence[tuple[int, int | None, int]]) -> bytes:
    """``interfaces``: (linktype, if_tsresol byte or None, if_tsoffset seconds); frames: (interface, ts, data)."""
    out = [_block(0x0A0D0D0A, struct.pack("<LHHq", 0x1A2B3C4D, 1, 0, -1))]
    units = []
    for linktype, tsresol, offset in interfaces:
        opts = b""
        if tsresol is not None:
            opts += _opt(9, bytes([tsresol]))
        if offset:
            opts += _opt(14, struct.pack("<q", offset))
        out.append(_block(1, struct.pack("<HHL", linktype, 0, 0) + opts + (_opt(0, b"") if opts else b"")))
        if tsresol is None:
            units.append(10**6)
        else:
            units.append(2 ** (tsresol & 0x7F) if tsresol & 0x80 else 10**tsresol)
    for iface, ts, data in frames:
        ticks = round((ts - interfaces[iface][2]) * units[iface])
        out.append(_block(6, struct.pack("<LLLLL", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data))
                          + data))
    return b"".join(out)


def _frames(data: bytes) -> list[Frame]:
    return list(read_frames(io.BytesIO(data)))


PKT = ipv4_tcp("10.0.0.1", 40000, "10.0.0.2", 104, 1000, TCPFlag.PSH | TCPFlag.ACK, b"hello")


@pytest.mark.parametrize("nanos", [False, True])
@pytest.mark.parametrize("big_endian", [False, True])
def test_pcap(nanos: bool, big_endian: bool) -> None:
    frames = _frames(write_pcap([(1700000000.123456, link(1, PKT)), (1700000001.5, link(1, PKT))],
                                nanos=nanos, big_endian=big_endian))
    assert [f.ts for f in frames] == pytest.approx([1700000000.123456, 1700000001.5], abs=1e-6)
    assert frames[0].linktype == 1 and frames[0].data == link(1, PKT)


def test_pcapng_interfaces_with_their_own_resolution_and_offset() -> None:
    data = write_pcapng(
        [(0, 1700000000.000001, link(1, PKT)), (1, 1700000000.123456789, link(LinkType.LINUX_SLL2, PKT)),
         (2, 1700000000.5, link(LinkType.RAW, PKT))],
        [(LinkType.ETHERNET, None, 0), (LinkType.LINUX_SLL2, 9, 0), (LinkType.RAW, 0x80 | 20, 1000)])
    frames = _frames(data)
    assert [f.linktype for f in frames] == [LinkType.ETHERNET, LinkType.LINUX_SLL2, LinkType.RAW]
    assert frames[0].ts == pytest.approx(1700000000.000001, abs=1e-7)
    assert frames[1].ts == pytest.approx(1700000000.123456789, abs=1e-6)
    assert frames[2].ts == pytest.approx(1700000000.5, abs=1e-5)
    for f in frames:
        seg = decode_segment(f.ts, f.linktype, f.data)
        assert seg is not None and seg.payload == b"hello" and (seg.src, seg.dport) == ("10.0.0.1", 104)


@pytest.mark.parametrize("linktype", list(LinkType))
@pytest.mark.parametrize("v6", [False, True])
def test_link_types(linktype: LinkType, v6: bool) -> None:
    if (linktype == LinkType.IPV4 and v6) or (linktype == LinkType.IPV6 and not v6):
        pytest.skip("link type fixes the IP version")
    pkt = ipv6_tcp(5000, 11112, 7, TCPFlag.SYN) if v6 else PKT
    seg = decode_segment(0.0, linktype, link(linktype, pkt))
    assert seg is not None
    assert (seg.src, seg.dport) == (("::1", 11112) if v6 else ("10.0.0.1", 104))


def test_vlan_and_non_tcp() -> None:
    vlan = bytes(12) + b"\x81\x00\x00\x05\x08\x00" + PKT
    seg = decode_segment(0.0, 1, vlan)
    assert seg is not None and seg.payload == b"hello"
    udp = bytearray(PKT)
    udp[9] = 17
    assert decode_segment(0.0, 1, link(1, bytes(udp))) is None
    frag = bytearray(PKT)
    frag[6:8] = b"\x20\x00"  # more fragments
    assert decode_segment(0.0, 1, link(1, bytes(frag))) is None
    assert decode_segment(0.0, 147, PKT) is None
    assert decode_segment(0.0, 1, b"\x00" * 10) is None


def test_truncated_and_corrupt_files() -> None:
    good = write_pcap([(1.0, link(1, PKT))] * 3)
    cut = good[:-10]
    got: list[Frame] = []
    with pytest.raises(CaptureError, match=r"truncated at byte \d+: packet at byte \d+ cut short"):
        for frame in read_frames(io.BytesIO(cut)):
            got.append(frame)
    assert len(got) == 2
    with pytest.raises(CaptureError, match="not a pcap or pcapng"):
        _frames(b"GIF89a........")
    with pytest.raises(CaptureError, match="empty"):
        _frames(b"")
    corrupt = bytearray(good)
    corrupt[24 + 8:24 + 12] = struct.pack("<L", 1 << 30)
    with pytest.raises(CaptureError, match="implausible"):
        _frames(bytes(corrupt))
    ng = write_pcapng([(0, 1.0, link(1, PKT))], [(1, None, 0)])
    with pytest.raises(CaptureError, match="trailer"):
        _frames(ng[:-4] + b"\x00\x00\x00\x00")
    with pytest.raises(CaptureError, match="undeclared interface"):
        _frames(write_pcapng([(0, 1.0, link(1, PKT))], [(1, None, 0)]).replace(
            struct.pack("<L", 1), struct.pack("<L", 1), 1)[:28] + ng[28 + 20:])
