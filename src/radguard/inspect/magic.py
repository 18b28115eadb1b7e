"""Content kinds by magic number, for preambles, trailers and embedded values.

Sources: PE/COFF (Microsoft PE format, "MZ" DOS stub), ELF (System V gABI), Mach-O
(<mach-o/loader.h>, fat binaries), TIFF 6.0 §2 (the preamble form DICOM PS3.10 §7.5 allows),
PKWARE APPNOTE (ZIP), RFC 1952 (gzip), PDF 2.0 §7.5.2.
"""

from __future__ import annotations

import enum

from radguard.models import Severity


class ContentKind(enum.StrEnum):
    """What a run of bytes looks like."""

    EMPTY = "empty"  # all zero
    TIFF = "tiff"
    PE = "pe"
    ELF = "elf"
    MACHO = "mach-o"
    SCRIPT = "script"
    ZIP = "zip"
    RAR = "rar"
    SEVEN_ZIP = "7z"
    GZIP = "gzip"
    PDF = "pdf"
    HTML = "html"
    DICOM = "dicom"
    OTHER = "other"


_MAGICS: tuple[tuple[bytes, ContentKind], ...] = (
    (b"MZ", ContentKind.PE),
    (b"\x7fELF", ContentKind.ELF),
    (b"\xfe\xed\xfa\xce", ContentKind.MACHO),
    (b"\xfe\xed\xfa\xcf", ContentKind.MACHO),
    (b"\xce\xfa\xed\xfe", ContentKind.MACHO),
    (b"\xcf\xfa\xed\xfe", ContentKind.MACHO),
    (b"\xca\xfe\xba\xbe", ContentKind.MACHO),
    (b"#!", ContentKind.SCRIPT),
    (b"PK\x03\x04", ContentKind.ZIP),
    (b"PK\x05\x06", ContentKind.ZIP),
    (b"Rar!", ContentKind.RAR),
    (b"7z\xbc\xaf\x27\x1c", ContentKind.SEVEN_ZIP),
    (b"\x1f\x8b", ContentKind.GZIP),
    (b"%PDF", ContentKind.PDF),
    (b"II*\x00", ContentKind.TIFF),
    (b"MM\x00*", ContentKind.TIFF),
)
_SCRIPT_HEADS = (b"<script", b"<html", b"<!doctype html", b"<?php", b"@echo off", b"powershell", b"<hta:")

#: severity of finding each kind where it must not be (preamble, trailer, OB value)
KIND_SEVERITY: dict[ContentKind, Severity] = {
    ContentKind.PE: Severity.CRITICAL,
    ContentKind.ELF: Severity.CRITICAL,
    ContentKind.MACHO: Severity.CRITICAL,
    ContentKind.SCRIPT: Severity.HIGH,
    ContentKind.HTML: Severity.HIGH,
    ContentKind.ZIP: Severity.HIGH,
    ContentKind.RAR: Severity.HIGH,
    ContentKind.SEVEN_ZIP: Severity.HIGH,
    ContentKind.GZIP: Severity.MEDIUM,
    ContentKind.PDF: Severity.MEDIUM,
    ContentKind.DICOM: Severity.MEDIUM,
    ContentKind.OTHER: Severity.LOW,
    ContentKind.TIFF: Severity.INFO,
    ContentKind.EMPTY: Severity.INFO,
}

#: kinds that can run code or carry files: always worth a finding inside OB/UN/private values
DANGEROUS = frozenset(
    {ContentKind.PE, ContentKind.ELF, ContentKind.MACHO, ContentKind.SCRIPT, ContentKind.HTML, ContentKind.ZIP,
     ContentKind.RAR, ContentKind.SEVEN_ZIP}
)


_PREFIX2 = frozenset(m[:2] for m, _k in _MAGICS)
_TEXT_START = frozenset(b"<@pP \t\r\n")


def maybe_dangerous(head: bytes) -> bool:
    """Cheap pre-filter: False when ``head`` cannot start any kind in :data:`DANGEROUS`."""
    return head[:2] in _PREFIX2 or (len(head) > 0 and head[0] in _TEXT_START)


def classify(head: bytes) -> ContentKind:
    """Kind of content that starts with ``head`` (give at least 16 bytes)."""
    if not head.strip(b"\x00"):
        return ContentKind.EMPTY
    for magic, kind in _MAGICS:
        if head.startswith(magic):
            return kind
    low = head.lstrip()[:16].lower()
    if any(low.startswith(s[:16]) for s in _SCRIPT_HEADS):
        return ContentKind.HTML if low.startswith((b"<html", b"<!doctype", b"<script")) else ContentKind.SCRIPT
    if len(head) >= 132 and head[128:132] == b"DICM":
        return ContentKind.DICOM
    return ContentKind.OTHER
