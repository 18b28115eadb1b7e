"""``web-upload-malicious``: a STOW-RS part (PS3.18 §10.5) or REST POST body whose DICOM file fails the shared
object checks (radguard.inspect: the CVE-2019-11687 polyglot's executable preamble, trailing data)."""

from __future__ import annotations

from radguard.monitor import detections
from tests.support.web import WADO_TYPE, Web, basic, dicom_file, multipart, request, response

RULE = "web-upload-malicious"


def stow(*files: bytes) -> tuple[bytes, bytes]:
    return request("POST", "/dicom-web/studies", {"Content-Type": WADO_TYPE}, multipart(*files)), response()


def test_fires_on_a_polyglot_by_stow() -> None:
    web = Web()
    web.connection([stow(dicom_file(), dicom_file(b"MZ" + b"\x90" * 126))], client="10.0.0.66")
    (f,) = detections.run(web.records(), [RULE])
    assert (f.rule, f.severity.value, f.target) == (RULE, "critical", "10.0.0.2:8042")
    assert f.evidence["source"] == "10.0.0.66" and f.evidence["checks"] == {"executable-preamble": 1}
    assert f.evidence["apis"] == ["stow-rs"] and f.evidence["accepted"] == 1


def test_fires_on_trailing_data_by_rest() -> None:
    web = Web()
    web.connection([(request("POST", "/instances", basic("u", "p"), dicom_file(trailing=b"\x00" * 64 + b"#!/bin/sh")),
                     response())])
    (f,) = detections.run(web.records(), [RULE])
    assert f.evidence["apis"] == ["rest"] and f.evidence["auth_user"] == "u" and "trailing-data" in f.evidence["checks"]


def test_silent_on_clean_uploads() -> None:
    web = Web()
    web.connection([stow(dicom_file(), dicom_file()), (request("POST", "/instances", body=dicom_file()), response())])
    records = web.records()
    assert sum(r["uploads"] for r in records) == 3
    assert detections.run(records, [RULE]) == []
