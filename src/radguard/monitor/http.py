"""HTTP/1.1 on a PACS's web port: requests and responses into ``http`` records (RFC 9110, RFC 9112).

Both directions of a reassembled TCP stream are parsed by h11 (sans-io HTTP/1.1, python-hyper): the
client's bytes by a server-role parser, the server's by a client-role parser told which request it
answers (a HEAD has no body). One record per exchange: method, the API it belongs to (DICOMweb
QIDO-RS / WADO-RS / STOW-RS, PS3.18 §10; the PACS's own REST API; anything else), the path as a
template (UIDs and opaque ids replaced, their keyed hashes kept), status, body sizes, the auth
scheme. Nothing of a URL's query values is kept in clear: a QIDO-RS matching key (PatientName,
PatientID, ... PS3.18 §8.3.4) keeps only its keyed hash (:func:`radguard.phi.phi_hash`). HTTP Basic
credentials keep the user name and the keyed hash of ``user:password``, never the password.
An upload's DICOM files (a STOW-RS ``application/dicom`` part, a REST POST body) are handed to the
upload inspector (the shared object checks). HTTPS is opaque here: only cleartext HTTP is parsed.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from radguard.monitor.conversation import INSPECT_MAX, Endpoints, Record, iso
from radguard.phi import phi_hash

if TYPE_CHECKING:  # h11 is imported by the parsers, only when a capture holds cleartext HTTP (start-up)
    import h11

#: ports where cleartext HTTP to a PACS/DICOMweb server is expected (Orthanc 8042, common 80/8080; 443 is TLS)
DEFAULT_WEB_PORTS: frozenset[int] = frozenset({80, 8042, 8080})
#: inspects one uploaded DICOM file (Part 10 bytes) -> [{"rule", "severity", "title"}]
UploadInspector = Callable[[bytes], list[dict[str, Any]]]
#: query parameters whose values are kept in clear (PS3.18 §8.3.4 query parameters that carry no identity)
CLEAR_PARAMS = frozenset({"limit", "offset", "fuzzymatching", "includefield", "count", "expand", "since"})
#: path segments under which a server roots its DICOMweb API (Orthanc /dicom-web/, dcm4chee .../rs/, others
#: /dicomweb/); a level (/studies) without one is the PACS's own REST API (Orthanc's /studies/{id})
DICOMWEB_ROOTS = frozenset({"dicom-web", "dicomweb", "rs", "wado-rs", "qido-rs", "stow-rs"})
#: DICOMweb resources (PS3.18 §10) and the service a request on them is
_LEVELS = frozenset({"studies", "series", "instances"})
_WADO_TAILS = frozenset({"metadata", "rendered", "thumbnail", "frames", "bulkdata", "pixeldata"})
#: Orthanc REST downloads of objects (one archive, file or media each)
_REST_DOWNLOADS = frozenset({"file", "archive", "media"})
_UID = re.compile(r"^[0-9]+(\.[0-9]+)+$")
_OPAQUE = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{8}){4}$")  # Orthanc's ids: SHA-1 of DICOM identifiers
_REQUEST_START = re.compile(rb"^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) /")
_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.IGNORECASE)


def looks_like_request(head: bytes) -> bool:
    """The start of an HTTP/1.x request line (RFC 9112 §3: method SP request-target)."""
    return _REQUEST_START.match(head[:16]) is not None


def classify_path(path: str) -> dict[str, Any]:
    """``api`` (qido-rs, wado-rs, stow-rs need the method: see :func:`api_of`), ``level``, ``resource``
    (the path with UIDs as ``{uid}`` and opaque ids as ``{id}``) and ``uids`` (keyed hashes)."""
    parts = [unquote(p) for p in path.split("/") if p]
    template, hashed = [], []
    for p in parts:
        if _UID.match(p) or _OPAQUE.match(p):
            template.append("{uid}" if _UID.match(p) else "{id}")
            hashed.append(phi_hash(p))
        else:
            template.append(p[:64])
    levels = [p for p in template if p in _LEVELS]
    return {"resource": "/" + "/".join(template), "level": levels[-1] if levels else None,
            "uids": hashed, "dicomweb": any(p.lower() in DICOMWEB_ROOTS for p in template[:-1]),
            "tail": template[-1] if template else ""}


def api_of(method: str, path: dict[str, Any], content_type: str) -> str:
    """The service of a request: PS3.18 §10.4 WADO-RS, §10.5 STOW-RS, §10.6 QIDO-RS, else ``rest``/``other``."""
    resource, tail = path["resource"], path["tail"]
    if path["dicomweb"]:
        if method == "POST" and path["level"] in ("studies", None):
            return "stow-rs"
        if method in ("GET", "HEAD"):
            if tail in _LEVELS:
                return "qido-rs"
            if tail == "{uid}" or tail in _WADO_TAILS or resource.endswith("/frames/" + tail):
                return "wado-rs"
        return "dicomweb"
    if path["level"] is not None or resource.split("/")[1:2] in (["patients"], ["system"], ["tools"],
                                                               ["modalities"], ["changes"]):
        return "rest"
    return "rest" if "dicom" in content_type else "other"


def query_fields(query: str) -> tuple[dict[str, str], list[str]]:
    """The query's parameters: control values in clear, matching values as keyed hashes; and the keys
    whose value is universal (empty or only ``*``: PS3.4 §C.2.2.2.3 universal matching)."""
    out: dict[str, str] = {}
    universal: list[str] = []
    for key, value in parse_qsl(query, keep_blank_values=True)[:64]:
        key = key[:64]
        if key.lower() in CLEAR_PARAMS:
            out[key] = value[:64]
            continue
        out[key] = phi_hash(value) if value else ""
        if value.strip("*") == "":
            universal.append(key)
    return out, sorted(set(universal))


def basic_credentials(header: bytes) -> tuple[str, str] | None:
    """(user, keyed hash of ``user:password``) of an HTTP Basic ``Authorization`` value (RFC 7617)."""
    scheme, _, token = header.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        raw = b64decode(token.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    user, sep, _ = raw.partition(":")
    return (user[:64], phi_hash(raw)) if sep else None


def credential_hash(user: str, password: str) -> str:
    """The keyed hash an ``http`` record keeps of a Basic credential (compare, never store the password)."""
    return phi_hash(f"{user}:{password}")


def dicom_parts(body: bytes, content_type: str) -> list[bytes]:
    """The DICOM files of an upload: ``application/dicom`` parts of a multipart/related body (PS3.18 §8.6.1.2,
    RFC 2387), or the body itself when it is one DICOM file."""
    if content_type.startswith("multipart/"):
        match = _BOUNDARY.search(content_type)
        if not match:
            return []
        files = []
        for chunk in body.split(b"--" + match.group(1).encode())[1:]:
            head, sep, data = chunk.partition(b"\r\n\r\n")
            if sep and b"application/dicom" in head.lower() and b"json" not in head.lower():
                files.append(data[:-2] if data.endswith(b"\r\n") else data)
        return files
    if content_type.startswith("application/dicom") or body[128:132] == b"DICM":
        return [body]
    return []


def _server_parser() -> h11.Connection:
    """An h11 parser of a client's bytes (the server's role)."""
    import h11

    return h11.Connection(h11.SERVER)


def _headers(event: h11.Request | h11.Response) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in event.headers}


@dataclass
class _Exchange:
    record: Record
    ctype: str = ""
    body: bytearray | None = None
    boundary: bytes = b""
    tail: bytes = b""


@dataclass
class HttpConversation:
    """Feed reassembled bytes of both directions; ``http`` records come out through ``emit``."""

    ends: Endpoints
    emit: Callable[[Record], None]
    ts: float
    inspect: UploadInspector | None = None
    _rq: h11.Connection = field(default_factory=_server_parser)
    _rs: h11.Connection | None = None
    _pending: list[_Exchange] = field(default_factory=list)
    _sending: _Exchange | None = None
    _server_buf: bytearray = field(default_factory=bytearray)
    _broken: bool = False

    def data(self, from_client: bool, data: bytes, ts: float) -> None:
        import h11

        self.ts = ts
        if self._broken:
            return
        try:
            if from_client:
                self._rq.receive_data(data)
                self._client_events()
            else:
                self._server_buf += data
                self._server_events()
        except h11.ProtocolError as exc:
            self._break(f"{type(exc).__name__}: {str(exc)[:120]}")

    def gap(self, from_client: bool, missing: int) -> None:
        """Bytes were not captured: HTTP framing is lost for the rest of the connection."""
        self._break(f"capture gap of {missing} bytes")

    def finish(self, ts: float) -> None:
        """The connection ended: a close-delimited response ends here; what is outstanding is emitted."""
        import h11

        self.ts = ts
        if not self._broken and self._rs is not None:
            try:
                self._rs.receive_data(b"")
                self._server_events()
            except h11.ProtocolError:
                pass
        sending = self._sending
        for ex in [*self._pending, *([sending] if sending is not None and sending not in self._pending else [])]:
            self._emit(ex)
        self._pending.clear()
        self._sending = None

    # ------------------------------------------------------------------ requests
    def _client_events(self) -> None:
        import h11

        while True:
            event = self._rq.next_event()
            if event is h11.NEED_DATA:
                return
            if event is h11.PAUSED:  # one request complete: carry the rest to a fresh parser (pipelining)
                rest = self._rq.trailing_data[0]
                self._rq = h11.Connection(h11.SERVER)
                self._rq.receive_data(rest)
                continue
            if isinstance(event, h11.Request):
                self._request(event)
            elif isinstance(event, h11.Data) and self._sending is not None:
                self._request_body(self._sending, bytes(event.data))
            elif isinstance(event, h11.EndOfMessage) and self._sending is not None:
                self._request_done(self._sending)
                self._sending = None
            elif isinstance(event, h11.ConnectionClosed):
                return

    def _request(self, event: h11.Request) -> None:
        headers = _headers(event)
        target = event.target.decode("latin-1")
        split = urlsplit(target)
        path = classify_path(split.path)
        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        method = event.method.decode("ascii", "replace")
        query, universal = query_fields(split.query)
        auth = headers.get(b"authorization")
        creds = basic_credentials(auth) if auth else None
        record: Record = {
            "kind": "http", "ts": iso(self.ts), "ts_end": None, **self.ends.fields(), "method": method,
            "api": api_of(method, path, ctype), "level": path["level"], "resource": path["resource"],
            "uids": path["uids"][:8], "query": query, "query_universal": universal,
            "http_version": event.http_version.decode("ascii", "replace"),
            "auth": auth.split(b" ", 1)[0].decode("latin-1").lower()[:16] if auth else None,
            "auth_user": creds[0] if creds else None, "auth_hash": creds[1] if creds else None,
            "user_agent": headers.get(b"user-agent", b"").decode("latin-1")[:80] or None,
            "request_type": ctype.split(";", 1)[0][:80] or None, "request_bytes": 0, "status": None,
            "response_type": None, "response_bytes": 0, "parts": 0, "uploads": 0, "inspection": [],
            "complete": False, "error": None,
        }
        ex = _Exchange(record, ctype)
        if self.inspect is not None and method in ("POST", "PUT") and (
                "dicom" in ctype or ctype.startswith("multipart/") or record["api"] == "rest"):
            ex.body = bytearray()
        self._sending = ex
        self._pending.append(ex)
        if self._server_buf and len(self._pending) == 1:
            self._server_events()

    @staticmethod
    def _boundary(ctype: str) -> bytes:
        match = _BOUNDARY.search(ctype)
        return ("--" + match.group(1)).encode() if match and ctype.startswith("multipart/") else b""

    @staticmethod
    def _request_body(ex: _Exchange, data: bytes) -> None:
        ex.record["request_bytes"] += len(data)
        if ex.body is not None:
            if len(ex.body) + len(data) > INSPECT_MAX:
                ex.body = None
            else:
                ex.body += data

    @staticmethod
    def _response_body(ex: _Exchange, data: bytes) -> None:
        ex.record["response_bytes"] += len(data)
        if ex.boundary:  # multipart parts (PS3.18 §8.6.1.2), counted across chunk edges
            joined = ex.tail + data
            ex.record["parts"] += joined.count(ex.boundary) - ex.tail.count(ex.boundary)
            ex.tail = joined[-len(ex.boundary):]

    def _request_done(self, ex: _Exchange) -> None:
        if ex.body is not None and self.inspect is not None:
            files = dicom_parts(bytes(ex.body), ex.ctype)
            ex.record["uploads"] = len(files)
            for data in files:
                ex.record["inspection"].extend(self.inspect(data))
        ex.body = None

    # ------------------------------------------------------------------ responses
    def _server_events(self) -> None:
        import h11

        while self._pending:
            ex = self._pending[0]
            if self._rs is None:
                if not self._server_buf:
                    return
                self._rs = h11.Connection(h11.CLIENT)
                self._rs.send(h11.Request(method=ex.record["method"], target="/", headers=[("Host", "pacs")]))
                self._rs.send(h11.EndOfMessage())
                self._rs.receive_data(bytes(self._server_buf))
                self._server_buf.clear()
            elif self._server_buf:
                self._rs.receive_data(bytes(self._server_buf))
                self._server_buf.clear()
            if not self._response_events(ex):
                return

    def _response_events(self, ex: _Exchange) -> bool:
        """Parse the answer to ``ex``; True once it is complete (the next exchange may follow)."""
        import h11

        assert self._rs is not None
        while True:
            event = self._rs.next_event()
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                return False
            if isinstance(event, h11.Response):
                ctype = _headers(event).get(b"content-type", b"").decode("latin-1").lower()
                ex.record.update(status=event.status_code, response_type=ctype.split(";", 1)[0][:80] or None)
                ex.boundary, ex.tail, ex.record["parts"] = self._boundary(ctype), b"", 0
            elif isinstance(event, h11.Data):
                self._response_body(ex, bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                if ex.boundary:
                    ex.record["parts"] = max(0, ex.record["parts"] - 1)  # the closing delimiter
                ex.record["complete"] = True
                rest = self._rs.trailing_data[0]
                self._rs = None
                self._server_buf[:0] = rest
                self._pending.pop(0)
                if ex is self._sending:
                    self._sending = None
                self._emit(ex)
                return True

    # ------------------------------------------------------------------ end
    def _break(self, why: str) -> None:
        self._broken = True
        for ex in self._pending:
            ex.record["error"] = why
        if not self._pending:
            self.emit({"kind": "http", "ts": iso(self.ts), "ts_end": iso(self.ts), **self.ends.fields(),
                       "method": None, "api": "other", "error": why, "complete": False})

    def _emit(self, ex: _Exchange) -> None:
        ex.record["ts_end"] = iso(self.ts)
        self.emit(ex.record)
