"""C-GET exfiltration by a compromised modality's AE: the objects come back on the same association (T1048)."""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome


def run(ctx: Context) -> Outcome:
    got = ctx.get("CT01", ctx.pacs_studies(), ctx.tmpdir())
    return Outcome(success=got > 0, impact={"objects_exfiltrated": got}, note=f"{got} objects retrieved by C-GET")


ATTACK = Attack(
    name="get-exfil", title="C-GET exfiltration", attack_ids=("T1048", "T0882"),
    precondition="a modality's AE title (CT01), which may only store",
    objective="objects received by the attacker's C-GET", layers=("gateway",), run=run)
