"""HTTP exchanges as wire bytes, turned into ``http`` records by the monitor's real parser
(:class:`radguard.monitor.http.HttpConversation`): the input of the web detections' unit tests."""

from __future__ import annotations

import io
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom import dcmread
from pydicom.data import get_testdata_file

from radguard.monitor.detections.web_upload_malicious import inspector
from tests.support.wire import Traffic

BOUNDARY = "b0undary"
WADO_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
STUDY = "1.2.826.0.1.3680043.8.498.5"
PORT = 8042


def request(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: pacs:8042", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def response(status: int = 200, ctype: str = "application/json", body: bytes = b"[]") -> bytes:
    return (f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def multipart(*parts: bytes) -> bytes:
    """A multipart/related body of application/dicom parts (PS3.18 §8.6.1.2)."""
    out = b"".join(f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + p + b"\r\n" for p in parts)
    return out + f"--{BOUNDARY}--\r\n".encode()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + b64encode(f"{user}:{password}".encode()).decode()}


def dicom_file(preamble: bytes = b"\x00" * 128, trailing: bytes = b"") -> bytes:
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    ds.preamble = preamble
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue() + trailing


@dataclass
class Web:
    """Connections of clients to one web server (10.0.0.2:8042), cut into TCP segments; ``records()`` runs them
    through the monitor's analyzer (reassembly, then the HTTP parser)."""

    traffic: Traffic = field(default_factory=Traffic)

    def connection(self, exchanges: Sequence[tuple[bytes, bytes]], client: str = "10.0.0.5", t: float = 0.0,
                   pipelined: bool = False) -> None:
        if pipelined:
            messages = [(True, b"".join(rq for rq, _ in exchanges)), (False, b"".join(rs for _, rs in exchanges))]
        else:
            messages = [(side, data) for rq, rs in exchanges for side, data in ((True, rq), (False, rs))]
        self.traffic.connection([m for m in messages if m[1]], client=client, port=PORT, t=t)

    def records(self) -> list[dict[str, Any]]:
        return [r for r in self.traffic.records(web_ports={PORT}, inspect_upload=inspector) if r["kind"] == "http"]
