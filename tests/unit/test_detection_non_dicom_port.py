"""``non-dicom-on-dicom-port``: another protocol on a port where DICOM runs (configured, or seen in the
capture), on records the analyzer builds from real segments."""

from __future__ import annotations

from typing import Any

from radguard.monitor import detections
from tests.support.wire import Message, Traffic, assert_no_phi, echo, rq

RULE = "non-dicom-on-dicom-port"
HTTP: list[Message] = [(True, b"GET /studies?PatientName=Doe HTTP/1.1\r\nHost: pacs\r\n\r\n"),
                       (False, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")]
SSH: list[Message] = [(False, b"SSH-2.0-OpenSSH_9.2\r\n"), (True, b"SSH-2.0-scanner\r\n" + bytes(64))]


def records(*conns: tuple[list[Message], int], dicom_on: int | None = None, **kw: Any) -> list[Any]:
    traffic = Traffic()
    if dicom_on is not None:
        traffic.association(rq(), [echo()], client="10.0.0.5", port=dicom_on)
    for i, (messages, port) in enumerate(conns):
        traffic.connection(messages, client=f"10.0.0.{20 + i}", port=port, t=1.0 + i)
    return traffic.records(**kw)


def test_fires_on_http_to_a_configured_dicom_port() -> None:
    found = detections.run(records((HTTP, 104)), [RULE])
    (f,) = found
    assert (f.rule, f.severity.value, f.target) == (RULE, "medium", "10.0.0.2:104")
    assert f.evidence["connections"] == 1 and f.evidence["sources"] == ["10.0.0.20"]
    assert f.evidence["bytes_from_clients"] == len(HTTP[0][1])
    assert_no_phi(found)


def test_fires_where_dicom_was_seen_in_the_capture() -> None:
    (f,) = detections.run(records((SSH, 9999), dicom_on=9999), [RULE])
    assert f.target == "10.0.0.2:9999"
    (f,) = detections.run(records((HTTP, 8080), dicom_ports={8080}), [RULE])
    assert f.target == "10.0.0.2:8080"


def test_quiet_elsewhere_and_for_dicom() -> None:
    assert detections.run(records((HTTP, 8080)), [RULE]) == []  # not a DICOM port: no record at all
    assert detections.run(records(dicom_on=104), [RULE]) == []
    assert detections.run(records(([(False, b"220 ready\r\n")], 104)), [RULE]) == []  # client sent nothing


def test_thresholds_are_tunable() -> None:
    two = records((HTTP, 104), (SSH, 104))
    (f,) = detections.run(two, [RULE], {RULE: {"min_connections": 2}})
    assert f.evidence["connections"] == 2 and f.evidence["sources"] == ["10.0.0.20", "10.0.0.21"]
    assert detections.run(two, [RULE], {RULE: {"min_connections": 3}}) == []
