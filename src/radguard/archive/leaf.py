"""The leaf of a ledger entry (docs/archive.md "Ledger format"): what the signed Merkle roots cover.

Standard library only (no SQLAlchemy): the seal's workers and the quick re-seal (:mod:`radguard.archive.delta`)
compute leaves without loading the store's mappings; :mod:`radguard.archive.ledger` re-exports them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from radguard.archive.digest import unpack_elements

#: entry fields covered by the leaf hash (and so by the signed roots); the per-element digests are
#: covered through ``header_sha256`` (their hash), checked when they are used
LEAF_FIELDS = ("path", "size", "mtime_ns", "dicom", "sop_instance_uid", "series_uid", "study_uid", "sop_class_uid",
               "transfer_syntax", "file_sha256", "meta_sha256", "header_sha256", "pixel_sha256",
               "pixel_canonical_sha256", "canary")
#: ``json.dumps(..., sort_keys=True, separators=(",", ":"))`` without building an encoder per call
_LEAF_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def leaf_bytes(fields: dict[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, no spaces) of the :data:`LEAF_FIELDS` of an entry."""
    return _LEAF_JSON({k: fields.get(k) for k in LEAF_FIELDS}).encode()


def leaf_of(fields: dict[str, Any]) -> str:
    return hashlib.sha256(leaf_bytes(fields)).hexdigest()


def expand(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry in ledger form with its element digests unpacked and its layout decoded (what
    :func:`radguard.archive.verify.compare` reads); ``entry`` is left as it is."""
    layout = entry.get("layout")
    return entry | {"elements": unpack_elements(entry.get("elements") or ""),
                    "layout": json.loads(layout) if layout else None,
                    "dicom": bool(entry["dicom"]), "canary": bool(entry["canary"])}
