"""A fast, allocation-light walk over the top-level elements of a little-endian data set
(PS3.5 §7.1: explicit and implicit VR element encodings, §7.5 sequences, undefined lengths).

It answers "which attributes are present, and with what value length" for the head of a
data set streamed over the network, without decoding values (pydicom does that where
values are needed). Malformed input ends the walk; it never raises.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_TAG_VR = struct.Struct("<HH2s")
_EXPLICIT_HEAD = struct.Struct("<HH2sH")  # group, element, VR, 2-byte length (PS3.5 §7.1.2)
_IMPLICIT_HEAD = struct.Struct("<HHL")  # group, element, 4-byte length (PS3.5 §7.1.3)
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<L")
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD


@dataclass(frozen=True, slots=True)
class Element:
    """One top-level element: tag, VR (None in implicit VR), offset and length of its value."""

    tag: int
    vr: str | None
    offset: int
    length: int


def _header(data: bytes, pos: int, implicit: bool) -> tuple[int, str | None, int, int] | None:
    """(tag, vr, value length, header length) of the element at ``pos``, or None if truncated."""
    if len(data) - pos < 8:
        return None
    group, elem = _U16.unpack_from(data, pos)[0], _U16.unpack_from(data, pos + 2)[0]
    tag = (group << 16) | elem
    if implicit or group == 0xFFFE:
        return tag, None, _U32.unpack_from(data, pos + 4)[0], 8
    vr = data[pos + 4:pos + 6]
    if vr in _LONG_VRS:
        if len(data) - pos < 12:
            return None
        return tag, vr.decode("latin-1"), _U32.unpack_from(data, pos + 8)[0], 12
    if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
        return None
    return tag, vr.decode("latin-1"), _U16.unpack_from(data, pos + 6)[0], 8


def _skip_undefined(data: bytes, pos: int, implicit: bool, depth: int) -> int | None:
    """Skip an undefined-length value (sequence items or encapsulated fragments); position after it."""
    if depth > 16:
        return None
    while True:
        head = _header(data, pos, True)
        if head is None:
            return None
        tag, _, length, size = head
        pos += size
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            return None
        if length == UNDEFINED:
            while True:  # an item of undefined length: elements up to the item delimiter
                inner = _header(data, pos, implicit)
                if inner is None:
                    return None
                itag, _, ilength, isize = inner
                pos += isize
                if itag == _ITEM_END:
                    break
                if ilength == UNDEFINED:
                    end = _skip_undefined(data, pos, implicit, depth + 1)
                    if end is None:
                        return None
                    pos = end
                else:
                    pos += ilength
        else:
            pos += length


def walk(data: bytes, *, implicit: bool, stop_after_group: int = 0xFFFF) -> tuple[list[Element], bool]:
    """Top-level elements of ``data`` until the end, damage, or a group above ``stop_after_group``.

    Returns (elements, complete): ``complete`` is False when the walk stopped on truncated or
    malformed bytes (a data-set head cut short, or a malformed data set).
    """
    out: list[Element] = []
    pos, n = 0, len(data)
    while pos < n:
        head = _header(data, pos, implicit)
        if head is None:
            return out, False
        tag, vr, length, size = head
        if (tag >> 16) > stop_after_group:
            return out, True
        if length == UNDEFINED:
            end = _skip_undefined(data, pos + size, implicit, 0)
            if end is None:
                out.append(Element(tag, vr, pos + size, UNDEFINED))
                return out, False
            out.append(Element(tag, vr, pos + size, end - pos - size))
            pos = end
            continue
        if pos + size + length > n:
            out.append(Element(tag, vr, pos + size, length))
            return out, False
        out.append(Element(tag, vr, pos + size, length))
        pos += size + length
    return out, True


def value(data: bytes, element: Element) -> bytes:
    """The raw value bytes of an element (possibly cut short at the end of ``data``)."""
    return data[element.offset:element.offset + element.length]


def find(data: bytes, tags: frozenset[int], *, implicit: bool) -> dict[int, bytes] | None:
    """Raw values of the top-level ``tags`` present before the walk passes the largest of them.

    The hot-path variant of :func:`walk` for a handful of early attributes (the gateway reads
    Patient ID and Study Instance UID of every relayed C-STORE): one precompiled unpack per element,
    no per-element objects. Returns None when it cannot answer cheaply (an undefined-length value
    before the last tag, or truncation): the caller then falls back to a full parser.
    """
    last = max(tags)
    found: dict[int, bytes] = {}
    pos, n = 0, len(data)
    unpack = _IMPLICIT_HEAD.unpack_from if implicit else _EXPLICIT_HEAD.unpack_from
    long_vrs = _LONG_VRS
    try:
        while pos + 8 <= n:
            if implicit:
                group, elem, length = unpack(data, pos)
                pos += 8
            else:
                group, elem, vr, length = unpack(data, pos)
                if vr in long_vrs:
                    if pos + 12 > n:
                        return None
                    length = _U32.unpack_from(data, pos + 8)[0]
                    pos += 12
                else:
                    pos += 8
            tag = group << 16 | elem
            if tag > last:
                break
            if length == UNDEFINED:
                return None
            if tag in tags:
                if pos + length > n:
                    return None
                found[tag] = data[pos : pos + length]
            pos += length
    except struct.error:
        return None
    return found
