"""DICOM Part 10 file layer, read without trusting the file (DICOM PS3.10 §7.1, PS3.5 §7).

:func:`parse` walks the bytes of one file (or of a bare data set, as carried by C-STORE)
once and returns a :class:`Part10` describing its layout: the 128-byte preamble and the
``DICM`` magic (PS3.10 §7.1), the file meta information group 0002 (always explicit VR
little endian), and the top-level elements of the data set with their offsets, in the
transfer syntax the meta names (PS3.5 §7.1.2 explicit VR, §7.1.3 implicit VR, §A.4
encapsulated pixel data). Values are never decoded: callers slice the buffer.

The walks are those of the one data-set layer (:mod:`radguard.dicom.dataset`): nothing here raises
on hostile input, the walk stops at the first offending element and records it as
:class:`~radguard.dicom.dataset.Issue` (malformed) or as the start of trailing data. No I/O.
"""

from __future__ import annotations

import bisect
import operator
import struct
import zlib
from dataclasses import dataclass, field

from radguard.dicom.dataset import (
    PIXEL_TAGS,
    VALID_VRS,
    Element,
    Issue,
    IssueKind,
    SeqEnds,
    begin_parse,
    walk_dataset,
    walk_meta,
)
from radguard.dicom.uids import TransferSyntax

_TAG = operator.itemgetter(0)

PREAMBLE_LEN = 128
#: largest inflated data set of the Deflated Explicit VR Little Endian transfer syntax (PS3.5 §A.5) read:
#: a few hundred bytes of a deflate bomb would otherwise inflate to gigabytes in the gateway's memory
MAX_INFLATED = 256 * 1024 * 1024
MAGIC = b"DICM"
_U16_LE = struct.Struct("<H")
_U16_BE = struct.Struct(">H")
_U32_LE = struct.Struct("<I")


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
        e = self.element(tag)
        return None if e is None else bytes(self.dataset[e.value_offset : e.end])

    def element(self, tag: int) -> Element | None:
        """The top-level element ``tag``, by binary search: :func:`walk_dataset` gives them in strictly
        ascending tag order (it stops at the first one out of order); a list out of order is searched
        through (built by hand)."""
        els = self.elements
        i = bisect.bisect_left(els, tag, key=_TAG)
        if i < len(els) and els[i][0] == tag:
            return els[i]
        if self._ascending is None:
            self._ascending = all(map(operator.lt, map(_TAG, els), map(_TAG, els[1:])))
        if self._ascending:
            return None
        return next((e for e in reversed(els) if e[0] == tag), None)  # the last one, as a dict of them gave

    _file_buf: bytes | memoryview = b""
    #: whether ``elements`` ascend (looked at once, on a tag not found); not copied by dataclasses.replace
    _ascending: bool | None = field(default=None, init=False, repr=False, compare=False)

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
    begin_parse()
    size = len(buf)
    if transfer_syntax is not None:
        explicit, little, deflated = TransferSyntax.encoding(transfer_syntax)
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
        meta, meta_end, issue = walk_meta(buf, start)
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
        p.explicit, p.little, deflated = TransferSyntax.encoding(ts)
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
            inflated = d.decompress(bytes(buf[start:]), MAX_INFLATED + 1)
            if not d.unconsumed_tail:
                inflated += d.flush()
        except zlib.error:
            p.issue = Issue(IssueKind.DEFLATE, start, None, "deflated data set does not inflate")
            p.dataset = buf
            return p
        if len(inflated) > MAX_INFLATED:
            p.issue = Issue(IssueKind.DEFLATE, start, None, f"deflated data set inflates past {MAX_INFLATED} bytes")
            p.dataset = buf
            return p
        p.deflated = True
        p.dataset = inflated
        p.elements, p.issue, trail = walk_dataset(inflated, 0, p.explicit, p.little, p.seq_ends)
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
