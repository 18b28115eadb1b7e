"""Ledger verification of one object: ``header-tampered``, ``pixel-tampered``, ``transcoded``,
``bytes-changed``, ``canary-touched`` (docs/archive.md, canonical forms in :mod:`radguard.archive.digest`).

45 CFR 164.312(c)(1)/(c)(2): integrity and a mechanism to authenticate ePHI. Findings name changed
attributes by keyword and tag, never their values; pixel changes name frames and a bounding box.
"""

from __future__ import annotations

import enum
import hashlib
from typing import Any

from radguard import rulebook
from radguard.archive.digest import Fingerprint, canonical_pixels, fingerprint
from radguard.inspect.obj import ArchiveObject
from radguard.inspect.tags import keyword as kw
from radguard.models import Finding, Severity

HEADER_TAMPERED = rulebook.rule("header-tampered")
PIXEL_TAMPERED = rulebook.rule("pixel-tampered")
TRANSCODED = rulebook.rule("transcoded")
BYTES_CHANGED = rulebook.rule("bytes-changed")
CANARY = rulebook.rule("canary-touched")


class Status(enum.StrEnum):
    """What the audit concluded about one file."""

    OK = "ok"
    TAMPERED = "tampered"
    TRANSCODED = "transcoded"
    REPLACED = "replaced"  # sealed as DICOM, now not DICOM (encrypted, overwritten)
    NEW = "new"
    UNREADABLE = "unreadable"


def _name(tag_hex: str) -> str:
    tag = int(tag_hex, 16)
    word = kw(tag)
    return f"{word} ({tag_hex[:4]},{tag_hex[4:]})" if word == "private" or not word else word


def _region(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    if not old or not new or any(old.get(k) != new.get(k) for k in ("rows", "cols", "frames", "samples", "bits")):
        return {}
    frames = [i for i, (a, b) in enumerate(zip(old["frame_crc"], new["frame_crc"], strict=False)) if a != b]
    out: dict[str, Any] = {"frames": frames[:100], "frames_changed": len(frames), "frames_total": old["frames"]}
    if old.get("row_band_crc") and new.get("row_band_crc"):
        boxes = []
        for f in frames[:16]:
            rows = [old["row_bands"][i] for i, (a, b) in
                    enumerate(zip(old["row_band_crc"][f], new["row_band_crc"][f], strict=False)) if a != b]
            cols = [old["col_bands"][i] for i, (a, b) in
                    enumerate(zip(old["col_band_crc"][f], new["col_band_crc"][f], strict=False)) if a != b]
            if rows:
                box = {"frame": f, "rows": [rows[0][0], rows[-1][1]]}
                box["cols"] = [cols[0][0], cols[-1][1]] if cols else [0, old["cols"]]
                boxes.append(box)
        out["bounding_boxes"] = boxes
    return out


def compare(entry: dict[str, Any], obj: ArchiveObject, file_sha: str) -> tuple[Status, list[Finding]]:
    """Compare one object with its ledger entry (``file_sha`` already computed by the caller)."""
    if file_sha == entry["file_sha256"]:
        return Status.OK, []
    target = obj.target
    findings: list[Finding] = []
    if entry["dicom"] and not obj.is_dicom:
        status = Status.REPLACED  # not-dicom (encrypted, ...) is reported by the stateless check
    elif not entry["dicom"]:
        status = Status.TAMPERED
        findings.append(HEADER_TAMPERED.finding(target, {"file_sha256": file_sha, "sealed_sha256":
                                                         entry["file_sha256"], "size": obj.size,
                                                         "sealed_size": entry["size"]},
                                                title="Non-DICOM file differs from the sealed ledger"))
    else:
        status, findings = _compare_dicom(entry, obj, fingerprint(obj))
    if entry.get("canary") and status != Status.OK:
        findings.append(CANARY.finding(target, {"status": status.value, "file_sha256": file_sha}))
    return status, findings


def _compare_dicom(entry: dict[str, Any], obj: ArchiveObject, fp: Fingerprint) -> tuple[Status, list[Finding]]:
    target = obj.target
    findings: list[Finding] = []
    old: dict[str, str] = entry.get("elements") or {}
    new = fp.elements
    changed = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    if changed or added or removed:
        findings.append(HEADER_TAMPERED.finding(target, {
            "changed": [_name(k) for k in changed], "added": [_name(k) for k in added],
            "removed": [_name(k) for k in removed], "sealed_header_sha256": entry["header_sha256"],
            "header_sha256": fp.header_sha256,
        }))
    pixel_status = Status.OK
    if entry.get("pixel_sha256") != fp.pixel_sha256:
        ts_changed = entry.get("transfer_syntax") != fp.transfer_syntax
        sealed_canon = entry.get("pixel_canonical_sha256")
        canon = fp.pixel_canonical_sha256
        if ts_changed and canon is None and sealed_canon is not None:
            raw = canonical_pixels(obj)
            canon = hashlib.sha256(raw).hexdigest() if raw is not None else None
        if ts_changed and sealed_canon is not None and canon == sealed_canon:
            pixel_status = Status.TRANSCODED
        elif ts_changed and (sealed_canon is None or canon is None):
            pixel_status = Status.TRANSCODED
            findings.append(TRANSCODED.finding(target, {
                "transfer_syntax": fp.transfer_syntax, "sealed_transfer_syntax": entry.get("transfer_syntax"),
                "pixels_verified": False}, severity=Severity.MEDIUM,
                title="Re-encoded; decoded pixels could not be verified against the ledger"))
        else:
            pixel_status = Status.TAMPERED
            ev: dict[str, Any] = {"pixel_sha256": fp.pixel_sha256, "sealed_pixel_sha256": entry.get("pixel_sha256"),
                                  "transfer_syntax": fp.transfer_syntax}
            ev.update(_region(entry.get("layout"), fp.layout))
            findings.append(PIXEL_TAMPERED.finding(target, ev))
    if findings and any(f.rule != TRANSCODED.id for f in findings):
        return Status.TAMPERED, findings
    if not findings and not _reencoded(entry, fp, pixel_status):
        # same attributes, pixels, transfer syntax and file meta: not a re-encoding (a DICOM writer
        # writes its own file meta), the bytes changed in the preamble, the trailing padding or after
        # the data set
        findings.append(BYTES_CHANGED.finding(target, {
            "size": obj.size, "sealed_size": entry["size"], "transfer_syntax": fp.transfer_syntax}))
        return Status.TAMPERED, findings
    if not findings:
        findings.append(TRANSCODED.finding(target, {
            "transfer_syntax": fp.transfer_syntax, "sealed_transfer_syntax": entry.get("transfer_syntax"),
            "meta_changed": fp.meta_sha256 != entry.get("meta_sha256"), "pixels_verified": True,
            "pixel_reencoded": pixel_status == Status.TRANSCODED}))
    return Status.TRANSCODED, findings


def _reencoded(entry: dict[str, Any], fp: Fingerprint, pixel_status: Status) -> bool:
    """Whether an object whose attributes and pixels match its entry was re-encoded: its transfer
    syntax, file meta (PS3.10 §7.1) or pixel encoding changed."""
    return (pixel_status == Status.TRANSCODED or fp.transfer_syntax != entry.get("transfer_syntax")
            or fp.meta_sha256 != entry.get("meta_sha256"))
