"""How findings name DICOM attributes: by tag and keyword (PS3.6), never by value."""

from __future__ import annotations

import sys
from typing import Any

#: (DicomDictionary, [(mask1, mask2, keyword)] of the repeating groups in pydicom's order), loaded once
_dicts: tuple[dict[int, tuple[str, ...]], list[tuple[int, int, str]]] | None = None


def tag_str(tag: int | None) -> str | None:
    """``(gggg,eeee)`` of a tag, or None."""
    return None if tag is None else f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def keyword(tag: int | None) -> str:
    """DICOM keyword of a tag (PS3.6), ``"private"`` for private tags, ``""`` if unknown.

    The keyword ``pydicom.datadict.keyword_for_tag`` gives (tests/unit/test_tags.py compares every tag of
    the dictionary), read from pydicom's data dictionary module alone: importing the ``pydicom`` package
    (pixel handlers, numpy, requests: ~0.3 s) in every seal or audit worker that meets a malformed file
    cost more than the worker's first batch of files.
    """
    if tag is None:
        return ""
    if (tag >> 16) & 1:
        return "private"
    main, repeaters = _dicts or _load()
    entry = main.get(tag)
    if entry is not None:
        return entry[4]
    for mask1, mask2, kw in repeaters:  # pydicom.datadict.mask_match, first match in dictionary order
        if (tag ^ mask1) & mask2 == 0:
            return kw
    return ""


def _load() -> tuple[dict[int, tuple[str, ...]], list[tuple[int, int, str]]]:
    global _dicts
    mod: Any = sys.modules.get("pydicom._dicom_dict")
    if mod is None:
        import importlib.machinery
        import importlib.util
        from pathlib import Path

        spec = importlib.util.find_spec("pydicom")  # the package is located, not imported
        if spec is None or spec.origin is None:
            raise ImportError("pydicom is not installed")
        path = str(Path(spec.origin).parent / "_dicom_dict.py")
        loader = importlib.machinery.SourceFileLoader("radguard.inspect._pydicom_dict", path)
        found = importlib.util.spec_from_loader(loader.name, loader)
        assert found is not None  # a loader was given
        mod = importlib.util.module_from_spec(found)
        loader.exec_module(mod)
    repeaters = [(int(m.replace("x", "0"), 16), int("".join("F0"[c == "x"] for c in m), 16), entry[4])
                 for m, entry in mod.RepeatersDictionary.items()]
    _dicts = (mod.DicomDictionary, repeaters)
    return _dicts
