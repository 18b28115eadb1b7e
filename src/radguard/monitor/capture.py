"""Capture file readers: libpcap (microsecond and nanosecond) and pcapng, from a file or a pipe.

radguard reads the container formats itself (sequentially, no seeking, so ``tcpdump -w -``
can feed it) because every pcapng interface may have its own link type and timestamp
resolution (``if_tsresol``, ``if_tsoffset``; pcapng spec §4.2), which a first-interface-only
reader gets wrong. A truncated or corrupt file yields every frame up to the damage and then
raises :class:`CaptureError` naming the offset.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, NoReturn

from radguard.errors import RadguardError

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_IDB, _SPB, _EPB, _OLD_PB = 0x00000001, 0x00000003, 0x00000006, 0x00000002
_OPT_TSRESOL, _OPT_TSOFFSET = 9, 14
#: refuse frames or blocks larger than this (a corrupt length field, not a packet)
MAX_FRAME = 1 << 20
MAX_BLOCK = 16 << 20


class CaptureError(RadguardError):
    """A capture file is not pcap/pcapng, or is truncated or corrupt at some offset."""


@dataclass(slots=True)
class Frame:
    """One captured frame: timestamp (seconds since the epoch), link type, bytes as captured."""

    ts: float
    linktype: int
    data: bytes


class _Source:
    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.offset = 0

    def read(self, n: int, what: str, *, eof_ok: bool = False) -> bytes | None:
        data = self.fh.read(n)
        if len(data) < n:
            if eof_ok and not data:
                return None
            self.short(data, n, what)
        self.offset += n
        return data

    def short(self, data: bytes, n: int, what: str) -> NoReturn:
        """A read of ``n`` bytes at ``self.offset`` returned only ``data``."""
        raise CaptureError(f"capture truncated at byte {self.offset + len(data)}: {what} cut short "
                           f"({len(data)} of {n} bytes)")


def read_frames(fh: IO[bytes]) -> Iterator[Frame]:
    """Frames of a pcap or pcapng stream, in file order."""
    for ts, linktype, data in read_packets(fh):
        yield Frame(ts, linktype, data)


def read_packets(fh: IO[bytes]) -> Iterator[tuple[float, int, bytes]]:
    """:func:`read_frames` as plain (timestamp, link type, bytes) tuples, the per-packet path of ``radguard pcap``."""
    src = _Source(fh)
    head = src.read(4, "file header", eof_ok=True)
    if head is None:
        raise CaptureError("capture file is empty")
    for order in ("<", ">"):
        magic = struct.unpack(order + "L", head)[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            yield from _pcap(src, order, magic == PCAP_MAGIC_NS)
            return
    if struct.unpack("<L", head)[0] == PCAPNG_SHB:
        yield from _pcapng(src, head)
        return
    raise CaptureError(f"not a pcap or pcapng file (magic {head.hex()})")


def _pcap(src: _Source, order: str, nanos: bool) -> Iterator[tuple[float, int, bytes]]:
    """Classic libpcap format (https://www.tcpdump.org/manpages/pcap-savefile.5.html)."""
    rest = src.read(20, "pcap file header")
    assert rest is not None
    linktype = struct.unpack(order + "L", rest[16:20])[0] & 0x0FFFFFFF
    divisor = 1_000_000_000 if nanos else 1_000_000
    unpack = struct.Struct(order + "LLLL").unpack
    read = src.fh.read  # per frame: two plain reads; _Source.short words a read that comes up short
    at = src.offset
    while True:
        hdr = read(16)
        if len(hdr) < 16:
            if not hdr:
                return
            src.offset = at
            src.short(hdr, 16, f"record header at byte {at}")
        sec, frac, incl, _orig = unpack(hdr)
        if incl > MAX_FRAME:
            raise CaptureError(f"capture corrupt at byte {at}: record length {incl} is implausible")
        data = read(incl)
        if len(data) < incl:
            src.offset = at + 16
            src.short(data, incl, f"packet at byte {at}")
        at += 16 + incl
        yield sec + frac / divisor, linktype, data


@dataclass
class _Interface:
    linktype: int
    units: int  # ticks per second
    offset: int  # seconds added to every timestamp
    snaplen: int


def _options(body: bytes, order: str) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while len(body) - pos >= 4:
        code, length = struct.unpack_from(order + "HH", body, pos)
        if code == 0:
            return
        yield code, body[pos + 4:pos + 4 + length]
        pos += 4 + ((length + 3) & ~3)


def _interface(body: bytes, order: str) -> _Interface:
    linktype, _, snaplen = struct.unpack_from(order + "HHL", body)
    units, offset = 1_000_000, 0
    for code, value in _options(body[8:], order):
        if code == _OPT_TSRESOL and value:
            v = value[0]
            units = 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
        elif code == _OPT_TSOFFSET and len(value) == 8:
            offset = struct.unpack(order + "q", value)[0]
    return _Interface(linktype, units, offset, snaplen)


def _pcapng(src: _Source, head: bytes) -> Iterator[tuple[float, int, bytes]]:
    """pcapng (draft-ietf-opsawg-pcapng): SHB, IDB, EPB, SPB and the obsolete PB; other blocks skipped."""
    order = "<"
    interfaces: list[_Interface] = []
    block_type_raw: bytes | None = head
    while True:
        at = src.offset - 4
        if block_type_raw is None:
            block_type_raw = src.read(4, f"block at byte {src.offset}", eof_ok=True)
            if block_type_raw is None:
                return
            at = src.offset - 4
        raw_len = src.read(4, f"block length at byte {at}")
        assert raw_len is not None
        if struct.unpack("<L", block_type_raw)[0] == PCAPNG_SHB:
            bom = src.read(4, f"section header at byte {at}")
            assert bom is not None
            order = "<" if struct.unpack("<L", bom)[0] == _BYTE_ORDER_MAGIC else ">"
            if struct.unpack(order + "L", bom)[0] != _BYTE_ORDER_MAGIC:
                raise CaptureError(f"pcapng corrupt at byte {at}: bad byte-order magic")
            length = struct.unpack(order + "L", raw_len)[0]
            if length < 28 or length % 4 or length > MAX_BLOCK:
                raise CaptureError(f"pcapng corrupt at byte {at}: section header length {length} is invalid")
            body = bom + (src.read(length - 16, f"section header at byte {at}") or b"")
            interfaces = []
        else:
            length = struct.unpack(order + "L", raw_len)[0]
            if length < 12 or length % 4 or length > MAX_BLOCK:
                raise CaptureError(f"pcapng corrupt at byte {at}: block length {length} is invalid")
            body = src.read(length - 12, f"block at byte {at}") or b""
        block_type = struct.unpack(order + "L", block_type_raw)[0]
        block_type_raw = None
        trailer = src.read(4, f"block trailer at byte {at}")
        assert trailer is not None
        if struct.unpack(order + "L", trailer)[0] != length:
            raise CaptureError(f"pcapng corrupt at byte {at}: block trailer length does not match")
        if block_type == _IDB:
            interfaces.append(_interface(body, order))
        elif block_type in (_EPB, _OLD_PB):
            if block_type == _EPB:
                if_id, high, low, caplen, _ = struct.unpack_from(order + "LLLLL", body)
            else:
                if_id, _, high, low, caplen, _ = struct.unpack_from(order + "HHLLLL", body)
            if if_id >= len(interfaces):
                raise CaptureError(f"pcapng corrupt at byte {at}: packet on undeclared interface {if_id}")
            iface = interfaces[if_id]
            ticks = (high << 32) | low
            sec, frac = divmod(ticks, iface.units)
            yield sec + iface.offset + frac / iface.units, iface.linktype, body[20:20 + caplen]
        elif block_type == _SPB:
            if not interfaces:
                raise CaptureError(f"pcapng corrupt at byte {at}: simple packet before any interface")
            orig = struct.unpack_from(order + "L", body)[0]
            iface = interfaces[0]
            caplen = min(orig, iface.snaplen or orig, len(body) - 4)
            yield 0.0, iface.linktype, body[4:4 + caplen]
