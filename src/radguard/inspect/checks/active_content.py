"""``active-content``: content that can act when opened.

Encapsulated PDF (PS3.3 C.24.2, EncapsulatedDocument) with JavaScript, OpenAction, Launch or
embedded files (PDF 2.0 §12.6, §7.11.4); encapsulated CDA/HTML (PS3.3 A.85) with script or event
handlers; executables or archives inside OB/UN/private element values (PS3.5 §6.2).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from radguard import rulebook
from radguard.dicom import dataset
from radguard.dicom.dataset import PIXEL_TAGS, Element
from radguard.inspect.magic import (
    DANGEROUS,
    KIND_SEVERITY,
    PDF_TOKENS,
    PREFIX2,
    TEXT_START,
    ContentKind,
    classify,
    maybe_dangerous,
)
from radguard.inspect.obj import TAG_ENCAPSULATED_DOCUMENT, TAG_MIME_TYPE, ArchiveObject
from radguard.inspect.tags import keyword, tag_str
from radguard.models import Finding, Severity

RULE = rulebook.rule("active-content")

_PDF_HEX = re.compile(rb"#([0-9A-Fa-f]{2})")
_MARKUP = re.compile(rb"<script\b|javascript:|vbscript:|\son[a-z]+\s*=|<iframe\b|<object\b|<embed\b", re.IGNORECASE)
_BINARY_VRS = frozenset({"OB", "UN", "OW", ""})
#: first bytes a value that :func:`maybe_dangerous` lets through can start with
_FIRST_BYTES = frozenset(m[0] for m in PREFIX2 if m) | TEXT_START
#: the same sets as tables for the compiled path: by byte, and by two bytes (first * 256 + second)
_FIRST_TABLE = bytes(b in _FIRST_BYTES for b in range(256))
_TEXT_TABLE = bytes(b in TEXT_START for b in range(256))


def _two_byte_table(prefixes: frozenset[bytes]) -> bytes:
    table = bytearray(65536)
    for p in prefixes:
        if len(p) == 2:
            table[p[0] * 256 + p[1]] = 1
    return bytes(table)


_PREFIX2_TABLE = _two_byte_table(PREFIX2)


def _pdf_tokens(doc: bytes) -> tuple[list[str], Severity]:
    norm = _PDF_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), doc)
    found: list[str] = []
    sev = Severity.INFO
    for token, token_sev in PDF_TOKENS:
        if re.search(re.escape(token) + rb"(?![A-Za-z])", norm):
            found.append(token.decode())
            sev = max(sev, token_sev)
    return found, sev


def _candidates(buf: bytes | memoryview, elements: list[Element]) -> list[Element]:
    """Elements that may hold active content: the encapsulated document, and private or binary-VR values of
    4+ bytes whose first bytes could start a dangerous kind (:func:`maybe_dangerous`). One comprehension:
    every element of every stored object passes here, and a per-element loop body costs 10x more. The
    cheapest test goes first: a value's first byte, which rules out most values whatever their VR."""
    binary_vrs, document = _BINARY_VRS, TAG_ENCAPSULATED_DOCUMENT
    fast = dataset.speedups.candidates if dataset.speedups is not None else None
    if fast is not None and type(elements) is list:  # compiled, same list (tests); None: decided below
        found: list[Element] | None = fast(buf, elements, _FIRST_TABLE, _TEXT_TABLE, _PREFIX2_TABLE, document)
        if found is not None:
            return found
    prefix2, text_start, first = PREFIX2, TEXT_START, _FIRST_BYTES
    return [e for e in elements if (e[4] >= 4 and buf[e[3]] in first and ((e[0] >> 16) & 1 or e[1] in binary_vrs)
                                    and (buf[e[3]] in text_start or bytes(buf[e[3]:e[3] + 2]) in prefix2))
            or e[0] == document]


def check(obj: ArchiveObject) -> Iterator[Finding]:
    p = obj.part10
    if not p.elements:
        return
    buf = p.dataset
    binary_vrs = _BINARY_VRS
    for tag, vr, offset, vo, length, _undefined in _candidates(buf, p.elements):
        private = (tag >> 16) & 1
        if not private and vr not in binary_vrs and tag != TAG_ENCAPSULATED_DOCUMENT:
            continue  # the common case: a public element of a text or numeric VR
        if tag in PIXEL_TAGS:
            continue
        if tag == TAG_ENCAPSULATED_DOCUMENT:
            yield from _document(obj, bytes(buf[vo : vo + length]), offset)
            continue
        if vr == "" and not private:
            continue  # implicit VR: only private elements are opaque here
        if length < 4:
            continue
        head = bytes(buf[vo : vo + 16])
        if not maybe_dangerous(head):
            continue
        kind = classify(bytes(buf[vo : vo + 132]))
        if kind in DANGEROUS:
            value = buf[vo : vo + length]
            yield RULE.finding(
                obj.target,
                {"tag": tag_str(tag), "keyword": keyword(tag), "vr": vr or "implicit", "kind": kind.value,
                 "offset": offset, "size": length, "value_sha256": hashlib.sha256(value).hexdigest()},
                severity=KIND_SEVERITY[kind],
                title=f"{kind.value} content inside element {tag_str(tag)}",
            )


def _document(obj: ArchiveObject, doc: bytes, offset: int) -> Iterator[Finding]:
    mime = (obj.part10.text(TAG_MIME_TYPE) or "").lower()
    kind = classify(doc[:132])
    base = {"tag": tag_str(TAG_ENCAPSULATED_DOCUMENT), "keyword": "EncapsulatedDocument", "mime_type": mime,
            "offset": offset, "size": len(doc), "value_sha256": hashlib.sha256(doc).hexdigest()}
    if kind in DANGEROUS - {ContentKind.HTML}:
        yield RULE.finding(obj.target, {**base, "kind": kind.value}, severity=KIND_SEVERITY[kind],
                           title=f"Encapsulated document is {kind.value} content")
        return
    if kind == ContentKind.PDF or "pdf" in mime:
        tokens, sev = _pdf_tokens(doc)
        if tokens:
            yield RULE.finding(obj.target, {**base, "kind": "pdf", "pdf_tokens": tokens}, severity=sev,
                               title="Encapsulated PDF with active content")
        return
    if kind == ContentKind.HTML or "xml" in mime or "html" in mime or doc.lstrip()[:1] == b"<":
        hits = sorted({m.group(0).strip().lower().decode("latin-1") for m in _MARKUP.finditer(doc)})
        if hits:
            yield RULE.finding(obj.target, {**base, "kind": "markup", "markup_tokens": hits[:10]},
                               severity=Severity.HIGH, title="Encapsulated CDA/HTML with script")
