"""``radguard recover --from BACKUP PATH``: restore only verified copies (45 CFR 164.308(a)(7)(ii)(B),
CSF RC.RP-03: integrity of backups verified before restoration).

For each sealed object under PATH that is missing or whose SHA-256 differs from the ledger, the
backup tree is searched by SOP Instance UID (by file name for non-DICOM entries); a candidate
is restored only if its SHA-256 equals the sealed one. Originals are moved aside into
``<PATH>/.radguard-aside-<time>/`` (never deleted), as are files under PATH that are not in the
ledger and look encrypted or are ransom notes. Dry run unless ``apply``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from radguard import rulebook
from radguard.archive.ledger import Ledger
from radguard.archive.tree import iter_files, normalize
from radguard.archive.work import file_sha256
from radguard.inspect.api import inspect_path
from radguard.inspect.checks.not_dicom import RULE as NOT_DICOM
from radguard.inspect.obj import read_object
from radguard.models import Finding, Severity

UNRECOVERABLE = rulebook.rule("unrecoverable")


@dataclass
class Action:
    path: str
    action: str  # restore | move-aside | unrecoverable
    reason: str
    source: str | None = None
    sop_instance_uid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "action": self.action, "reason": self.reason, "source": self.source,
                "sop_instance_uid": self.sop_instance_uid}


@dataclass
class RecoverReport:
    applied: bool
    actions: list[Action] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    aside_dir: str | None = None
    seconds: float = 0.0
    checked: int = 0

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for a in self.actions:
            counts[a.action] = counts.get(a.action, 0) + 1
        return {"applied": self.applied, "checked": self.checked, "counts": counts, "aside_dir": self.aside_dir,
                "time_to_recover_s": round(self.seconds, 3), "actions": [a.to_dict() for a in self.actions]}


def _damaged(entry: dict[str, Any]) -> str | None:
    path = entry["path"]
    if not os.path.lexists(path):
        return "missing"
    try:
        st = os.stat(path)
        if st.st_size != entry["size"]:
            return "changed"
        return None if file_sha256(path) == entry["file_sha256"] else "changed"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def recover(ledger: Ledger, path: str, backup: str, *, apply: bool = False) -> RecoverReport:
    """Plan (and with ``apply`` perform) the restoration of ``path`` from ``backup``."""
    t0 = time.monotonic()
    path, backup = normalize(path), normalize(backup)
    report = RecoverReport(applied=apply)
    damaged: list[tuple[dict[str, Any], str]] = []
    sealed_paths = 0
    for e in ledger.iter_leaves(path):
        sealed_paths += 1
        why = _damaged(e)
        if why:
            damaged.append((e, why))
    report.checked = sealed_paths
    stray = _strays(ledger, path)
    need_uid = {e["sop_instance_uid"]: e for e, _w in damaged if e["sop_instance_uid"]}
    need_name = {os.path.basename(e["path"]): e for e, _w in damaged if not e["sop_instance_uid"]}
    candidates: dict[str, list[str]] = {}
    for item in iter_files(backup):
        if item.error is not None:
            continue
        name = os.path.basename(item.path)
        if name in need_name:
            candidates.setdefault("name:" + name, []).append(item.path)
        if not need_uid:
            continue
        try:
            obj = read_object(item.path)
        except OSError:
            continue
        try:
            uid = obj.part10.text(0x00080018) if obj.is_dicom else None
        finally:
            obj.close()
        if uid and uid in need_uid:
            candidates.setdefault(uid, []).append(item.path)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = os.path.join(path, f".radguard-aside-{stamp}")
    for e, why in damaged:
        uid = e["sop_instance_uid"]
        cands = candidates.get(uid, []) if uid else candidates.get("name:" + os.path.basename(e["path"]), [])
        good = next((c for c in cands if _sha_or_none(c) == e["file_sha256"]), None)
        if good is None:
            reason = ("no copy with this SOP Instance UID in the backup" if uid else "no copy in the backup") \
                if not cands else f"{len(cands)} backup copies, none matches the sealed SHA-256"
            report.actions.append(Action(e["path"], "unrecoverable", f"{why}; {reason}", None, uid))
            report.findings.append(UNRECOVERABLE.finding(e["path"], {"state": why, "reason": reason,
                                                                    "candidates": len(cands),
                                                                    "sop_instance_uid": uid}))
            continue
        report.actions.append(Action(e["path"], "restore", why, good, uid))
        if apply:
            if os.path.lexists(e["path"]):
                _move_aside(e["path"], path, aside)
            _restore(good, e["path"], e["mtime_ns"])
    for s, why in stray:
        report.actions.append(Action(s, "move-aside", why))
        if apply:
            _move_aside(s, path, aside)
    if apply and os.path.isdir(aside):
        report.aside_dir = aside
    report.seconds = time.monotonic() - t0
    return report


def _strays(ledger: Ledger, path: str) -> list[tuple[str, str]]:
    """Files under a sealed ``path`` absent from the ledger that look encrypted or are ransom notes."""
    out: list[tuple[str, str]] = []
    for item in iter_files(path):
        if item.error is not None or ledger.stat_lookup([item.path]):
            continue
        for f in inspect_path(item.path):
            if f.rule == NOT_DICOM.id and f.severity == Severity.CRITICAL:
                out.append((item.path, str(f.evidence.get("verdict", "not-dicom"))))
                break
    return out


def _sha_or_none(path: str) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def _move_aside(src: str, root: str, aside: str) -> None:
    dest = os.path.join(aside, os.path.relpath(src, root))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    os.replace(src, dest)


def _restore(src: str, dest: str, mtime_ns: int) -> None:
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = dest + ".radguard-restore"
    shutil.copyfile(src, tmp)
    os.utime(tmp, ns=(mtime_ns, mtime_ns))
    os.replace(tmp, dest)
