"""DICOM Part 10 file layer, read without trusting the file (DICOM PS3.10 §7.1, PS3.5 §7).

:func:`parse` walks the bytes of one file (or of a bare data set, as carried by C-STORE)
once and returns a :class:`Part10` describing its layout: the 128-byte preamble and the
``DICM`` magic (PS3.10 §7.1), the file meta information group 0002 (always explicit VR
little endian), and the top-level elements of the data set with their offsets, in the
transfer syntax the meta names (PS3.5 §7.1.2 explicit VR, §7.1.3 implicit VR, §A.4
encapsulated pixel data). Values are never decoded: callers slice the buffer.

Nothing here raises on hostile input: the walk stops at the first offending element and
records it as :class:`Issue` (malformed) or as the start of trailing data. No I/O.
"""

from __future__ import annotations

import enum
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

PREAMBLE_LEN = 128
MAGIC = b"DICM"
ITEM = 0xFFFEE000
ITEM_DELIM = 0xFFFEE00D
SEQ_DELIM = 0xFFFEE0DD
UNDEFINED = 0xFFFFFFFF
PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})

#: VRs whose explicit-VR header is 12 bytes (2 reserved bytes, 32-bit length), PS3.5 §7.1.2
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"})
#: every VR of PS3.5 Table 6.2-1
VALID_VRS = LONG_VRS | frozenset(
    {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL", "SS", "ST",
     "TM", "UI", "UL", "US"}
)
_MAX_DEPTH = 32


def _load_speedups() -> object | None:
    """The compiled fast paths (``radguard._speedups``), or None: not built, or ``RADGUARD_NO_SPEEDUPS`` set."""
    if os.environ.get("RADGUARD_NO_SPEEDUPS"):
        return None
    try:
        from radguard import _speedups
    except ImportError:
        return None
    return _speedups


#: the compiled module when in use (:func:`walk_dataset`, ``header_digests``); tests set it to None
speedups: Any = _load_speedups()

#: ends of undefined-length sequences already skipped in one buffer:
#: (explicit, little, start, limit) -> (end, nesting depth it was checked at)
SeqEnds = dict[tuple[bool, bool, int, int], tuple[int, int]]


class TransferSyntax(enum.StrEnum):
    """Transfer syntaxes whose data set encoding the walker must know (PS3.5 §10, Annex A)."""

    IMPLICIT_LE = "1.2.840.10008.1.2"
    EXPLICIT_LE = "1.2.840.10008.1.2.1"
    DEFLATED_LE = "1.2.840.10008.1.2.1.99"
    EXPLICIT_BE = "1.2.840.10008.1.2.2"


class IssueKind(enum.StrEnum):
    """Why a walk stopped early."""

    TRUNCATED = "truncated"  # a header or value runs past the end of the buffer
    BAD_VR = "invalid-vr"  # explicit VR bytes that are no VR of PS3.5 Table 6.2-1
    BAD_LENGTH = "invalid-length"  # odd length, or undefined length where not allowed
    TAG_ORDER = "tag-order"  # tags not in ascending order (PS3.5 §7.1)
    BAD_SEQUENCE = "bad-sequence"  # item/delimiter structure broken
    BAD_META = "bad-file-meta"  # group 0002 missing or unparsable
    DEFLATE = "deflate-error"  # deflated data set does not inflate


class Element(NamedTuple):
    """One top-level data element: where it is, never what it says."""

    tag: int
    vr: str  # "" in implicit VR
    offset: int  # of the tag
    value_offset: int
    length: int  # bytes of value (for undefined length: up to and including the delimiter)
    undefined: bool = False

    @property
    def end(self) -> int:
        return self.value_offset + self.length


@dataclass(frozen=True, slots=True)
class Issue:
    """The first offending place of a data set."""

    kind: IssueKind
    offset: int
    tag: int | None
    detail: str = ""


@dataclass(slots=True)
class Part10:
    """Layout of one Part 10 file or bare data set (see :func:`parse`)."""

    size: int
    has_magic: bool
    preamble: bytes | None
    meta: dict[int, Element] = field(default_factory=dict)
    meta_end: int = 0
    transfer_syntax: str = TransferSyntax.EXPLICIT_LE
    explicit: bool = True
    little: bool = True
    deflated: bool = False
    bare: bool = False  # no preamble/magic: a data set (C-STORE, or a headerless file)
    vr_mismatch: bool = False  # the meta says explicit VR but the data set is implicit (or the reverse)
    elements: list[Element] = field(default_factory=list)
    issue: Issue | None = None
    trailing_offset: int | None = None  # bytes after the end of the data set start here
    dataset: bytes | memoryview = b""  # buffer the element offsets refer to (inflated if deflated)
    seq_ends: SeqEnds = field(default_factory=dict)  # undefined-length sequences skipped in ``dataset``

    @property
    def pixel(self) -> Element | None:
        for el in reversed(self.elements):
            if el.tag in PIXEL_TAGS:
                return el
        return None

    def value(self, tag: int) -> bytes | None:
        """Raw value bytes of a top-level element, or of a meta element (group 0002)."""
        if tag >> 16 == 0x0002:
            el = self.meta.get(tag)
            return bytes(self._file_buf[el.value_offset : el.end]) if el else None
        if self._index is None:
            self._index = {e.tag: e for e in self.elements}
        e = self._index.get(tag)
        return None if e is None else bytes(self.dataset[e.value_offset : e.end])

    _file_buf: bytes | memoryview = b""
    _index: dict[int, Element] | None = None

    def text(self, tag: int) -> str | None:
        """A string value (UI/CS/IS/LO...) with padding stripped; non-ASCII bytes replaced."""
        raw = self.value(tag)
        if raw is None:
            return None
        return raw.decode("ascii", "replace").strip("\x00 ")

    def ushort(self, tag: int) -> int | None:
        raw = self.value(tag)
        if raw is None or len(raw) < 2:
            return None
        return int(struct.unpack("<H" if self.little else ">H", raw[:2])[0])


class _Stop(Exception):
    def __init__(self, issue: Issue) -> None:
        self.issue = issue


_U16_LE = struct.Struct("<H")
_U16_BE = struct.Struct(">H")
_U32_LE = struct.Struct("<I")
_U32_BE = struct.Struct(">I")
_HEAD_EXPLICIT_LE = struct.Struct("<HH2sH")
_HEAD_EXPLICIT_BE = struct.Struct(">HH2sH")
_HEAD_IMPLICIT_LE = struct.Struct("<HHI")
_HEAD_IMPLICIT_BE = struct.Struct(">HHI")
#: explicit VR bytes -> (VR, 32-bit length field) for every VR of PS3.5 Table 6.2-1
VR_KIND = {vr.encode("latin-1"): (vr, vr in LONG_VRS) for vr in VALID_VRS}


class Walker:
    """Element walker over one buffer in one encoding (PS3.5 §7.1).

    ``ends`` remembers where undefined-length sequences end, so that a later walk over the same
    buffer (the canonical digests of :mod:`radguard.archive.digest`) does not skip them again.
    """

    def __init__(self, buf: bytes | memoryview, explicit: bool, little: bool, ends: SeqEnds | None = None) -> None:
        self.buf = buf
        self.explicit = explicit
        self.little = little
        self.ends: SeqEnds = {} if ends is None else ends
        self._u32 = _U32_LE if little else _U32_BE
        self._explicit = (_HEAD_EXPLICIT_LE if little else _HEAD_EXPLICIT_BE).unpack_from
        self._implicit = (_HEAD_IMPLICIT_LE if little else _HEAD_IMPLICIT_BE).unpack_from

    def header(self, pos: int, end: int) -> tuple[int, str, int, int]:
        """(tag, vr, value length, value offset) of the element at ``pos``."""
        buf = self.buf
        if pos + 8 > end:
            raise _Stop(Issue(IssueKind.TRUNCATED, pos, None, "element header past end"))
        if not self.explicit:
            group, elem, length = self._implicit(buf, pos)
            return (group << 16) | elem, "", length, pos + 8
        group, elem, vrb, short = self._explicit(buf, pos)
        tag = (group << 16) | elem
        if group == 0xFFFE:  # items and delimiters: always implicit-style headers (PS3.5 §7.5)
            return tag, "", self._u32.unpack_from(buf, pos + 4)[0], pos + 8
        kind = VR_KIND.get(vrb)
        if kind is None:
            raise _Stop(Issue(IssueKind.BAD_VR, pos + 4, tag, "explicit VR is not a DICOM VR"))
        vr, is_long = kind
        if is_long:
            if pos + 12 > end:
                raise _Stop(Issue(IssueKind.TRUNCATED, pos, tag, "element header past end"))
            return tag, vr, self._u32.unpack_from(buf, pos + 8)[0], pos + 12
        return tag, vr, short, pos + 8

    def skip_sequence(self, pos: int, end: int, depth: int) -> int:
        """Skip the items of an undefined-length sequence starting at ``pos``; return the end after E0DD."""
        key = (self.explicit, self.little, pos, end)
        known = self.ends.get(key)
        if known is not None and known[1] >= depth:  # skipped before at this depth or deeper: same end
            return known[0]
        result = self._skip_sequence(pos, end, depth)
        self.ends[key] = (result, depth)
        return result

    def _skip_sequence(self, pos: int, end: int, depth: int) -> int:
        if depth > _MAX_DEPTH:
            raise _Stop(Issue(IssueKind.BAD_SEQUENCE, pos, None, "sequences nested too deep"))
        while True:
            tag, _vr, length, vpos = self.header(pos, end)
            if tag == SEQ_DELIM:
                return vpos
            if tag != ITEM:
                raise _Stop(Issue(IssueKind.BAD_SEQUENCE, pos, tag, "expected an item or sequence delimiter"))
            if length == UNDEFINED:
                pos = self.skip_items_elements(vpos, end, depth + 1)
            else:
                if vpos + length > end:
                    raise _Stop(Issue(IssueKind.TRUNCATED, pos, tag, "item runs past end"))
                pos = vpos + length

    def skip_items_elements(self, pos: int, end: int, depth: int) -> int:
        """Skip the elements of an undefined-length item; return the end after E00D."""
        while True:
            tag, vr, length, vpos = self.header(pos, end)
            if tag == ITEM_DELIM:
                return vpos
            pos = self.skip_value(tag, vr, length, vpos, end, depth)

    def skip_value(self, tag: int, vr: str, length: int, vpos: int, end: int, depth: int) -> int:
        """Return the position after the value of an element whose header was read."""
        if length == UNDEFINED:
            if vr == "UN" and self.explicit:  # contents are implicit VR little endian (PS3.5 §6.2.2)
                return Walker(self.buf, False, True, self.ends).skip_sequence(vpos, end, depth + 1)
            if vr in ("SQ", "UN", "") or tag in PIXEL_TAGS or vr in ("OB", "OW"):
                return self.skip_sequence(vpos, end, depth + 1)
            raise _Stop(Issue(IssueKind.BAD_LENGTH, vpos - 4, tag, f"undefined length not allowed for {vr}"))
        if vpos + length > end:
            raise _Stop(Issue(IssueKind.TRUNCATED, vpos, tag, "value runs past end of data"))
        return vpos + length


_MAGICS_AFTER = (b"PK\x03\x04", b"MZ", b"\x7fELF", b"#!", b"%PDF", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")


def walk_dataset(buf: bytes | memoryview, start: int, explicit: bool, little: bool,
                 ends: SeqEnds | None = None) -> tuple[list[Element], Issue | None, int | None]:
    """Walk top-level elements from ``start`` to the end of ``buf``.

    Returns the elements, the first issue (malformed) and the offset where trailing,
    non-data-set bytes begin (bytes that follow a complete data set, PS3.10 §7.1: nothing may).
    ``ends`` collects the ends of the undefined-length sequences skipped (see :class:`Walker`).
    """
    w = Walker(buf, explicit, little, ends)
    end = len(buf)
    out: list[Element] = []
    append = out.append
    pos = start
    last = -1
    seen_pixel = False
    # one unpack per element header: (group, element, VR bytes, short length) or (group, element, length)
    unpack_explicit = (_HEAD_EXPLICIT_LE if little else _HEAD_EXPLICIT_BE).unpack_from
    unpack_implicit = (_HEAD_IMPLICIT_LE if little else _HEAD_IMPLICIT_BE).unpack_from
    vrb = b""
    short = 0
    unpack_u32 = (_U32_LE if little else _U32_BE).unpack_from
    vr_kind = VR_KIND.get
    new_element = tuple.__new__
    length = 0
    fast = speedups.walk if speedups is not None else None
    while pos < end:
        if fast is not None and pos >= 0:  # compiled walk of the well-formed elements; anything else is below
            pos, last, px = fast(buf, pos, explicit, little, last, out, Element)
            seen_pixel = seen_pixel or px
            if pos >= end:
                break
        try:
            if end - pos < 8:
                raise _Stop(Issue(IssueKind.TRUNCATED, pos, None, f"{end - pos} stray bytes"))
            if explicit:
                group, elem, vrb, short = unpack_explicit(buf, pos)
            else:
                group, elem, length = unpack_implicit(buf, pos)
            tag = (group << 16) | elem
            if tag <= last or group == 0xFFFE:
                raise _Stop(Issue(IssueKind.TAG_ORDER, pos, tag, "tag out of ascending order"))
            if group == 0x0002 and out:
                raise _Stop(Issue(IssueKind.TAG_ORDER, pos, tag, "file meta element inside the data set"))
            # inline of Walker.header for speed (PS3.5 §7.1.2 / §7.1.3)
            if explicit:
                kind = vr_kind(vrb)
                if kind is None:
                    raise _Stop(Issue(IssueKind.BAD_VR, pos + 4, tag, "explicit VR is not a DICOM VR"))
                vr, is_long = kind
                if is_long:
                    if pos + 12 > end:
                        raise _Stop(Issue(IssueKind.TRUNCATED, pos, tag, "element header past end"))
                    length, vpos = unpack_u32(buf, pos + 8)[0], pos + 12
                else:
                    length, vpos = short, pos + 8
            else:
                vr, vpos = "", pos + 8
            if length == UNDEFINED:
                nxt = w.skip_value(tag, vr, length, vpos, end, 0)
            else:
                if length & 1 and vr not in ("UN", ""):
                    raise _Stop(Issue(IssueKind.BAD_LENGTH, pos, tag, "odd value length"))
                nxt = vpos + length
                if nxt > end:
                    raise _Stop(Issue(IssueKind.TRUNCATED, vpos, tag, "value runs past end of data"))
        except _Stop as stop:
            issue = stop.issue
            head = bytes(buf[pos : pos + 4])
            if (seen_pixel and issue.kind in (IssueKind.TAG_ORDER, IssueKind.BAD_VR, IssueKind.TRUNCATED)) or (
                out and head.startswith(_MAGICS_AFTER)
            ):
                return out, None, pos
            return out, issue, None
        append(new_element(Element, (tag, vr, pos, vpos, nxt - vpos, length == UNDEFINED)))
        if tag in PIXEL_TAGS:
            seen_pixel = True
        last = tag
        pos = nxt
    return out, None, None


def _parse_meta(buf: bytes | memoryview, pos: int) -> tuple[dict[int, Element], int, Issue | None]:
    """File meta group 0002 at ``pos``: explicit VR little endian whatever the transfer syntax (PS3.10 §7.1)."""
    w = Walker(buf, True, True)
    end = len(buf)
    meta: dict[int, Element] = {}
    fast = speedups.meta if speedups is not None else None
    while pos + 8 <= end:
        if fast is not None and pos >= 0:  # compiled: the well-formed elements; anything else is read below
            pos = fast(buf, pos, meta, Element)
            if pos + 8 > end:
                break
        group = _U16_LE.unpack_from(buf, pos)[0]
        if group != 0x0002:
            break
        try:
            tag, vr, length, vpos = w.header(pos, end)
            if length == UNDEFINED or vpos + length > end:
                raise _Stop(Issue(IssueKind.BAD_META, pos, tag, "file meta element length overruns"))
        except _Stop as stop:
            return meta, pos, Issue(IssueKind.BAD_META, stop.issue.offset, stop.issue.tag, stop.issue.detail)
        meta[tag] = Element(tag, vr, pos, vpos, length)
        pos = vpos + length
    return meta, pos, None


def _looks_like_dataset(buf: bytes | memoryview) -> tuple[bool, bool] | None:
    """Guess (explicit, little) for a headerless data set, or None if the bytes are no data set."""
    if len(buf) < 8:
        return None
    for little in (True, False):
        group = (_U16_LE if little else _U16_BE).unpack_from(buf, 0)[0]
        if group not in (0x0002, 0x0004, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028):
            continue
        vr = bytes(buf[4:6])
        explicit = vr.isalpha() and vr.isupper() and vr.decode("latin-1") in VALID_VRS
        elements, issue, _trail = walk_dataset(buf[: min(len(buf), 4096)], 0, explicit, little)
        if len(elements) >= 2 and (issue is None or issue.kind == IssueKind.TRUNCATED):
            return explicit, little
    return None


def _encoding(ts: str) -> tuple[bool, bool, bool]:
    """(explicit, little, deflated) of a transfer syntax UID; unknown UIDs are explicit LE (PS3.5 §10)."""
    if ts == TransferSyntax.IMPLICIT_LE:
        return False, True, False
    if ts == TransferSyntax.EXPLICIT_BE:
        return True, False, False
    if ts == TransferSyntax.DEFLATED_LE:
        return True, True, True
    return True, True, False


def parse(buf: bytes | memoryview, *, transfer_syntax: str | None = None) -> Part10:
    """Walk one Part 10 file (or, with ``transfer_syntax``, one bare data set) without trusting it.

    Parameters
    ----------
    buf
        The whole file (or data set); never copied.
    transfer_syntax
        For a bare data set (C-STORE, PS3.7 §9.1.1): the negotiated transfer syntax UID. When
        omitted and the buffer has no preamble/magic, the encoding is guessed from the first elements.

    Returns
    -------
    Part10
        With ``issue`` set when the data set does not parse cleanly (PS3.5 §7).
    """
    size = len(buf)
    if transfer_syntax is not None:
        explicit, little, deflated = _encoding(transfer_syntax)
        p = Part10(size=size, has_magic=False, preamble=None, bare=True, transfer_syntax=transfer_syntax,
                   explicit=explicit, little=little)
        p._file_buf = buf
        return _parse_body(p, buf, 0, deflated)
    has_magic = size >= PREAMBLE_LEN + 4 and bytes(buf[PREAMBLE_LEN : PREAMBLE_LEN + 4]) == MAGIC
    if has_magic:
        p = Part10(size=size, has_magic=True, preamble=bytes(buf[:PREAMBLE_LEN]))
        start = PREAMBLE_LEN + 4
    else:
        p = Part10(size=size, has_magic=False, preamble=None, bare=True)
        start = 0
    p._file_buf = buf
    if size >= start + 8 and _U16_LE.unpack_from(buf, start)[0] == 0x0002:
        meta, meta_end, issue = _parse_meta(buf, start)
        p.meta, p.meta_end = meta, meta_end
        glen = meta.get(0x00020000)
        if issue is None and glen is not None and glen.length == 4:
            declared = glen.end + _U32_LE.unpack_from(buf, glen.value_offset)[0]
            if declared > size:
                issue = Issue(IssueKind.BAD_META, meta_end, None, "file meta group shorter than its group length")
        if issue is not None:
            p.issue = issue
            p.dataset = buf
            return p
        ts = p.text(0x00020010) or TransferSyntax.EXPLICIT_LE
        p.transfer_syntax = ts
        p.explicit, p.little, deflated = _encoding(ts)
        return _parse_body(p, buf, meta_end, deflated)
    if has_magic:
        p.issue = Issue(IssueKind.BAD_META, start, None, "no file meta group after DICM")
        p.meta_end = start
        p.dataset = buf
        return p
    guess = _looks_like_dataset(buf)
    if guess is None:
        p.issue = Issue(IssueKind.BAD_META, 0, None, "no DICM magic and no data set")
        p.dataset = buf
        return p
    p.explicit, p.little = guess
    p.transfer_syntax = (
        TransferSyntax.IMPLICIT_LE if not p.explicit else TransferSyntax.EXPLICIT_LE if p.little
        else TransferSyntax.EXPLICIT_BE
    )
    return _parse_body(p, buf, 0, False)


def _parse_body(p: Part10, buf: bytes | memoryview, start: int, deflated: bool) -> Part10:
    if deflated:
        try:
            d = zlib.decompressobj(-zlib.MAX_WBITS)
            data: bytes | memoryview = d.decompress(bytes(buf[start:])) + d.flush()
        except zlib.error:
            p.issue = Issue(IssueKind.DEFLATE, start, None, "deflated data set does not inflate")
            p.dataset = buf
            return p
        p.deflated = True
        p.dataset = data
        p.elements, p.issue, trail = walk_dataset(data, 0, p.explicit, p.little, p.seq_ends)
        p.trailing_offset = None if trail is None else -1  # offsets refer to the inflated data
        return p
    p.dataset = buf
    p.elements, p.issue, p.trailing_offset = walk_dataset(buf, start, p.explicit, p.little, p.seq_ends)
    if p.issue is not None and p.issue.kind == IssueKind.BAD_VR and len(p.elements) == 0 and p.little:
        # a frequent real-world defect: implicit VR data set under an explicit transfer syntax (or the
        # reverse); read it the way it is encoded and let the malformed check report the mismatch
        elements, issue, trailing = walk_dataset(buf, start, not p.explicit, p.little, p.seq_ends)
        if len(elements) > 1:
            p.explicit = not p.explicit
            p.vr_mismatch = True
            p.elements, p.issue, p.trailing_offset = elements, issue, trailing
    return p
