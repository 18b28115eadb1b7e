"""Framing of the DICOM upper-layer byte stream into PDUs (PS3.8 §9.3.1: type, reserved, 4-byte
big-endian length), and resynchronisation on a stream picked up mid-way. Nothing here does I/O;
the PDU bodies are decoded by :mod:`radguard.dicom.pdu`.
"""

from __future__ import annotations

import struct

from radguard.dicom.enums import PDUType
from radguard.errors import ProtocolError

_HDR = struct.Struct(">BBL")
#: default hard limit of a PDU body accepted by :class:`PDUFramer` (well above any sane negotiated size)
DEFAULT_PDU_LENGTH_GUARD = 16 * 1024 * 1024


class OversizedPDU(ProtocolError):
    """A PDU header announces a body above the framer's limit.

    ``complete`` holds the PDUs completed before it by the same :meth:`PDUFramer.feed` call (as
    ``feed`` would have returned them): where TCP cut the stream must not change what is decoded.
    """

    def __init__(self, message: str, complete: list[tuple[int, bytes]]) -> None:
        super().__init__(message)
        self.complete = complete


class PDUFramer:
    """Cut a byte stream into complete PDUs (PS3.8 §9.3.1: type, reserved, 4-byte big-endian length).

    Parameters
    ----------
    max_pdu_length
        Largest PDU body accepted; a longer announced length raises ProtocolError before any
        body byte is buffered (hostile 4 GiB lengths cannot exhaust memory). 0 means no limit.
    """

    def __init__(self, max_pdu_length: int = DEFAULT_PDU_LENGTH_GUARD) -> None:
        self.max_pdu_length = max_pdu_length
        self._buf = bytearray()
        #: stream offset of the first byte still buffered (start of the next PDU)
        self.offset = 0

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a PDU."""
        return len(self._buf)

    def feed(self, data: bytes, *, whole: bool = False) -> list[tuple[int, bytes]]:
        """Add bytes; return (type, body) for each PDU completed by them, in order.

        With ``whole``, each PDU is returned with its 6-byte header (type, reserved, length), as it
        was on the wire. PDUs are sliced straight out of ``data`` (one copy each); only a PDU split
        across calls goes through the internal buffer.
        """
        skip = 0 if whole else 6
        if not isinstance(data, bytes):
            data = bytes(data)
        out: list[tuple[int, bytes]] = []
        buf = self._buf
        limit = self.max_pdu_length  # tested here, _check_length called only to raise
        pos, n = 0, len(data)
        if buf:  # finish the PDU begun by earlier calls
            if len(buf) < 6:
                pos = min(6 - len(buf), n)
                buf += data[:pos]
                if len(buf) < 6:
                    return out
            pdu_type, _, length = _HDR.unpack_from(buf, 0)
            if limit and length > limit:
                self._check_length(pdu_type, length, data, pos, out)
            missing = 6 + length - len(buf)
            if n - pos < missing:
                buf += data[pos:]
                return out
            with memoryview(buf) as view, memoryview(data) as rest:  # one copy of the whole PDU, not two
                out.append((pdu_type, b"".join((view[skip:], rest[pos:pos + missing]))))
            pos += missing
            self.offset += len(buf) + missing
            buf.clear()
        while n - pos >= 6:
            pdu_type, _, length = _HDR.unpack_from(data, pos)
            if limit and length > limit:
                self._check_length(pdu_type, length, data, pos, out)
            if n - pos - 6 < length:
                break
            out.append((pdu_type, data[pos + skip:pos + 6 + length]))
            pos += 6 + length
            self.offset += 6 + length
        if pos < n:
            buf += data[pos:]
        return out

    def _check_length(self, pdu_type: int, length: int, data: bytes, pos: int,
                      complete: list[tuple[int, bytes]]) -> None:
        """Raise :class:`OversizedPDU` (with the PDUs ``complete`` before it) before buffering a body
        longer than the limit; the buffer then holds the offending PDU's bytes (``self.offset`` is
        where it starts)."""
        if self.max_pdu_length and length > self.max_pdu_length:
            if self._buf:
                self._buf += data[pos:]
            else:
                self._buf = bytearray(data[pos:])
            raise OversizedPDU(f"PDU type 0x{pdu_type:02X} at stream offset {self.offset} announces "
                               f"{length} bytes, above the limit of {self.max_pdu_length}", complete)


def plausible_pdu_start(data: bytes, pos: int = 0) -> bool:
    """Whether a P-DATA-TF, release or abort PDU plausibly starts at ``data[pos]``.

    Used to resynchronise on a stream picked up mid-way (a capture that started after the
    association): the header must be self-consistent (PS3.8 §9.3.1, §9.3.5.1) and, when the
    bytes are there, the next PDU header must be plausible too.
    """
    n = len(data)
    if n - pos < 6:
        return False
    pdu_type, reserved, length = _HDR.unpack_from(data, pos)
    if reserved != 0:
        return False
    if pdu_type in (PDUType.RELEASE_RQ, PDUType.RELEASE_RP, PDUType.ABORT):
        return length == 4 and n - pos >= 10 and data[pos + 6] == 0 and data[pos + 7] == 0
    if pdu_type != PDUType.P_DATA_TF or length < 6 or length > DEFAULT_PDU_LENGTH_GUARD or n - pos < 12:
        return False
    pdv_length, ctx_id, header = struct.unpack_from(">LBB", data, pos + 6)
    if pdv_length < 2 or pdv_length + 4 > length or ctx_id % 2 == 0 or header & 0xFC:
        return False
    nxt = pos + 6 + length
    if n - nxt >= 6:
        next_type, next_reserved, next_length = _HDR.unpack_from(data, nxt)
        return bool(next_reserved == 0 and PDUType.P_DATA_TF <= next_type <= PDUType.ABORT
                    and next_length <= DEFAULT_PDU_LENGTH_GUARD)
    return True
