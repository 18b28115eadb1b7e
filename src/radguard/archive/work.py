"""Batch functions that run in worker processes (or Dask workers): read once, check, hash.

They take and return plain data (paths, dicts) so that any executor can carry them.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from radguard.archive.checks import run_checks
from radguard.archive.digest import fingerprint
from radguard.archive.inspect import unreadable
from radguard.archive.obj import read_object
from radguard.archive.verify import Status, compare

SealJob = tuple[list[tuple[str, int]], bool, bool]  # [(path, mtime_ns)], decode_pixels, run checks
AuditJob = list[tuple[str, dict[str, Any] | None]]


def seal_batch(job: SealJob) -> list[dict[str, Any]]:
    """Fingerprint each file (and run the stateless checks); unreadable files come back as findings."""
    items, decode, checks = job
    out: list[dict[str, Any]] = []
    for path, mtime_ns in items:
        try:
            obj = read_object(path)
        except OSError as exc:
            out.append({"path": path, "error": True, "findings": [unreadable(path, exc).to_dict()]})
            continue
        try:
            fp = fingerprint(obj, decode_pixels=decode)
            found = [f.to_dict() for f in run_checks(obj)] if checks else []
        finally:
            obj.close()
        out.append({"path": path, "mtime_ns": mtime_ns, "fp": fp.to_dict(), "findings": found, "error": False})
    return out


def audit_batch(job: AuditJob) -> list[dict[str, Any]]:
    """Stateless checks on each file, plus ledger verification where an entry was sent along."""
    out: list[dict[str, Any]] = []
    for path, entry in job:
        try:
            obj = read_object(path)
        except OSError as exc:
            out.append({"path": path, "status": Status.UNREADABLE.value,
                        "findings": [unreadable(path, exc).to_dict()]})
            continue
        try:
            found = run_checks(obj)
            status = Status.NEW
            sop = None
            if entry is not None:
                sha = hashlib.sha256(obj.data).hexdigest()
                status, more = compare(entry, obj, sha)
                found.extend(more)
            elif obj.is_dicom:
                sop = obj.part10.text(0x00080018)
            mtime = obj.mtime_ns or 0
        finally:
            obj.close()
        out.append({"path": path, "status": status.value, "findings": [f.to_dict() for f in found],
                    "sop": sop, "mtime_ns": mtime, "dicom": bool(sop)})
    return out


def file_sha256(path: str) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def path_exists(path: str) -> bool:
    return os.path.lexists(path)
