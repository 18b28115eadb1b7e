"""Header tampering in the archive: two patients' identities swapped between images (T1565.001)."""

from __future__ import annotations

import pydicom

from radguard.range.attacks.kit import Attack, Context, Outcome, pixel_files


def run(ctx: Context) -> Outcome:
    a, b = pixel_files(ctx.archive_files())[:2]
    da, db = pydicom.dcmread(a), pydicom.dcmread(b)
    da.PatientName, db.PatientName = "SWAPPED^A", "SWAPPED^B"
    da.PatientID, db.PatientID = db.get("PatientID", ""), "X" + str(da.get("PatientID", ""))
    da.save_as(a)
    db.save_as(b)
    return Outcome(success=True, impact={"objects_altered": 2}, note="patient identity swapped in 2 images")


ATTACK = Attack(
    name="header-tamper", title="Header tampering (patient swap)", attack_ids=("T1565.001",),
    precondition="write access to the archive's storage", objective="two images carry the wrong patient",
    layers=("seal+audit", "backups"), run=run, archive=True)
