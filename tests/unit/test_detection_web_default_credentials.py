"""``web-default-credentials-used``: HTTP Basic (RFC 7617) with a known vendor default pair; the pairs are data
(a threshold), records hold only keyed hashes, and no password reaches the finding."""

from __future__ import annotations

import json

from radguard.monitor import detections
from tests.support.web import Web, basic, request, response

RULE = "web-default-credentials-used"


def test_fires_high_when_accepted() -> None:
    web = Web()
    web.connection([(request("GET", "/system", basic("orthanc", "orthanc")), response()),
                    (request("GET", "/patients", basic("orthanc", "orthanc")), response())], client="10.0.0.66")
    (f,) = detections.run(web.records(), [RULE])
    assert (f.rule, f.severity.value, f.target) == (RULE, "high", "10.0.0.2:8042")
    assert (f.evidence["user"], f.evidence["requests"], f.evidence["accepted"]) == ("orthanc", 2, 2)
    assert "orthanc:orthanc" not in json.dumps(f.to_dict())


def test_refused_attempts_are_medium() -> None:
    web = Web()
    web.connection([(request("GET", "/system", basic("admin", "admin")), response(401))])
    (f,) = detections.run(web.records(), [RULE])
    assert f.severity.value == "medium" and f.evidence["statuses"] == [401]


def test_the_list_is_data() -> None:
    web = Web()
    web.connection([(request("GET", "/system", basic("svc", "Winter2024")), response())])
    assert detections.run(web.records(), [RULE]) == []
    (f,) = detections.run(web.records(), [RULE], {RULE: {"pairs": "svc:Winter2024,x:y"}})
    assert f.evidence["user"] == "svc"


def test_silent_on_other_credentials() -> None:
    web = Web()
    web.connection([(request("GET", "/system", basic("orthanc", "a-long-unique-one")), response()),
                    (request("GET", "/system", {"Authorization": "Bearer abc"}), response())])
    assert detections.run(web.records(), [RULE]) == []
