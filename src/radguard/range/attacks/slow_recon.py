"""Slow reconnaissance with a valid AE title (T1046, T0846, T1119): an attacker holding the reading
workstation's AE title (WS01, read from its configuration) walks the DICOM services it found listening in
the department, one every few seconds: a C-ECHO, then one narrow C-FIND (a name prefix, PS3.4 §C.2.2.2.4)
at each. Every request is one WS01 may make; the few endpoints stay below dicom-sweep's threshold, the
narrow queries below query-harvesting's, and nothing is rejected: the gateway and the monitor's
thresholds let it pass. Only the decoy, one of the services it cannot tell apart from a PACS, sees it.
"""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome

#: seconds between two requests (slow enough for any rate threshold)
PAUSE = 1.0
#: a narrow query: a patient-name prefix (the range's sample patients, none of the honeytoken studies, so that
#: only the decoy layer is measured), the study UID and date as return keys
KEYS = ["PatientName=Comp*", "StudyInstanceUID", "StudyDate"]


def run(ctx: Context) -> Outcome:
    calling = ctx.st.workstation_ae
    mapped = records = 0
    for at in ctx.endpoints():
        mapped += ctx.echo(calling, at)
        ctx.wait(PAUSE)
        records += ctx.find(calling, KEYS, at=at)
        ctx.wait(PAUSE)
    return Outcome(success=records > 0, impact={"endpoints_mapped": mapped, "records_harvested": records},
                   note=f"{mapped} DICOM services mapped, {records} study records listed with a valid AE title")


ATTACK = Attack(
    name="slow-recon", title="Slow valid-AE reconnaissance", attack_ids=("T1046", "T0846", "T1119"),
    precondition="the reading workstation's AE title (WS01); patience",
    objective="DICOM services mapped and study records listed below every rate threshold", layers=("decoy",),
    run=run)
