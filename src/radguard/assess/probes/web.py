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


class _Client:
    """HTTP/1.1 GETs to one endpoint (raw asyncio: no redirects, no cookies, bounded reads), over one
    connection for as long as the server keeps it open (``keep_alive``); a request on a kept connection
    that the server dropped meanwhile is sent once more on a fresh one."""

    def __init__(self, host: str, port: int, scheme: str, timeout: float, *, keep_alive: bool) -> None:
        self.host, self.port, self.scheme, self.timeout, self.keep_alive = host, port, scheme, timeout, keep_alive
        self._streams: tuple[Any, Any] | None = None

    async def get(self, path: str, auth: tuple[str, str] | None = None) -> _Resp:
        if self._streams is not None:
            if not self._streams[0].at_eof():
                try:
                    return await self._exchange(path, auth)
                except (OSError, ValueError, EOFError):  # the server dropped the kept connection
                    pass
            self.close()
        await self._connect()
        return await self._exchange(path, auth)

    async def _connect(self) -> None:
        import asyncio

        from radguard.assess.probes.tls import client_context

        ssl_ctx = client_context() if self.scheme == "https" else None
        async with asyncio.timeout(self.timeout):
            self._streams = await asyncio.open_connection(
                self.host, self.port, ssl=ssl_ctx, server_hostname=None if ssl_ctx is None else self.host)

    async def _exchange(self, path: str, auth: tuple[str, str] | None) -> _Resp:
        import asyncio

        assert self._streams is not None
        reader, writer = self._streams
        keep = False
        try:
            host = self.host
            hostport = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
            lines = [f"GET {path} HTTP/1.1", f"Host: {hostport}", "User-Agent: radguard-scan",
                     "Accept: application/json, application/dicom+json"]
            if not self.keep_alive:
                lines.append("Connection: close")
            if auth:
                token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
                lines.append(f"Authorization: Basic {token}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            async with asyncio.timeout(self.timeout):
                await writer.drain()
            try:
                async with asyncio.timeout(self.timeout):
                    head = await reader.readuntil(b"\r\n\r\n")
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
            async with asyncio.timeout(self.timeout):
                if length is not None and length.isdigit():
                    want = min(int(length), MAX_BODY)
                    body = await reader.readexactly(want) if want else b""
                    # the whole body read: the connection can carry the next request (HTTP/1.1 persistence)
                    keep = (self.keep_alive and want == int(length) and parts[0] == "HTTP/1.1"
                            and headers.get("connection", "").lower() != "close")
                elif headers.get("transfer-encoding", "").lower() == "chunked":
                    body = await _read_chunked(reader)
                else:
                    body = await reader.read(MAX_BODY)
            return _Resp(status=int(parts[1]), headers=headers, body=body)
        finally:
            if not keep:
                self.close()

    def close(self) -> None:
        if self._streams is None:
            return
        writer = self._streams[1]
        self._streams = None
        if self.scheme == "https":
            writer.transport.abort()
        else:
            writer.close()


async def _get(host: str, port: int, scheme: str, path: str, timeout: float) -> _Resp:
    """One HTTP/1.1 GET on its own connection (``Connection: close``)."""
    return await _Client(host, port, scheme, timeout, keep_alive=False).get(path)


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
    client = _Client(host, port, scheme, timeout, keep_alive=True)
    try:
        return await _probe_web(client, scheme, intrusive=intrusive)
    finally:
        client.close()


async def _probe_web(client: _Client, scheme: str, *, intrusive: bool) -> WebReport:
    report = WebReport(scheme=scheme)
    for path in WebPath:
        try:
            resp = await client.get(path.value)
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
                resp = await client.get(cred["path"], auth=(cred["username"], cred["password"]))
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
