"""The ``web`` probe against a scripted in-process HTTP server on loopback: how Orthanc REST and DICOMweb
(QIDO-RS, PS3.18 §10.6) answers are classified (open, asking for credentials, not a PACS), the response
parsing (lengths, chunked bodies, the body cap), ``--intrusive`` default credentials, and the findings."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

from radguard.assess.evaluate import web_findings
from radguard.assess.probes.web import MAX_BODY, WebReport, http_answers, probe_web

#: path -> (status, headers, body); a callable gets the request's Authorization header
Route = tuple[int, dict[str, str], bytes]
Routes = Mapping[str, Route | Callable[[str | None], Route]]

ORTHANC_SYSTEM = json.dumps({"DicomAet": "ORTHANC", "DicomPort": 4242, "Version": "1.12.1", "Name": "PACS"}).encode()
JSON = {"Content-Type": "application/json"}
AUTH = {"WWW-Authenticate": 'Basic realm="Orthanc Secure Access"'}


def serve(routes: Routes, *, chunked: bool = False, intrusive: bool = False) -> WebReport:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        path = head[0].split(" ")[1]
        auth = next((h.split(":", 1)[1].strip() for h in head if h.lower().startswith("authorization:")), None)
        route = routes.get(path, (404, {}, b"not found"))
        status, headers, body = route(auth) if callable(route) else route
        lines = [f"HTTP/1.1 {status} X", "Server: scripted", *(f"{k}: {v}" for k, v in headers.items())]
        if chunked:
            lines.append("Transfer-Encoding: chunked")
            payload = b"".join(f"{len(body[i:i + 7]):x}\r\n".encode() + body[i:i + 7] + b"\r\n"
                               for i in range(0, len(body), 7)) + b"0\r\n\r\n"
        else:
            lines.append(f"Content-Length: {len(body)}")
            payload = body
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        await writer.drain()
        writer.close()

    async def go() -> WebReport:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            assert await http_answers("127.0.0.1", port, "http", 2.0)
            return await probe_web("127.0.0.1", port, "http", timeout=2.0, intrusive=intrusive)

    return asyncio.run(go())


def test_open_orthanc() -> None:
    report = serve({"/system": (200, JSON, ORTHANC_SYSTEM), "/studies": (200, JSON, b'["a", "b", "c"]')})
    assert (report.is_pacs, report.product, report.version, report.dicom_aet, report.dicom_port) == (
        True, "orthanc", "1.12.1", "ORTHANC", 4242)
    assert report.open_paths == {"/system": {"status": 200, "fields": ["DicomAet", "DicomPort", "Name", "Version"]},
                                 "/studies": {"status": 200, "studies": 3}}
    assert report.status == {"/system": 200, "/studies": 200, "/dicom-web/studies": 404}
    assert report.server == "scripted" and not report.auth_required
    findings = {f.rule: f for f in web_findings("h:8042", report)}
    assert set(findings) == {"web-no-auth", "web-cleartext"}
    assert findings["web-no-auth"].evidence["readable_without_credentials"]["/studies"] == {"status": 200,
                                                                                           "studies": 3}


def test_chunked_bodies_are_read() -> None:
    report = serve({"/system": (200, JSON, ORTHANC_SYSTEM)}, chunked=True)
    assert report.dicom_aet == "ORTHANC" and report.version == "1.12.1"


def test_orthanc_asking_for_credentials() -> None:
    report = serve({p: (401, AUTH, b"") for p in ("/system", "/studies")})
    assert report.is_pacs and report.auth_required and report.open_paths == {}
    assert {f.rule for f in web_findings("h:8042", report)} == {"web-cleartext"}
    assert web_findings("h:8042", WebReport(scheme="https", is_pacs=True, auth_required=True)) == []


def test_intrusive_default_credentials() -> None:
    good = "Basic " + base64.b64encode(b"orthanc:orthanc").decode()

    def system(auth: str | None) -> Route:
        return (200, JSON, ORTHANC_SYSTEM) if auth == good else (401, AUTH, b"")

    assert serve({"/system": system}).default_credentials == []  # only with --intrusive
    report = serve({"/system": system}, intrusive=True)
    assert report.default_credentials == [{"product": "orthanc", "username": "orthanc", "path": "/system"}]
    assert report.version == "1.12.1"
    (f,) = [f for f in web_findings("h:8042", report) if f.rule == "web-default-credentials"]
    assert "password" not in json.dumps(dict(f.evidence))  # which account, never its secret


def test_dicomweb_without_matches() -> None:
    report = serve({"/dicom-web/studies": (204, {}, b"")})
    assert report.is_pacs and report.open_paths == {"/dicom-web/studies": {"status": 204, "studies": 0}}
    dicom_json = serve({"/dicom-web/studies": (200, {"Content-Type": "application/dicom+json"}, b"[{}, {}]")})
    assert dicom_json.open_paths["/dicom-web/studies"] == {"status": 200, "studies": 2}


def test_not_a_pacs_gives_nothing() -> None:
    report = serve({"/system": (200, JSON, b'{"status": "ok"}'), "/studies": (200, {}, b"<html></html>")})
    assert not report.is_pacs and report.open_paths == {}
    assert web_findings("h:80", report) == []


def test_a_body_above_the_cap_is_cut() -> None:
    huge = b'["' + b"x" * (MAX_BODY + 10) + b'"]'
    report = serve({"/system": (200, JSON, ORTHANC_SYSTEM), "/studies": (200, JSON, huge)})
    assert "/studies" not in report.open_paths  # a cut body is no JSON list: not counted as readable


def test_no_http_is_an_error() -> None:
    async def go() -> tuple[bool, Any]:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return (await http_answers("127.0.0.1", port, "http", 1.0),
                    await probe_web("127.0.0.1", port, "http", timeout=1.0, intrusive=False))

    answers, report = asyncio.run(go())
    assert not answers and report.error is not None and report.error.startswith("HTTP request failed")


def _persistent(routes: Routes, *, close_after: int | None = None) -> tuple[WebReport, int, list[str]]:
    """probe_web against a server keeping connections open (HTTP/1.1 persistence) that, with ``close_after``,
    hangs up silently after that many responses on a connection; (report, connections, requests seen)."""
    connections = 0
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        served = 0
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                path = head.decode("latin-1").split(" ")[1]
                seen.append(path)
                status, headers, body = routes.get(path, (404, {}, b"not found"))  # type: ignore[misc]
                lines = [f"HTTP/1.1 {status} X", "Server: kept", *(f"{k}: {v}" for k, v in headers.items()),
                         f"Content-Length: {len(body)}"]
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
                await writer.drain()
                served += 1
                if close_after is not None and served >= close_after:
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    async def go() -> WebReport:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await probe_web("127.0.0.1", port, "http", timeout=2.0, intrusive=False)

    report = asyncio.run(go())
    return report, connections, seen


def test_the_paths_share_one_kept_connection() -> None:
    routes: Routes = {"/system": (200, JSON, ORTHANC_SYSTEM), "/studies": (200, JSON, b'["a"]')}
    report, connections, seen = _persistent(routes)
    assert connections == 1 and seen == ["/system", "/studies", "/dicom-web/studies"]
    assert report.status == {"/system": 200, "/studies": 200, "/dicom-web/studies": 404}
    assert report.open_paths["/studies"] == {"status": 200, "studies": 1} and report.dicom_port == 4242
    # a server that drops a kept connection: the request goes again on a fresh one, the report is the same
    dropped, connections, seen = _persistent(routes, close_after=1)
    assert connections == 3 and seen == ["/system", "/studies", "/dicom-web/studies"]
    assert (dropped.status, dropped.open_paths) == (report.status, report.open_paths)
