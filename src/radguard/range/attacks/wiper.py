"""Wiper: deletes whole studies from the archive (T1485)."""

from __future__ import annotations

import shutil

from radguard.range.attacks.kit import Attack, Context, Outcome


def run(ctx: Context) -> Outcome:
    studies = sorted(p for p in ctx.archive.iterdir() if p.is_dir() and p.name.startswith("study"))[-2:]
    lost = sum(ctx.count_files(s) for s in studies)
    for s in studies:
        shutil.rmtree(s)
    return Outcome(success=lost > 0, impact={"objects_lost": lost}, note=f"{len(studies)} studies deleted")


ATTACK = Attack(
    name="wiper", title="Wiper deleting studies", attack_ids=("T1485", "T0809"),
    precondition="write access to the archive's storage", objective="studies deleted",
    layers=("seal+audit", "backups"), run=run, archive=True)
