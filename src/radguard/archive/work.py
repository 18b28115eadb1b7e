"""Batch functions that run in worker processes (or Dask workers): read once, check, hash.

They take and return plain data (paths, dicts, :class:`~radguard.models.Finding` objects) so that
any executor (a process pool, Dask) can carry them.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, NamedTuple

from radguard.archive.digest import fingerprint, pack_elements, phi_key
from radguard.archive.leaf import expand, leaf_of
from radguard.archive.verify import Status, compare
from radguard.inspect.api import unreadable
from radguard.inspect.checks import CHECKS_VERSION, run_checks
from radguard.inspect.obj import close_raw, object_from_raw, open_regular, read_object, read_raw
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
    key = phi_key()  # once per batch (environment and secret file look-ups)
    for path, mtime_ns in items:
        try:
            obj = read_object(path)
        except OSError as exc:
            out.append({"path": path, "error": True, "findings": [unreadable(path, exc)]})
            continue
        try:
            fp = fingerprint(obj, decode_pixels=decode, key=key)
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
        out.append({"path": path, "row": row, "error": False, "findings": found})
    return out


class Audited(NamedTuple):
    """What an audit worker concluded about one file (plain data: any executor carries it)."""

    path: str
    status: Status
    findings: list[Finding]
    #: modification time when read (0 if unreadable)
    mtime_ns: int = 0
    #: SOP Instance UID of a DICOM file the ledger does not know (``new``), else None
    sop: str | None = None


def audit_batch(job: AuditJob) -> list[Audited]:
    """Stateless checks on each file and, for sealed files, the ledger comparison, each file read once.

    ``job`` pairs each path with its ledger entry (:data:`radguard.archive.ledger.AUDIT_FIELDS`, None
    if never sealed). An object whose SHA-256 equals the sealed one is byte-identical to what the seal
    checked, so the check results cached in the ledger (same :data:`CHECKS_VERSION`) are its results:
    it is hashed, not parsed. A changed one is parsed once, checked and compared with its entry
    (:func:`radguard.archive.verify.compare`) from the same bytes.
    """
    out: list[Audited] = []
    for path, entry in job:
        try:
            data, mtime_ns, mm = read_raw(path)
        except OSError as exc:
            out.append(Audited(path, Status.UNREADABLE, [unreadable(path, exc)]))
            continue
        obj = None
        try:
            sha = hashlib.sha256(data).hexdigest() if entry is not None else ""
            if entry is not None and sha == entry["file_sha256"]:
                cached = entry.get("checks") if entry.get("checks_version") == CHECKS_VERSION else None
                if cached is not None:
                    found = [Finding.from_dict(d | {"target": path}) for d in json.loads(cached)]
                else:
                    found = run_checks(obj := object_from_raw(path, data, mtime_ns, mm))
                out.append(Audited(path, Status.OK, found, mtime_ns))
                continue
            obj = object_from_raw(path, data, mtime_ns, mm)
            found = run_checks(obj)
            if entry is None:
                sop = obj.part10.text(0x00080018) if obj.is_dicom else None
                out.append(Audited(path, Status.NEW, found, mtime_ns, sop))
                continue
            status, more = compare(expand(entry), obj, sha)
            out.append(Audited(path, status, found + more, mtime_ns))
        finally:
            if obj is not None:
                obj.close()
            else:
                close_raw(data, mm)
    return out


def file_sha256(path: str) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open_regular(path) as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def path_exists(path: str) -> bool:
    return os.path.lexists(path)
