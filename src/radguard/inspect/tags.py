"""How findings name DICOM attributes: by tag and keyword (PS3.6), never by value."""

from __future__ import annotations


def tag_str(tag: int | None) -> str | None:
    """``(gggg,eeee)`` of a tag, or None."""
    return None if tag is None else f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def keyword(tag: int | None) -> str:
    """DICOM keyword of a tag (PS3.6), ``"private"`` for private tags, ``""`` if unknown."""
    if tag is None:
        return ""
    if (tag >> 16) & 1:
        return "private"
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(tag) or ""
