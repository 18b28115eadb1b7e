"""Content kinds by magic number, for preambles, trailers and embedded values.

The signatures are data (``signatures.toml`` beside this module, with their sources): magic numbers,
script heads, the severity of each kind out of place, the dangerous kinds and the PDF action tokens.
"""

from __future__ import annotations

import enum
import tomllib
from importlib import resources
from typing import Any

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


def _table() -> dict[str, Any]:
    with resources.files(__package__).joinpath("signatures.toml").open("rb") as fh:
        return tomllib.load(fh)


_SIGNATURES = _table()
_MAGICS: tuple[tuple[bytes, ContentKind], ...] = tuple(
    (bytes.fromhex(row["hex"]), ContentKind(row["kind"])) for row in _SIGNATURES["magic"])
_SCRIPT_HEADS: tuple[bytes, ...] = tuple(h.encode() for h in _SIGNATURES["script_heads"])
_HTML_HEADS: tuple[bytes, ...] = tuple(h.encode() for h in _SIGNATURES["html_heads"])

#: severity of finding each kind where it must not be (preamble, trailer, OB value)
KIND_SEVERITY: dict[ContentKind, Severity] = {
    ContentKind(kind): Severity(sev) for kind, sev in _SIGNATURES["severity"].items()}

#: kinds that can run code or carry files: always worth a finding inside OB/UN/private values
DANGEROUS = frozenset(ContentKind(k) for k in _SIGNATURES["dangerous"])

#: PDF name tokens that act on open (PDF 2.0 §12.6 actions, §7.11.4 embedded files); critical ones first
PDF_TOKENS: tuple[tuple[bytes, Severity], ...] = tuple(
    (row["token"].encode(), Severity(row["severity"])) for row in _SIGNATURES["pdf_token"])


#: first two bytes of every magic, and first bytes of text kinds: what :func:`maybe_dangerous` looks at
PREFIX2 = frozenset(m[:2] for m, _k in _MAGICS)
TEXT_START = frozenset(b"<@pP \t\r\n")


def maybe_dangerous(head: bytes) -> bool:
    """Cheap pre-filter: False when ``head`` cannot start any kind in :data:`DANGEROUS`."""
    return head[:2] in PREFIX2 or (len(head) > 0 and head[0] in TEXT_START)


def classify(head: bytes) -> ContentKind:
    """Kind of content that starts with ``head`` (give at least 16 bytes)."""
    if not head.strip(b"\x00"):
        return ContentKind.EMPTY
    for magic, kind in _MAGICS:
        if head.startswith(magic):
            return kind
    low = head.lstrip()[:16].lower()
    if any(low.startswith(s[:16]) for s in _SCRIPT_HEADS):
        return ContentKind.HTML if low.startswith(_HTML_HEADS) else ContentKind.SCRIPT
    if len(head) >= 132 and head[128:132] == b"DICM":
        return ContentKind.DICOM
    return ContentKind.OTHER
