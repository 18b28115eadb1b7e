"""Fingerprints of one object for the ledger: canonical forms documented in docs/archive.md.

- ``file_sha256``: SHA-256 of every byte of the file.
- ``meta_sha256``: SHA-256 of the raw file meta group (PS3.10 §7.1), preamble excluded.
- element digests: BLAKE2b-64 of ``tag (4 bytes, big endian) || canonical value`` per top-level
  element outside group 0002 and pixel data. The canonical value is the value bytes in little
  endian (PS3.5 §7.3: big-endian numeric values are byte-swapped), independent of explicit or
  implicit VR encoding (the VR and length fields are not hashed); a sequence (PS3.5 §7.5) is hashed
  over its items' element digests, so defined or undefined lengths do not matter. Attributes that
  identify the patient (:data:`radguard.phi.PHI_KEYWORDS`) get a BLAKE2b-32 keyed with the site secret
  (``RADGUARD_PHI_SECRET``) instead, so the store cannot be used to guess their values.
- ``header_sha256``: SHA-256 over the element digests in tag order: the data set without group
  0002 and pixel data, invariant under file meta rewrites and VR/length re-encoding.
- ``pixel_sha256``: SHA-256 of the raw pixel data value (fragments included when encapsulated).
- ``pixel_canonical_sha256``: SHA-256 of the decoded pixel values, little endian, interleaved
  (PS3.3 C.7.6.3.1.3 planar configuration 0), per frame in order; equal to ``pixel_sha256`` for native
  little-endian planar-0 data without padding; for encapsulated data only when asked (decoding cost).
- layout: per frame a CRC-32, and per frame up to :data:`BANDS` row-band and column-band checksums,
  used only to locate a change (frame, bounding box), never to prove integrity.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from radguard.archive.layout import BANDS as BANDS
from radguard.archive.layout import MAX_BANDED_FRAMES as MAX_BANDED_FRAMES
from radguard.archive.layout import NATIVE_DTYPES as NATIVE_DTYPES
from radguard.archive.layout import Geometry as Geometry
from radguard.archive.layout import _bands as _bands
from radguard.archive.layout import geometry, native_layout
from radguard.dicom import dataset
from radguard.dicom.dataset import (
    ITEM,
    ITEM_DELIM,
    PIXEL_TAGS,
    SEQ_DELIM,
    UNDEFINED,
    VR_KIND,
    Walker,
    _Stop,
)
from radguard.inspect.obj import (
    TAG_SERIES,
    TAG_SOP_CLASS,
    TAG_SOP_INSTANCE,
    TAG_STUDY,
    ArchiveObject,
)
from radguard.phi import phi_tags, site_secret

_SWAP = {"US": 2, "SS": 2, "OW": 2, "AT": 2, "UL": 4, "SL": 4, "FL": 4, "OL": 4, "OF": 4, "FD": 8, "OD": 8,
         "SV": 8, "UV": 8, "OV": 8}
#: DataSetTrailingPadding (PS3.10 §7.2): no meaning, excluded from the header
PADDING_TAG = 0xFFFCFFFC


@dataclass(slots=True)
class Fingerprint:
    """What the ledger keeps about one object (no PHI values: hashes, UIDs, geometry)."""

    file_sha256: str
    size: int
    dicom: bool
    meta_sha256: str | None = None
    header_sha256: str | None = None
    pixel_sha256: str | None = None
    pixel_canonical_sha256: str | None = None
    transfer_syntax: str | None = None
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    series_uid: str | None = None
    study_uid: str | None = None
    elements: dict[str, str] = field(default_factory=dict)
    layout: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]


_ITEM_LE = b"\xfe\xff\x00\xe0"
_ITEM_BE = b"\xff\xfe\xe0\x00"


def pack_elements(elements: dict[str, str]) -> str:
    """Ledger form of the element CRCs: ``ggggeeee`` + 8 hex per element, concatenated in tag order."""
    return "".join(map(str.__add__, elements, elements.values()))


def unpack_elements(packed: str) -> dict[str, str]:
    return {packed[i : i + 8]: packed[i + 8 : i + 16] for i in range(0, len(packed), 16)}


def _is_sq(buf: bytes | memoryview, vr: str, vpos: int, undefined: bool) -> bool:
    """Sequence? Explicit VR says so; in implicit VR an undefined length or a first item tag does."""
    if vr == "SQ":
        return True
    if vr and vr != "UN":
        return False
    if undefined:
        return True
    return bytes(buf[vpos : vpos + 4]) in (_ITEM_LE, _ITEM_BE)


def _value_bytes(buf: bytes | memoryview, vr: str, start: int, end: int, little: bool) -> bytes:
    raw = bytes(buf[start:end])
    if little or vr not in _SWAP:
        return raw
    import numpy as np

    width = _SWAP[vr]
    usable = len(raw) - len(raw) % width
    arr = np.frombuffer(raw[:usable], dtype=f">u{width}").astype(f"<u{width}")
    return arr.tobytes() + raw[usable:]


_U32 = struct.Struct("<I").unpack_from
_EXPLICIT = struct.Struct("<HH2sH").unpack_from
_IMPLICIT = struct.Struct("<HHI").unpack_from
_HEAD_BE = struct.Struct(">II").pack


def _items_canonical(w: Walker, start: int, end: int, depth: int) -> bytes:
    """Canonical bytes of a sequence value: per item a marker, then its elements' canonical forms."""
    if not w.little:
        return _items_canonical_slow(w, start, end, depth)
    buf = w.buf
    explicit = w.explicit
    parts: list[bytes | memoryview] = []
    append = parts.append
    pos = start
    limit = len(buf)
    vr_kind = VR_KIND.get
    head = _HEAD_BE
    items = (_ITEM_LE, _ITEM_BE)
    while pos < end:
        if pos + 8 > limit:
            raise _Stop(_issue_at(pos))
        g, e, length = _IMPLICIT(buf, pos)
        if g != 0xFFFE:
            raise _Stop(_issue_at(pos))
        if e == 0xE0DD:
            break
        if e != 0xE000:
            raise _Stop(_issue_at(pos))
        item_end = limit if length == UNDEFINED else pos + 8 + length
        append(_ITEM_LE)
        pos += 8
        while pos < item_end:
            if pos + 8 > limit:
                raise _Stop(_issue_at(pos))
            if explicit:
                g, e, vrb, elen = _EXPLICIT(buf, pos)
            else:
                g, e, elen = _IMPLICIT(buf, pos)
            tag = (g << 16) | e
            if tag == ITEM_DELIM:
                pos += 8
                break
            if explicit and g != 0xFFFE:
                kind = vr_kind(vrb)
                if kind is None:
                    raise _Stop(_issue_at(pos))
                vr, is_long = kind
                if is_long:
                    elen, epos = _U32(buf, pos + 8)[0], pos + 12
                else:
                    epos = pos + 8
            else:
                vr, epos = "", pos + 8
                if explicit:
                    elen = _U32(buf, pos + 4)[0]
            undefined = elen == UNDEFINED
            if not undefined and vr != "SQ" and not ((vr == "" or vr == "UN") and buf[epos : epos + 4] in items):
                nxt = epos + elen
                if nxt > limit:
                    raise _Stop(_issue_at(pos))
                append(head(tag, elen))
                append(buf[epos:nxt])
            else:
                nxt = w.skip_value(tag, vr, elen, epos, limit, depth + 1)
                append(_canonical(w, tag, vr, epos, nxt, undefined, depth + 1))
            pos = nxt
        else:
            pos = item_end
    return b"".join(parts)


def _items_canonical_slow(w: Walker, start: int, end: int, depth: int) -> bytes:
    """Big-endian variant of :func:`_items_canonical` (values byte-swapped to little endian)."""
    parts: list[bytes] = []
    pos = start
    limit = len(w.buf)
    while pos < end:
        itag, _vr, length, vpos = w.header(pos, limit)
        if itag == SEQ_DELIM:
            break
        if itag != ITEM:
            raise _Stop(_issue_at(pos))
        item_end = limit if length == UNDEFINED else vpos + length
        parts.append(_ITEM_LE)
        pos = vpos
        while pos < item_end:
            etag, vr, elen, epos = w.header(pos, limit)
            if etag == ITEM_DELIM:
                pos = epos
                break
            nxt = w.skip_value(etag, vr, elen, epos, limit, depth + 1)
            parts.append(_canonical(w, etag, vr, epos, nxt, elen == UNDEFINED, depth + 1))
            pos = nxt
        else:
            pos = item_end
    return b"".join(parts)


def _issue_at(pos: int) -> Any:
    from radguard.dicom.dataset import Issue, IssueKind

    return Issue(IssueKind.BAD_SEQUENCE, pos, None, "bad item")


def _canonical(w: Walker, tag: int, vr: str, vpos: int, end: int, undefined: bool, depth: int) -> bytes:
    """``tag (4, big endian) || length (4, big endian) || canonical value`` of one element."""
    value: bytes | None = None
    if depth < 16 and _is_sq(w.buf, vr, vpos, undefined):
        try:
            value = _items_canonical(w, vpos, end, depth)
        except (_Stop, struct.error):
            value = None  # not a well-formed sequence after all: the bytes
    if value is None:
        value = _value_bytes(w.buf, vr, vpos, end, w.little)
    return tag.to_bytes(4, "big") + len(value).to_bytes(4, "big") + value


def header_digests(obj: ArchiveObject, key: bytes | None = None) -> tuple[dict[str, str], str]:
    """Per-element CRC-32 (``{"ggggeeee": 8 hex}``) and the SHA-256 of the canonical header.

    The canonical header is the concatenation, in ascending tag order, of :func:`_canonical` of every
    top-level element outside group 0002, pixel data and trailing padding.
    """
    p = obj.part10
    buf = p.dataset
    phi = phi_tags()
    if key is None:  # (a caller hashing many objects reads it once: ``phi_key()``)
        key = phi_key()
    fast = dataset.speedups
    if fast is not None:  # compiled, same bytes (tests/unit/test_speedups.py)
        joined, fast_crcs = fast.digest(buf, p.elements, p.explicit, p.little, phi, lambda data: _keyed(data, key))
        return fast_crcs, hashlib.sha256(joined).hexdigest()
    mv = memoryview(buf) if isinstance(buf, bytes) else buf
    w = Walker(buf, p.explicit, p.little, p.seq_ends)
    crcs: dict[str, str] = {}
    parts: list[bytes | memoryview] = []
    crc32 = zlib.crc32
    little = p.little
    items = (_ITEM_LE, _ITEM_BE)
    append = parts.append
    head_be = _HEAD_BE
    skip = PIXEL_TAGS | {PADDING_TAG}
    for tag, vr, _offset, vo, length, undefined in p.elements:
        if tag >> 16 == 0x0002 or tag in skip:
            continue
        if little and vr != "SQ" and not undefined and not ((vr == "" or vr == "UN") and mv[vo : vo + 4] in items):
            value = mv[vo : vo + length]
            head = head_be(tag, length)
            append(head)
            append(value)
            if tag in phi:
                crcs[f"{tag:08X}"] = _keyed(bytes(head) + bytes(value), key)
            else:
                crcs[f"{tag:08X}"] = f"{crc32(value, crc32(head)):08x}"
            continue
        canon = _canonical(w, tag, vr, vo, vo + length, undefined, 0)
        append(canon)
        crcs[f"{tag:08X}"] = _keyed(canon, key) if tag in phi else f"{crc32(canon):08x}"
    return crcs, hashlib.sha256(b"".join(parts)).hexdigest()


def phi_key() -> bytes:
    """The key of :func:`_keyed`: the first 64 bytes of the site secret (BLAKE2b's key size)."""
    return site_secret()[:64]


def _keyed(data: bytes, key: bytes) -> str:
    """Element digest of a patient-identifying attribute: BLAKE2b-32 keyed with the site secret.

    An unkeyed checksum of a low-entropy value (a birth date: ~73,000 candidates) could be reversed
    by anyone who reads the store; keyed with ``RADGUARD_PHI_SECRET`` (``key``: its first 64 bytes)
    it cannot. Same 8-hex format.
    """
    return hashlib.blake2b(data, key=key, digest_size=4).hexdigest()


def canonical_pixels(obj: ArchiveObject) -> bytes | None:
    """Decoded pixel values, little endian, interleaved (see module docstring); None if not decodable."""
    import numpy as np

    from radguard.errors import DicomFileError

    try:
        from io import BytesIO

        from pydicom.pixels import pixel_array  # type: ignore[attr-defined]

        arr = pixel_array(BytesIO(bytes(obj.data)), raw=True)
    except (DicomFileError, Exception):  # any decoder failure: not verifiable
        return None
    arr = np.ascontiguousarray(arr)
    return arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def fingerprint(obj: ArchiveObject, *, decode_pixels: bool = False, key: bytes | None = None) -> Fingerprint:
    """Everything the ledger keeps about ``obj`` (one pass of SHA-256 over the file, one over the pixels).

    ``key``: :func:`phi_key`, read once by a caller that fingerprints many objects (default: read here)."""
    fp = Fingerprint(file_sha256=hashlib.sha256(obj.data).hexdigest(), size=obj.size, dicom=obj.is_dicom)
    if not obj.is_dicom:
        return fp
    p = obj.part10
    if p.meta:
        fp.meta_sha256 = hashlib.sha256(obj.data[128 if p.has_magic else 0 : p.meta_end]).hexdigest()
    fp.transfer_syntax = str(p.transfer_syntax)
    fp.sop_class_uid = p.text(TAG_SOP_CLASS) or p.text(0x00020002)
    fp.sop_instance_uid = p.text(TAG_SOP_INSTANCE) or p.text(0x00020003)
    fp.series_uid = p.text(TAG_SERIES)
    fp.study_uid = p.text(TAG_STUDY)
    fp.elements, fp.header_sha256 = header_digests(obj, key)
    pixel = p.pixel
    if pixel is None:
        return fp
    value = p.dataset[pixel.value_offset : pixel.end]
    fp.pixel_sha256 = hashlib.sha256(value).hexdigest()
    geo = geometry(obj)
    if not pixel.undefined and geo is not None:
        fp.layout = native_layout(obj, pixel, geo)
        fb = geo.frame_bytes * geo.frames
        if fp.layout is not None and (geo.samples == 1 or geo.planar == 0):
            fp.pixel_canonical_sha256 = (
                fp.pixel_sha256 if len(value) == fb else hashlib.sha256(value[:fb]).hexdigest()
            )
    if fp.pixel_canonical_sha256 is None and decode_pixels:
        canon = canonical_pixels(obj)
        fp.pixel_canonical_sha256 = hashlib.sha256(canon).hexdigest() if canon is not None else None
    return fp
