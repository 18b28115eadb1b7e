"""``web-harvest``: many objects downloaded by one client over WADO-RS/REST within a window, or a QIDO-RS
listing of the whole archive (PS3.18 §10.6 without a study-level key), on records the HTTP parser builds."""

from __future__ import annotations

from radguard.monitor import detections
from tests.support.web import STUDY, WADO_TYPE, Web, multipart, request, response

RULE = "web-harvest"
OID = "0a1b2c3d-0a1b2c3d-0a1b2c3d-0a1b2c3d-0a1b2c3d"


def wado(n: int) -> tuple[bytes, bytes]:
    return (request("GET", f"/dicom-web/studies/{STUDY}.{n}", {"Accept": "multipart/related"}),
            response(ctype=WADO_TYPE, body=multipart(b"DICM")))


def test_fires_on_many_downloads_in_the_window() -> None:
    web = Web()
    web.connection([wado(n) for n in range(30)])
    (f,) = detections.run(web.records(), [RULE])
    assert (f.rule, f.severity.value, f.target) == (RULE, "high", "10.0.0.2:8042")
    assert (f.evidence["source"], f.evidence["objects_in_window"], f.evidence["broad_listings"]) == ("10.0.0.5", 30, 0)


def test_rest_downloads_count_and_the_window_matters() -> None:
    web = Web()
    rest = (request("GET", f"/instances/{OID}/file"), response(ctype="application/dicom", body=b"x" * 200))
    for n in range(30):  # one a second
        web.connection([rest], t=float(n))
    assert [f.evidence["objects"] for f in detections.run(web.records(), [RULE])] == [30]
    assert detections.run(web.records(), [RULE], {RULE: {"window_seconds": 10}}) == []


def test_fires_on_an_unconstrained_qido_listing() -> None:
    web = Web()
    web.connection([(request("GET", "/dicom-web/instances?PatientName=*"), response(body=b"[]"))])
    (f,) = detections.run(web.records(), [RULE])
    assert f.evidence["broad_listings"] == 1 and f.evidence["listing_resources"] == ["/dicom-web/instances"]


def test_silent_on_a_viewer() -> None:
    web = Web()
    web.connection([(request("GET", f"/dicom-web/studies?StudyInstanceUID={STUDY}"), response()), wado(0),
                    (request("GET", "/dicom-web/studies?limit=1"), response()),
                    (request("GET", "/studies"), response(body=b'["a"]')),
                    (request("GET", f"/dicom-web/studies/{STUDY}/metadata"), response())])
    assert detections.run(web.records(), [RULE]) == []
    failed = Web()
    failed.connection([(rq, response(404)) for rq, _ in [wado(n) for n in range(30)]])
    assert detections.run(failed.records(), [RULE]) == []
