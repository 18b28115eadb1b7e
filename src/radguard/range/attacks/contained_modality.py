"""A compromised modality keeps sending after the response team contained it (``radguard contain --peer CT01``) (T1078).

The containment is the defenders' step; the attack is CT01 storing anyway. The peer is released afterwards.
"""

from __future__ import annotations

import subprocess
import sys

from radguard.range.attacks.kit import Attack, Context, Outcome, stored_outcome
from radguard.range.lab import env_for


def _contain(ctx: Context, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "radguard.cli.main", "contain", "--config", ctx.st.gateway_config, *args,
                    "--json"], capture_output=True, env=env_for(ctx.st.dir), timeout=60)


def run(ctx: Context) -> Outcome:
    if ctx.gateway_on:
        _contain(ctx, "--peer", "CT01")
        ctx.cleanups.append(lambda: _contain(ctx, "--release"))
    ds = ctx.sample()
    ctx.store_dataset("CT01", ds, "after-containment.dcm")
    return stored_outcome(ctx.pacs_has(str(ds.SOPInstanceUID)), yes="stored after containment",
                           no="shut out by containment")


ATTACK = Attack(
    name="contained-modality", title="Compromised modality keeps sending after containment", attack_ids=("T1078",),
    precondition="the AE title CT01 on its usual host; the response team contained CT01",
    objective="an object stored after containment", layers=("gateway",), run=run)
