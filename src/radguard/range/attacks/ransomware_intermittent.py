"""Ransomware, intermittent encryption of the range's archive copy (every other 4 KiB block), and a ransom
note (T1486)."""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome, ransom


def run(ctx: Context) -> Outcome:
    return ransom(ctx, "intermittent")


ATTACK = Attack(
    name="ransomware-intermittent", title="Ransomware, intermittent encryption", attack_ids=("T1486", "T0882"),
    precondition="write access to the archive's storage", objective="every object encrypted",
    layers=("seal+audit", "canaries", "backups"), run=run, archive=True)
