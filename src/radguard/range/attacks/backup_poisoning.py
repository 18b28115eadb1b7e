"""Backup poisoning: the attacker's version is placed in the backup, the original deleted, and the
routine restore brings the attacker's version back (T1565.001, T1490).

The restore is the department's routine: ``radguard recover`` (verified against the sealed ledger)
when seal+audit is on, a plain copy from the backup when it is off.
"""

from __future__ import annotations

import shutil

from radguard.range.attacks.kit import Attack, Context, Outcome, digest, pixel_files, tamper_pixels
from radguard.range.lab import env_for


def run(ctx: Context) -> Outcome:
    import subprocess
    import sys

    target = pixel_files(ctx.archive_files())[0]
    rel = target.relative_to(ctx.archive)
    poisoned = ctx.backup / rel
    tamper_pixels(poisoned)
    bad = digest(poisoned)
    target.unlink()
    if "seal+audit" in ctx.off:  # the routine restore without a ledger: copy what the backup holds
        shutil.copy2(poisoned, target)
    else:
        subprocess.run([sys.executable, "-m", "radguard.cli.main", "recover", "--from", str(ctx.backup),
                        str(ctx.archive), "--apply", "--json"], capture_output=True, env=env_for(ctx.st.dir),
                       timeout=300)
    served = target.exists() and digest(target) == bad
    return Outcome(success=served, impact={"objects_altered": int(served), "objects_lost": int(not target.exists())},
                   note="the attacker's version was restored" if served else "the poisoned copy was refused")


ATTACK = Attack(
    name="backup-poisoning", title="Backup poisoning", attack_ids=("T1565.001", "T1490"),
    precondition="write access to the archive and to its backup", objective="the attacker's version restored",
    layers=("seal+audit",), run=run, archive=True)
