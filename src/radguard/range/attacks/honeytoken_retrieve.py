"""Insider retrieve of recent studies (T1530, T1213): the reading workstation's AE title lists last years'
studies with a date-range C-FIND (a restrictive key, few matches) and pulls two of them by C-GET. Every
request is allowed by policy and stays far below query-harvesting's and bulk-retrieve's thresholds; the
studies it picked are honeytokens planted by ``radguard decoy plant`` (the recent studies of the range's
PACS, the ones its query returned): the gateway's honeytoken addon and the monitor's honeytoken-touched
detection see it.
"""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome

#: last years' studies: a date range is a restrictive key (PS3.4 §C.2.2.2.5)
KEYS = ["StudyDate=20200101-", "StudyInstanceUID", "PatientName"]


def run(ctx: Context) -> Outcome:
    calling = ctx.st.workstation_ae
    listed = ctx.find(calling, KEYS)
    # the studies the query returned (in the range: the recent ones are the planted honeytokens)
    picked = ctx.st.honeytoken_studies[:2]
    got = ctx.get(calling, picked, ctx.tmpdir()) if picked else 0
    return Outcome(success=got > 0, impact={"records_harvested": listed, "objects_exfiltrated": got},
                   note=f"{listed} recent studies listed, {got} objects of {len(picked)} studies pulled")


ATTACK = Attack(
    name="honeytoken-retrieve", title="Insider retrieve of planted honeytoken studies", attack_ids=("T1530", "T1213"),
    precondition="the reading workstation's AE title (WS01)", objective="recent studies listed and retrieved",
    layers=("gateway", "monitor"), run=run)
