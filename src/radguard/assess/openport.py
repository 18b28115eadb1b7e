"""What answers on an open port, and what it lets an unknown peer do (the probes behind a connect that succeeded).

Imported by :mod:`radguard.assess.scanner` when a sweep meets its first open port: a sweep of
closed ports never loads the DICOM stack, the TLS checks or the web probes.

Per open port: identification + DICOM access probe (:mod:`radguard.assess.identify`,
:mod:`radguard.assess.probes.dicom_access`) on the connection that found the port open, then DICOM
service probes, TLS checks or web probes as the service requires. A peer that misbehaves (aborts,
garbage, slow drip, huge PDU lengths, silence) ends as a per-target error entry, never as an exception.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

from radguard.assess import evaluate
from radguard.assess.dicom_client import DicomClient, PeerError
from radguard.assess.identify import FirstReply, ServiceKind, classify_first_bytes, connect_tcp, open_stream, streams
from radguard.assess.knowledge import Fingerprint
from radguard.assess.probes.dicom_access import AccessReport, build_request, probe_access
from radguard.assess.probes.dicom_services import ServicesReport, probe_services
from radguard.assess.probes.tls import TlsReport, assess_tls, client_context
from radguard.assess.probes.web import WebReport, http_answers, probe_web
from radguard.assess.results import PortResult, ScanOptions, error_entry
from radguard.dicom.pdu import AssociateAccept
from radguard.models import Asset

#: if a port has not answered the A-ASSOCIATE-RQ within this many seconds, a TLS handshake / HTTP GET on a
#: second connection runs alongside (HTTP servers that wait for a line end never answer binary input)
IDENTIFY_WINDOW = 1.0


class OpenPortProber:
    """The probes of one scan's open ports (:class:`ScanOptions` tunables)."""

    def __init__(self, options: ScanOptions) -> None:
        self.options = options

    async def probe(self, result: PortResult, address: str, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        """Identify and probe ``result``'s port, starting on the connection that found it open."""
        await self._probe_open(result, address, DicomClient(
            reader, writer, timeout=self.options.timeout, max_read=self.options.max_read))

    async def _connect(self, address: str, port: int, tls: bool) -> DicomClient:
        """A fresh connection for another association (the cheap connect path of the sweep unless TLS)."""
        try:
            if tls:
                reader, writer = await open_stream(address, port, self.options.timeout, client_context())
            else:
                reader, writer = await streams(await connect_tcp(address, port, self.options.timeout))
        except TimeoutError:
            raise PeerError("timeout", "connect timed out") from None
        except ssl.SSLError as exc:
            raise PeerError("tls-handshake", f"TLS handshake failed: {exc.reason or exc.__class__.__name__}") from None
        except OSError as exc:
            raise PeerError("connect-failed", f"connect failed: {exc.__class__.__name__}") from None
        return DicomClient(reader, writer, timeout=self.options.timeout, max_read=self.options.max_read)

    async def _race(self, access_task: asyncio.Task[AccessReport], client: DicomClient,
                    other: Callable[[], Awaitable[ServiceKind | None]]) -> tuple[ServiceKind | None, bool]:
        """Wait for the DICOM probe; if the peer stays silent past :data:`IDENTIFY_WINDOW`, try ``other``
        identification alongside. Returns (kind, tried): a positive ``kind`` cancelled the DICOM probe;
        ``tried`` tells whether ``other`` ran (so the caller does not repeat it)."""
        done, _ = await asyncio.wait({access_task}, timeout=min(IDENTIFY_WINDOW, self.options.timeout))
        if done or client.first_bytes:
            return None, False
        kind = await other()
        if kind is None or access_task.done() or client.first_bytes:
            return None, True
        access_task.cancel()
        await asyncio.gather(access_task, return_exceptions=True)
        client.writer.transport.abort()
        return kind, True

    async def _identify_plain(self, address: str, port: int) -> ServiceKind | None:
        if (await self._tls_possible(address, port))[0]:
            return ServiceKind.TLS
        return ServiceKind.HTTP if await http_answers(address, port, "http", self.options.timeout) else None

    async def _probe_open(self, result: PortResult, address: str, first: DicomClient) -> None:
        task = asyncio.create_task(self._dicom_access(address, result.port, first, tls=False))
        early, tried = await self._race(task, first, lambda: self._identify_plain(address, result.port))
        if early is ServiceKind.TLS:
            await self._inside_tls(result, address)
            return
        if early is ServiceKind.HTTP:
            await self._web(result, address, "http")
            return
        access = await task
        reply = classify_first_bytes(first.first_bytes)
        if _spoke_dicom(access):
            await self._finish_dicom(result, address, access, tls=False)
            return
        if reply is FirstReply.HTTP:
            await self._web(result, address, "http")
            return
        if reply is FirstReply.DICOM:  # a DICOM peer that then misbehaved
            self._dicomerror_entry(result, access, tls=False)
            return
        silent = access.error is not None and access.error.kind == "timeout" and reply is FirstReply.NONE
        tls_ok, tls_error = (False, "tried") if tried else await self._tls_possible(address, result.port)
        if tls_ok:
            await self._inside_tls(result, address)
            return
        if not tried and not (silent and tls_error == "timeout"):
            web = await probe_web(address, result.port, "http", timeout=self.options.timeout, intrusive=False)
            if web.error is None and web.status:
                await self._web(result, address, "http")
                return
        result.service = ServiceKind.UNKNOWN
        result.asset = Asset(kind=ServiceKind.UNKNOWN.value, target=result.target,
                             attributes={"first_reply": reply.value})
        if access.error is not None:
            result.errors.append(error_entry(result.target, "identify", access.error.kind, str(access.error)))

    async def _dicom_access(self, address: str, port: int, first: DicomClient | None, *, tls: bool) -> AccessReport:
        async def connect() -> DicomClient:
            return await self._connect(address, port, tls)

        return await probe_access(connect, first=first, called_aes=self.options.called_aes,
                                  calling_ae=self.options.calling_ae)

    async def _tls_possible(self, address: str, port: int) -> tuple[bool, str | None]:
        try:
            _, writer = await open_stream(address, port, self.options.timeout, client_context())
        except TimeoutError:
            return False, "timeout"
        except (OSError, ssl.SSLError) as exc:
            return False, exc.__class__.__name__
        writer.transport.abort()
        return True, None

    async def _inside_tls(self, result: PortResult, address: str) -> None:
        tls_report = await assess_tls(address, result.port, timeout=self.options.timeout, name=result.host)
        inner: AccessReport | None = None
        reply = FirstReply.NONE
        if tls_report.handshake_ok:
            try:
                client = await self._connect(address, result.port, tls=True)
            except PeerError:
                client = None
            if client is not None:
                task = asyncio.create_task(self._dicom_access(address, result.port, client, tls=True))

                async def https() -> ServiceKind | None:
                    ok = await http_answers(address, result.port, "https", self.options.timeout)
                    return ServiceKind.HTTPS if ok else None

                if (await self._race(task, client, https))[0] is ServiceKind.HTTPS:
                    await self._web(result, address, "https", tls_report)
                    return
                inner = await task
                reply = classify_first_bytes(client.first_bytes)
        if inner is not None and _spoke_dicom(inner):
            await self._finish_dicom(result, address, inner, tls=True, tls_report=tls_report)
            return
        if inner is not None and reply is FirstReply.DICOM:
            self._dicomerror_entry(result, inner, tls=True)
            return
        if tls_report.handshake_ok:
            if reply is not FirstReply.HTTP:
                web = await probe_web(address, result.port, "https", timeout=self.options.timeout,
                                      intrusive=False)
            if reply is FirstReply.HTTP or (web.error is None and web.status):
                await self._web(result, address, "https", tls_report)
                return
        result.service = ServiceKind.TLS
        result.asset = Asset(kind=ServiceKind.TLS.value, target=result.target, attributes={
            "tls": tls_report.evidence(), "client_certificate_required": tls_report.client_cert_required,
            "handshake": "ok" if tls_report.handshake_ok else tls_report.error})
        result.findings.extend(evaluate.tls_findings(result.target, tls_report))

    def _dicomerror_entry(self, result: PortResult, access: AccessReport, *, tls: bool) -> None:
        result.service = ServiceKind.DICOM_TLS if tls else ServiceKind.DICOM
        err = access.error
        result.asset = Asset(kind=result.service.value, target=result.target, attributes={
            "association_attempts": [a.to_dict() for a in access.attempts]})
        if err is not None:
            result.errors.append(error_entry(result.target, "dicom-association", err.kind, str(err)))

    async def _finish_dicom(self, result: PortResult, address: str, access: AccessReport, *, tls: bool,
                            tls_report: TlsReport | None = None) -> None:
        result.service = ServiceKind.DICOM_TLS if tls else ServiceKind.DICOM
        services: ServicesReport | None = None
        client = access.client
        if client is not None:

            async def reconnect() -> DicomClient | None:
                try:
                    fresh = await self._connect(address, result.port, tls)
                    reply = await fresh.associate(build_request(access.accepted_called_ae or "",
                                                                access.accepted_calling_ae or ""))
                except PeerError:
                    return None
                if isinstance(reply, AssociateAccept):
                    return fresh
                await fresh.close()
                return None

            services = await probe_services(client, access, intrusive=self.options.intrusive,
                                            reconnect=reconnect)
            if services.error is not None:
                result.errors.append(error_entry(result.target, "dicom-services", services.error.kind,
                                            str(services.error)))
        if access.error is not None:
            result.errors.append(error_entry(result.target, "dicom-association", access.error.kind, str(access.error)))
        fp = evaluate.dicom_fingerprint(access)
        result.fingerprint = fp
        result.findings.extend(evaluate.dicom_findings(result.target, tls, access, services))
        if tls_report is not None:
            result.findings.extend(evaluate.tls_findings(result.target, tls_report))
        result.asset = Asset(
            kind=result.service.value,
            target=result.target,
            product=fp.product if fp else None,
            version=fp.version if fp else None,
            attributes=evaluate.asset_attributes(
                result.service,
                fingerprint=fp.to_dict() if fp else None,
                services=access.services or None,
                accepted_called_ae=access.accepted_called_ae if not access.any_called else None,
                association_attempts=[a.to_dict() for a in access.attempts],
                probes=services.to_dict() if services else None,
                tls=tls_report.evidence() if tls_report else None,
            ),
        )

    async def _web(self, result: PortResult, address: str, scheme: str, tls_report: TlsReport | None = None) -> None:
        web = await probe_web(address, result.port, scheme, timeout=self.options.timeout,
                              intrusive=self.options.intrusive)
        result.service = ServiceKind.HTTPS if scheme == "https" else ServiceKind.HTTP
        result.web = web
        if web.error is not None:
            result.errors.append(error_entry(result.target, "web", "http-error", web.error))
        result.findings.extend(evaluate.web_findings(result.target, web))
        if tls_report is not None and web.is_pacs:
            result.findings.extend(evaluate.tls_findings(result.target, tls_report))
        if web.product and web.version:
            result.fingerprint = Fingerprint(product=web.product, version=web.version, source=f"{scheme}-rest-api")
        result.asset = Asset(
            kind=result.service.value, target=result.target, product=web.product, version=web.version,
            attributes=evaluate.asset_attributes(
                result.service, server=web.server, pacs=web.is_pacs, auth_required=web.auth_required,
                status=web.status or None, open_paths=web.open_paths or None,
                dicom_aet=web.dicom_aet, dicom_port=web.dicom_port,
                tls=tls_report.evidence() if tls_report else None),
        )


def _spoke_dicom(access: AccessReport) -> bool:
    return any(a.outcome in ("accepted", "rejected", "aborted") for a in access.attempts)


def merge_host(ports: list[PortResult]) -> None:
    """Host-level behaviour merge, then version findings.

    A web API that names its DICOM port (Orthanc ``/system`` → ``DicomPort``) tells which
    product answers on that DICOM port: the DICOM asset takes the product name and the
    toolkit fingerprint stays in its attributes, and the product's version finding is
    reported once, on the web port where the version was learned.
    """
    products: dict[int, WebReport] = {}
    for p in ports:
        if p.web is not None and p.web.product and p.web.dicom_port:
            products[p.web.dicom_port] = p.web
    for p in ports:
        web = products.get(p.port)
        if web is not None and p.asset is not None and p.service in (ServiceKind.DICOM, ServiceKind.DICOM_TLS):
            attrs = dict(p.asset.attributes)
            attrs["toolkit"] = p.fingerprint.to_dict() if p.fingerprint else None
            attrs["identified_by"] = "web API on the same host names this DICOM port"
            p.asset = Asset(kind=p.asset.kind, target=p.asset.target, product=web.product, version=web.version,
                            attributes=attrs)
            continue  # the product's version finding is reported on the web port
        fp = p.fingerprint
        if fp is not None and fp.version:
            p.findings.extend(evaluate.version_findings(p.target, fp, toolkit_only=fp.source.startswith("dicom")))
