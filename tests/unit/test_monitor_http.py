"""The monitor's HTTP/1.1 parser (h11 both ways) on wire bytes: DICOMweb services told apart (PS3.18 §10),
pipelining, chunked and close-delimited bodies, WADO-RS parts counted, STOW-RS files inspected, and no
patient identifier or password in clear in the records."""

from __future__ import annotations

import json

from radguard.monitor.http import api_of, basic_credentials, classify_path, credential_hash, looks_like_request
from radguard.phi import phi_hash
from tests.support.web import (
    STUDY,
    WADO_TYPE,
    Web,
    basic,
    dicom_file,
    multipart,
    request,
    response,
)


def _records(*exchanges: tuple[bytes, bytes], pipelined: bool = False) -> list[dict]:
    web = Web()
    web.connection(exchanges, pipelined=pipelined)
    return web.records()


def test_services_are_told_apart() -> None:
    def api(method: str, path: str) -> str:
        return api_of(method, classify_path(path), "")

    assert api("GET", "/dicom-web/studies") == "qido-rs"
    assert api("GET", f"/dicom-web/studies/{STUDY}/series") == "qido-rs"
    assert api("GET", f"/dicom-web/studies/{STUDY}") == "wado-rs"
    assert api("GET", f"/dicom-web/studies/{STUDY}/series/1.2.3/instances/1.2.3.4/frames/1") == "wado-rs"
    assert api("GET", f"/dicom-web/studies/{STUDY}/metadata") == "wado-rs"
    assert api("POST", "/dicom-web/studies") == "stow-rs"
    assert api("GET", "/instances/0a1b2c3d-0a1b2c3d-0a1b2c3d-0a1b2c3d-0a1b2c3d/file") == "rest"
    assert api("GET", "/system") == "rest"
    assert api("GET", "/app/explorer.html") == "other"
    assert looks_like_request(b"GET / HTTP/1.1\r\n") and not looks_like_request(b"\x16\x03\x01\x02\x00")


def test_query_values_and_uids_are_hashed() -> None:
    (r,) = _records((request("GET", "/dicom-web/studies?PatientName=Doe%5EJane&PatientID=ID-123&limit=5&"
                             "StudyDate="), response(body=b"[{}]")))
    assert r["api"] == "qido-rs" and r["status"] == 200 and r["complete"]
    assert r["query"]["PatientName"] == phi_hash("Doe^Jane") and r["query"]["limit"] == "5"
    assert r["query_universal"] == ["StudyDate"]
    (w,) = _records((request("GET", f"/dicom-web/studies/{STUDY}"), response(ctype=WADO_TYPE, body=b"")))
    assert w["resource"] == "/dicom-web/studies/{uid}" and w["uids"] == [phi_hash(STUDY)]
    text = json.dumps([r, w])
    assert "Doe" not in text and "ID-123" not in text and STUDY not in text


def test_basic_credentials_keep_the_user_and_a_hash() -> None:
    (r,) = _records((request("GET", "/system", basic("orthanc", "s3cret!")), response()))
    assert (r["auth"], r["auth_user"], r["auth_hash"]) == ("basic", "orthanc", credential_hash("orthanc", "s3cret!"))
    assert "s3cret" not in json.dumps(r)
    assert basic_credentials(b"Bearer abc") is None and basic_credentials(b"Basic !!!") is None
    (b,) = _records((request("GET", "/system", {"Authorization": "Bearer eyJ.x.y"}), response(401)))
    assert (b["auth"], b["auth_user"], b["status"]) == ("bearer", None, 401)


def test_pipelined_exchanges_and_wado_parts() -> None:
    two = multipart(b"DICM-one", b"DICM-two")
    records = _records((request("GET", f"/dicom-web/studies/{STUDY}", {"Accept": "multipart/related"}),
                        response(ctype=WADO_TYPE, body=two)),
                       (request("HEAD", "/system"), b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
                       (request("GET", "/patients"), response(body=b'["a"]')), pipelined=True)
    assert [r["method"] for r in records] == ["GET", "HEAD", "GET"]
    assert records[0]["parts"] == 2 and records[0]["response_bytes"] == len(two)
    assert records[1]["response_bytes"] == 0 and records[2]["response_bytes"] == 5
    assert all(r["complete"] and r["error"] is None for r in records)


def test_chunked_and_close_delimited_bodies() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    close = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
    records = _records((request("GET", "/a"), chunked), (request("GET", "/b"), close))
    assert [r["response_bytes"] for r in records] == [5, 13]


def test_stow_parts_are_inspected() -> None:
    polyglot = dicom_file(b"MZ" + b"\x90" * 126)
    body = multipart(dicom_file(), polyglot)
    (r,) = _records((request("POST", "/dicom-web/studies", {"Content-Type": WADO_TYPE}, body), response()))
    assert (r["api"], r["uploads"], r["request_bytes"]) == ("stow-rs", 2, len(body))
    assert {i["rule"] for i in r["inspection"]} == {"executable-preamble"}
    (rest,) = _records((request("POST", "/instances", {"Content-Type": "application/dicom"},
                                dicom_file(trailing=b"\x00" * 64 + b"#!/bin/sh\n")), response()))
    assert rest["api"] == "rest" and rest["uploads"] == 1 and rest["inspection"]


def test_a_dicom_port_is_not_a_web_port() -> None:
    from tests.support.wire import Traffic

    traffic = Traffic()
    traffic.connection([(True, request("GET", "/system")), (False, response())], port=8042)
    assert [r["kind"] for r in traffic.records(web_ports={8042})] == ["http"]
    assert [r["kind"] for r in traffic.records(web_ports={8042}, dicom_ports={8042})] == ["connection"]
    assert traffic.records(web_ports=set()) == []  # not a web port: nothing parsed, nothing recorded


def test_garbage_and_gaps_are_results() -> None:
    (r,) = _records((b"GET / HTTP/1.1\r\nHost x\r\n\r\n", b""))
    assert r["error"] and not r["complete"]
    web = Web()
    web.connection([(request("GET", "/system"), b"")])
    (s,) = web.records()
    assert s["status"] is None and not s["complete"]
    cut = Web()  # an upload cut short (the capture ends mid-body): one record, incomplete
    cut.connection([(request("POST", "/instances", {"Content-Type": "application/dicom"}, b"x" * 100)[:-40], b"")])
    (u,) = cut.records()
    assert (u["method"], u["request_bytes"], u["complete"]) == ("POST", 60, False)
