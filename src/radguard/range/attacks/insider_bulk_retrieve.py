"""Insider bulk retrieve: the reading workstation's AE pulls every study again and again (T1530, T1213).

Every C-GET is allowed by policy (WS01 may retrieve); only the monitor's retrieve baseline sees it.
(The range cannot change the clock: "out of hours" is the volume, not the hour.)
"""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome

ROUNDS = 20


def run(ctx: Context) -> Outcome:
    studies = ctx.pacs_studies()
    got = sum(ctx.get(ctx.st.workstation_ae, studies, ctx.tmpdir()) for _ in range(ROUNDS))
    return Outcome(success=got >= ROUNDS * len(studies) // 2, impact={"objects_exfiltrated": got},
                   note=f"{got} objects pulled to the workstation")


ATTACK = Attack(
    name="insider-bulk-retrieve", title="Insider bulk retrieve", attack_ids=("T1530", "T1213"),
    precondition="a reading workstation's AE title (WS01)", objective="the whole PACS retrieved repeatedly",
    layers=("monitor",), run=run)
