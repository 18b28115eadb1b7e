"""Batch functions that run in worker processes (or Dask workers): read once, check, hash.

They take and return plain data (paths, dicts) so that any executor can carry them.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from radguard.archive.digest import fingerprint, pack_elements
from radguard.archive.ledger import leaf_of
from radguard.archive.verify import Status, compare
from radguard.inspect.api import unreadable
from radguard.inspect.checks import CHECKS_VERSION, run_checks
from radguard.inspect.obj import object_from_raw, open_regular, read_object, read_raw
from radguard.models import Finding

SealJob = tuple[list[tuple[str, int]], bool, bool]  # [(path, mtime_ns)], decode_pixels, run checks
AuditJob = list[tuple[str, dict[str, Any] | None]]
#: ``json.dumps(..., separators=(",", ":"))`` without building an encoder per call
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode


def _checks_cache(found: list[Finding]) -> list[dict[str, Any]]:
    return [{k: v for k, v in f.to_dict().items() if k != "target"} for f in found]


def seal_batch(job: SealJob) -> list[dict[str, Any]]:
    """Fingerprint each file and run the stateless checks; unreadable files come back as findings."""
    items, decode, _checks = job
    out: list[dict[str, Any]] = []
    for path, mtime_ns in items:
        try:
            obj = read_object(path)
        except OSError as exc:
            out.append({"path": path, "error": True, "findings": [unreadable(path, exc).to_dict()]})
            continue
        try:
            fp = fingerprint(obj, decode_pixels=decode)
            found = run_checks(obj)
        finally:
            obj.close()
        row = fp.to_dict()
        for k in ("sop_instance_uid", "series_uid", "study_uid", "sop_class_uid", "transfer_syntax"):
            row[k] = row[k][:64] if row[k] else None
        row.update(path=path, mtime_ns=mtime_ns, canary=False)
        row["leaf"] = leaf_of(row)
        row.update(elements=pack_elements(fp.elements),
                   layout=_COMPACT_JSON(fp.layout) if fp.layout is not None else None,
                   checks=_COMPACT_JSON(_checks_cache(found)))
        out.append({"path": path, "row": row, "error": False, "findings": [f.to_dict() for f in found]})
    return out


def audit_batch(job: AuditJob) -> list[dict[str, Any]]:
    """Stateless checks on each file; for sealed files, SHA-256 against the ledger first.

    An object whose SHA-256 equals the sealed one is byte-identical to what the seal checked, so
    the check results cached in the ledger (same :data:`CHECKS_VERSION`) are its results: it is
    hashed, not parsed. Changed objects come back with status ``mismatch`` for :func:`compare_one`.
    """
    out: list[dict[str, Any]] = []
    for path, entry in job:
        try:
            data, mtime_ns, mm = read_raw(path)
        except OSError as exc:
            out.append({"path": path, "status": Status.UNREADABLE.value,
                        "findings": [unreadable(path, exc).to_dict()]})
            continue
        sop = None
        try:
            sha = hashlib.sha256(data).hexdigest() if entry is not None else ""
            if entry is not None and sha == entry["file_sha256"] and entry.get("checks") is not None \
                    and entry.get("checks_version") == CHECKS_VERSION:
                found = [d | {"target": path} for d in json.loads(entry["checks"])]
                status = Status.OK.value
            else:
                obj = object_from_raw(path, data, mtime_ns, None)
                found = [f.to_dict() for f in run_checks(obj)]
                if entry is None:
                    status = Status.NEW.value
                    sop = obj.part10.text(0x00080018) if obj.is_dicom else None
                else:
                    status = Status.OK.value if sha == entry["file_sha256"] else MISMATCH
        finally:
            if mm is not None:
                data = b""
                mm.close()
        out.append({"path": path, "status": status, "findings": found, "sop": sop, "mtime_ns": mtime_ns,
                    "dicom": bool(sop), "sha": sha})
    return out


MISMATCH = "mismatch"


def compare_one(path: str, entry: dict[str, Any]) -> tuple[Status, list[Finding]]:
    """Ledger comparison of one changed object (reads it again: changed objects are rare)."""
    try:
        obj = read_object(path)
    except OSError as exc:
        return Status.UNREADABLE, [unreadable(path, exc)]
    try:
        return compare(entry, obj, hashlib.sha256(obj.data).hexdigest())
    finally:
        obj.close()


def file_sha256(path: str) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open_regular(path) as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def path_exists(path: str) -> bool:
    return os.path.lexists(path)
