"""Ransomware, header-preserving, on the range's archive copy (the Part 10 header left readable, the rest
encrypted), and a ransom note (T1486)."""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome, ransom


def run(ctx: Context) -> Outcome:
    return ransom(ctx, "header")


ATTACK = Attack(
    name="ransomware-header", title="Ransomware, header-preserving", attack_ids=("T1486", "T0882"),
    precondition="write access to the archive's storage", objective="every object encrypted",
    layers=("seal+audit", "canaries", "backups"), run=run, archive=True)
