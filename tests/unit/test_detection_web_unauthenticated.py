"""``web-unauthenticated``: the PACS's web API answers DICOMweb/REST requests that carry no credentials (posture)."""

from __future__ import annotations

from radguard.monitor import detections
from tests.support.web import Web, basic, request, response

RULE = "web-unauthenticated"


def test_fires_on_answered_requests_without_credentials() -> None:
    web = Web()
    web.connection([(request("GET", "/dicom-web/studies?limit=1"), response()),
                    (request("GET", "/patients"), response())])
    (f,) = detections.run(web.records(), [RULE])
    assert (f.rule, f.severity.value, f.target) == (RULE, "medium", "10.0.0.2:8042")
    assert f.evidence["apis"] == {"qido-rs": 1, "rest": 1} and f.evidence["requests"] == 2


def test_silent_when_the_api_demands_credentials() -> None:
    web = Web()
    web.connection([(request("GET", "/patients"), response(401)),
                    (request("GET", "/patients", basic("alice", "x")), response()),
                    (request("GET", "/app/explorer.html"), response(ctype="text/html", body=b"<html>"))])
    assert detections.run(web.records(), [RULE]) == []
