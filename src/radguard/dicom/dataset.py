"""radguard's one data-set layer: the element walker every reader of DICOM data sets goes through.

It answers "which elements are there, where, and how long" without decoding values (PS3.5 §7.1
explicit and implicit VR encodings, §7.5 sequences and undefined lengths, §A.4 encapsulated pixel
data); callers slice the buffer. One :class:`Element` type, one set of VR/tag constants and one
:class:`Walker` (element headers, sequence skipping) serve three entry points:

- :func:`walk_dataset` (and :func:`walk_meta`): the strict, issue-reporting walk behind Part 10
  reading (:func:`radguard.dicom.part10.parse`), with its compiled twin ``radguard.dicom._speedups``;
- :func:`walk`: the lenient walk over the head of a data set streamed on the wire (the monitor);
- :func:`find`: a few early attributes of a bare data set (the gateway's audit identifiers).

Nothing here raises on hostile input: a walk stops at the first offending element. No I/O.
"""

from __future__ import annotations

import enum
import os
import struct
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

# ---- PS3.5 constants -------------------------------------------------------------------------------
#: undefined length (PS3.5 §7.1.1)
UNDEFINED = 0xFFFFFFFF
#: item, item delimitation and sequence delimitation tags (PS3.5 §7.5)
ITEM, ITEM_DELIM, SEQ_DELIM = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
#: pixel data, float and double float pixel data (PS3.3 C.7.6.3; encapsulated per PS3.5 §A.4)
PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
#: VRs whose explicit-VR header is 12 bytes (2 reserved bytes, 32-bit length), PS3.5 §7.1.2
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"})
#: every VR of PS3.5 Table 6.2-1
VALID_VRS = LONG_VRS | frozenset(
    {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL", "SS", "ST",
     "TM", "UI", "UL", "US"}
)
#: explicit VR bytes -> (VR, 32-bit length field) for every VR of PS3.5 Table 6.2-1
VR_KIND = {vr.encode("latin-1"): (vr, vr in LONG_VRS) for vr in VALID_VRS}
_LONG_VR_BYTES = frozenset(vr.encode("latin-1") for vr in LONG_VRS)
#: nesting depth limit of the strict walk (a sequence and an undefined-length item count one each)
MAX_DEPTH = 32
#: the lenient walk's limit: 16 nested sequences below the top-level one
LENIENT_MAX_DEPTH = 2 * 16 + 1

_U16_LE = struct.Struct("<H")
_U32_LE = struct.Struct("<I")
_U32_BE = struct.Struct(">I")
_HEAD_EXPLICIT_LE = struct.Struct("<HH2sH")  # group, element, VR, 2-byte length (PS3.5 §7.1.2)
_HEAD_EXPLICIT_BE = struct.Struct(">HH2sH")
_HEAD_IMPLICIT_LE = struct.Struct("<HHI")  # group, element, 4-byte length (PS3.5 §7.1.3)
_HEAD_IMPLICIT_BE = struct.Struct(">HHI")


# ---- the compiled twin and the parse counter -------------------------------------------------------
def _load_speedups() -> object | None:
    """``radguard.dicom._speedups``, or None: not built, or ``RADGUARD_NO_SPEEDUPS`` set."""
    if os.environ.get("RADGUARD_NO_SPEEDUPS"):
        return None
    try:
        from radguard.dicom import _speedups
    except ImportError:
        return None
    return _speedups


#: the compiled module when in use (:func:`walk_dataset`, :func:`walk_meta`, the archive's header
#: digests); tests set it to None
speedups: Any = _load_speedups()

_parses = 0


def parse_count() -> int:
    """How many data-set parses have begun in this process.

    Bumped once per top-level parse by every entry point: :func:`walk`, :func:`find` and
    :func:`radguard.dicom.part10.parse` (compiled path included). A plain module integer (no lock):
    exact within one thread, a test's measure, not an accounting.
    """
    return _parses


def begin_parse() -> None:
    """Count one top-level parse (for entry points outside this module, see :func:`parse_count`)."""
    global _parses
    _parses += 1


# ---- elements and issues ---------------------------------------------------------------------------
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


class IssueKind(enum.StrEnum):
    """Why a walk stopped early."""

    TRUNCATED = "truncated"  # a header or value runs past the end of the buffer
    BAD_VR = "invalid-vr"  # explicit VR bytes that are no VR of PS3.5 Table 6.2-1
    BAD_LENGTH = "invalid-length"  # odd length, or undefined length where not allowed
    TAG_ORDER = "tag-order"  # tags not in ascending order (PS3.5 §7.1)
    BAD_SEQUENCE = "bad-sequence"  # item/delimiter structure broken
    BAD_META = "bad-file-meta"  # group 0002 missing or unparsable
    DEFLATE = "deflate-error"  # deflated data set does not inflate


@dataclass(frozen=True, slots=True)
class Issue:
    """The first offending place of a data set."""

    kind: IssueKind
    offset: int
    tag: int | None
    detail: str = ""


class _Stop(Exception):
    def __init__(self, issue: Issue) -> None:
        self.issue = issue


#: ends of undefined-length sequences already skipped in one buffer:
#: (explicit, little, start, limit) -> (end, nesting depth it was checked at)
SeqEnds = dict[tuple[bool, bool, int, int], tuple[int, int]]


# ---- the walker core -------------------------------------------------------------------------------
class Walker:
    """Element headers and sequence skipping over one buffer in one encoding (PS3.5 §7.1, §7.5).

    ``ends`` remembers where undefined-length sequences end, so that a later walk over the same
    buffer (the canonical digests of :mod:`radguard.archive.digest`) does not skip them again.
    ``lenient`` is the monitor's reading of a data set head: any two upper-case letters pass as a VR,
    any undefined-length value is skipped as a sequence (UN included, in the same encoding), and
    nesting may go 16 sequences deep; whatever breaks still stops the walk.
    """

    def __init__(self, buf: bytes | memoryview, explicit: bool, little: bool, ends: SeqEnds | None = None,
                 *, lenient: bool = False) -> None:
        self.buf = buf
        self.explicit = explicit
        self.little = little
        self.ends: SeqEnds = {} if ends is None else ends
        self.lenient = lenient
        self.max_depth = LENIENT_MAX_DEPTH if lenient else MAX_DEPTH
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
            if not (self.lenient and 65 <= vrb[0] <= 90 and 65 <= vrb[1] <= 90):
                raise _Stop(Issue(IssueKind.BAD_VR, pos + 4, tag, "explicit VR is not a DICOM VR"))
            kind = (vrb.decode("latin-1"), False)
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
        if depth > self.max_depth:
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
            if self.lenient:
                return self.skip_sequence(vpos, end, depth + 1)
            if vr == "UN" and self.explicit:  # contents are implicit VR little endian (PS3.5 §6.2.2)
                return Walker(self.buf, False, True, self.ends).skip_sequence(vpos, end, depth + 1)
            if vr in ("SQ", "UN", "") or tag in PIXEL_TAGS or vr in ("OB", "OW"):
                return self.skip_sequence(vpos, end, depth + 1)
            raise _Stop(Issue(IssueKind.BAD_LENGTH, vpos - 4, tag, f"undefined length not allowed for {vr}"))
        if vpos + length > end:
            raise _Stop(Issue(IssueKind.TRUNCATED, vpos, tag, "value runs past end of data"))
        return vpos + length


# ---- strict walks: what Part 10 reading needs ------------------------------------------------------
_MAGICS_AFTER = (b"PK\x03\x04", b"MZ", b"\x7fELF", b"#!", b"%PDF", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")


def walk_dataset(buf: bytes | memoryview, start: int, explicit: bool, little: bool,
                 ends: SeqEnds | None = None) -> tuple[list[Element], Issue | None, int | None]:
    """Walk top-level elements from ``start`` to the end of ``buf``, strictly (PS3.5 §7.1).

    Returns the elements, the first issue (malformed) and the offset where trailing,
    non-data-set bytes begin (bytes that follow a complete data set, PS3.10 §7.1: nothing may).
    ``ends`` collects the ends of the undefined-length sequences skipped (see :class:`Walker`).
    Not counted by :func:`parse_count`: its caller (:func:`radguard.dicom.part10.parse`) is.
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


def walk_meta(buf: bytes | memoryview, pos: int) -> tuple[dict[int, Element], int, Issue | None]:
    """File meta group 0002 at ``pos``: explicit VR little endian whatever the transfer syntax (PS3.10 §7.1).

    Returns the elements by tag, the offset after the group and the issue that stopped it, if any.
    """
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


# ---- lenient walks: data set heads on the wire -----------------------------------------------------
def walk(data: bytes, *, implicit: bool, little: bool = True,
         stop_after_group: int = 0xFFFF) -> tuple[list[Element], bool]:
    """Top-level elements of ``data`` until the end, damage, or a group above ``stop_after_group``.

    The lenient reading of :class:`Walker` (no tag-order or odd-length checks): what a data set head
    streamed over the network shows. Returns (elements, complete): ``complete`` is False when the
    walk stopped on truncated or malformed bytes; the last element is then the one cut short
    (its ``length`` as declared, or :data:`UNDEFINED` for a sequence that does not end).
    """
    begin_parse()
    w = Walker(data, not implicit, little, lenient=True)
    out: list[Element] = []
    pos, n = 0, len(data)
    while pos < n:
        try:
            tag, vr, length, vpos = w.header(pos, n)
        except _Stop:
            return out, False
        if (tag >> 16) > stop_after_group:
            return out, True
        if length == UNDEFINED:
            try:
                end = w.skip_value(tag, vr, length, vpos, n, 0)
            except _Stop:
                out.append(Element(tag, vr, pos, vpos, UNDEFINED, True))
                return out, False
            out.append(Element(tag, vr, pos, vpos, end - vpos, True))
            pos = end
            continue
        out.append(Element(tag, vr, pos, vpos, length))
        if vpos + length > n:
            return out, False
        pos = vpos + length
    return out, True


@cache
def keyword(tag: int) -> str:
    """The attribute keyword of a tag (PS3.6 data dictionary, by pydicom), or ``(gggg,eeee)`` if it has none."""
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def value(data: bytes, element: Element) -> bytes:
    """The raw value bytes of an element (possibly cut short at the end of ``data``)."""
    return data[element.value_offset : element.value_offset + element.length]


def find(data: bytes, tags: frozenset[int], *, implicit: bool, little: bool = True) -> dict[int, bytes] | None:
    """Raw values of the top-level ``tags`` present before the walk passes the largest of them.

    The hot path for a handful of early attributes (the gateway reads Patient ID and Study Instance UID
    of every relayed C-STORE): one precompiled unpack per element, no per-element objects, VRs not
    checked; undefined-length values are skipped by the lenient :class:`Walker`. A wanted value cut
    short by the end of ``data`` (a captured head) is returned as far as it goes, and ends the walk.
    Returns None when the bytes before the last tag are damaged (a header cut short, a sequence that
    does not end).
    """
    begin_parse()
    last = max(tags)
    found: dict[int, bytes] = {}
    pos, n = 0, len(data)
    if implicit:
        unpack = (_HEAD_IMPLICIT_LE if little else _HEAD_IMPLICIT_BE).unpack_from
    else:
        unpack = (_HEAD_EXPLICIT_LE if little else _HEAD_EXPLICIT_BE).unpack_from
    unpack_u32 = (_U32_LE if little else _U32_BE).unpack_from
    long_vrs = _LONG_VR_BYTES
    vr = b""
    seek, wanted = (speedups.seek if speedups is not None else None), tuple(tags)
    try:
        while pos + 8 <= n:
            # compiled: steps over what the loop would only step over
            if seek is not None and (pos := seek(data, pos, not implicit, little, wanted, last)) + 8 > n:
                break
            if implicit:
                group, elem, length = unpack(data, pos)
                pos += 8
            else:
                group, elem, vr, length = unpack(data, pos)
                if vr in long_vrs:
                    if pos + 12 > n:
                        return None
                    length = unpack_u32(data, pos + 8)[0]
                    pos += 12
                else:
                    pos += 8
            tag = group << 16 | elem
            if tag > last:
                break
            if length == UNDEFINED:
                walker = Walker(data, not implicit, little, lenient=True)
                pos = walker.skip_value(tag, vr.decode("latin-1"), length, pos, n, 0)
                continue
            if tag in tags:
                found[tag] = data[pos : pos + length]
            pos += length
    except (_Stop, struct.error):
        return None
    return found
