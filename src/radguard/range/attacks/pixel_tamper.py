"""Pixel tampering in the archive, CT-GAN style: pixels edited, every header attribute intact (T1565.001)."""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome, digest, pixel_files, tamper_pixels


def run(ctx: Context) -> Outcome:
    target = pixel_files(ctx.archive_files())[0]
    before = digest(target)
    tamper_pixels(target)
    altered = digest(target) != before
    return Outcome(success=altered, impact={"objects_altered": int(altered)}, note=f"edited {target.name}")


ATTACK = Attack(
    name="pixel-tamper", title="Pixel tampering (CT-GAN style)", attack_ids=("T1565.001", "T0831"),
    precondition="write access to the archive's storage", objective="an image altered in place",
    layers=("seal+audit", "backups"), run=run, archive=True)
