"""PACS web / DICOMweb probes: ``web-no-auth``, ``web-default-credentials`` (``--intrusive``), ``web-cleartext``.

Read-only GETs of well-known endpoints: Orthanc REST ``/system`` and ``/studies``,
DICOMweb QIDO-RS ``/dicom-web/studies`` (PS3.18 §10.6). Response bodies are only
counted (number of studies), never kept: they can hold PHI.
"""

from __future__ import annotations

import base64
import enum
import json
from dataclasses import dataclass, field
from typing import Any

from radguard.assess.knowledge import default_credentials

#: the most we read of any response body (bytes)
MAX_BODY = 256 * 1024


class WebPath(enum.StrEnum):
    ORTHANC_SYSTEM = "/system"
    ORTHANC_STUDIES = "/studies"
    DICOMWEB_STUDIES = "/dicom-web/studies"


@dataclass(kw_only=True)
class WebReport:
    """What the web probes saw on one HTTP(S) endpoint."""

    scheme: str
    server: str | None = None
    product: str | None = None
    version: str | None = None
    dicom_aet: str | None = None
    dicom_port: int | None = None
    is_pacs: bool = False
    auth_required: bool = False
    open_paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    default_credentials: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class _Resp:
    status: int
    headers: dict[str, str]
    body: bytes


async def _get(host: str, port: int, scheme: str, path: str, timeout: float, auth: tuple[str, str] | None = None,
               ) -> _Resp:
    """One HTTP/1.1 GET with a body cap (raw asyncio: no redirects, no cookies, bounded reads)."""
    import asyncio

    from radguard.assess.probes.tls import client_context

    ssl_ctx = client_context() if scheme == "https" else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl_ctx, server_hostname=None if ssl_ctx is None else host),
        timeout,
    )
    try:
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"GET {path} HTTP/1.1", f"Host: {hostport}", "User-Agent: radguard-scan",
                 "Accept: application/json, application/dicom+json", "Connection: close"]
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            lines.append(f"Authorization: Basic {token}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except asyncio.LimitOverrunError:
            raise ValueError("HTTP response headers too large") from None
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ValueError("not an HTTP response")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        body = b""
        length = headers.get("content-length")
        if length is not None and length.isdigit():
            want = min(int(length), MAX_BODY)
            body = await asyncio.wait_for(reader.readexactly(want), timeout) if want else b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await asyncio.wait_for(_read_chunked(reader), timeout)
        else:
            body = await asyncio.wait_for(reader.read(MAX_BODY), timeout)
        return _Resp(status=int(parts[1]), headers=headers, body=body)
    finally:
        if ssl_ctx is not None:
            writer.transport.abort()
        else:
            writer.close()


async def _read_chunked(reader: Any) -> bytes:
    out = bytearray()
    while len(out) < MAX_BODY:
        size_line = await reader.readline()
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out += await reader.readexactly(min(size, MAX_BODY - len(out)))
        if len(out) >= MAX_BODY:
            break
        await reader.readline()
    return bytes(out)


async def http_answers(host: str, port: int, scheme: str, timeout: float) -> bool:
    """Whether ``GET /`` gets an HTTP response (service identification)."""
    try:
        await _get(host, port, scheme, "/", timeout)
    except (OSError, TimeoutError, ValueError, EOFError):
        return False
    return True


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


async def probe_web(host: str, port: int, scheme: str, *, timeout: float, intrusive: bool) -> WebReport:
    """GET the known PACS endpoints; classify what is open, what asks for credentials."""
    report = WebReport(scheme=scheme)
    for path in WebPath:
        try:
            resp = await _get(host, port, scheme, path.value, timeout)
        except (OSError, TimeoutError, ValueError, EOFError) as exc:
            if not report.status:
                report.error = f"HTTP request failed: {exc.__class__.__name__}"
                return report
            continue
        report.status[path.value] = resp.status
        report.server = report.server or resp.headers.get("server")
        realm = resp.headers.get("www-authenticate", "")
        if resp.status == 401:
            report.auth_required = True
            if "orthanc" in realm.lower():
                report.is_pacs, report.product = True, "orthanc"
            continue
        if resp.status != 200:
            continue
        doc = _json(resp.body)
        if path is WebPath.ORTHANC_SYSTEM and isinstance(doc, dict) and "DicomAet" in doc:
            report.is_pacs, report.product = True, "orthanc"
            report.version = str(doc.get("Version")) if doc.get("Version") else None
            report.dicom_aet = str(doc["DicomAet"])
            port_value = doc.get("DicomPort")
            report.dicom_port = int(port_value) if isinstance(port_value, int) else None
            report.open_paths[path.value] = {"status": 200, "fields": sorted(doc)[:20]}
        elif path is WebPath.ORTHANC_STUDIES and isinstance(doc, list) and report.product == "orthanc":
            report.open_paths[path.value] = {"status": 200, "studies": len(doc)}
        elif path is WebPath.DICOMWEB_STUDIES and (isinstance(doc, list) or "dicom" in resp.headers.get(
                "content-type", "")):
            report.is_pacs = True
            report.open_paths[path.value] = {"status": 200, "studies": len(doc) if isinstance(doc, list) else None}
    if report.status.get(WebPath.DICOMWEB_STUDIES.value) == 204:  # QIDO-RS: no matches, but answered
        report.is_pacs = True
        report.open_paths[WebPath.DICOMWEB_STUDIES.value] = {"status": 204, "studies": 0}
    if intrusive and report.auth_required:
        for cred in default_credentials():
            if report.product and cred["product"] != report.product:
                continue
            try:
                resp = await _get(host, port, scheme, cred["path"], timeout, auth=(cred["username"], cred["password"]))
            except (OSError, TimeoutError, ValueError, EOFError):
                continue
            if resp.status == 200:
                report.default_credentials.append(
                    {"product": cred["product"], "username": cred["username"], "path": cred["path"]}
                )
                doc = _json(resp.body)
                if isinstance(doc, dict) and doc.get("Version") and not report.version:
                    report.version = str(doc["Version"])
    return report
