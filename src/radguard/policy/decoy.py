"""``radguard decoy``: a decoy PACS that answers like a real product and alerts on every touch.

Built on radguard's own sans-io upper layer (:class:`radguard.dicom.ul.UpperLayer`, PS3.8 §9.2) with one
asyncio server, as the gateway is: the same parser that the gateway and the monitor harden against hostile
peers (length guards, state checks) reads what the decoy's visitors send, and no second DICOM stack (nor
pynetdicom at run time) is needed. :mod:`radguard.policy.decoy_services` decides the answers,
:mod:`radguard.policy.decoy_alerts` writes the alerts.

Hostile peers: a per-source cap on connections that have not associated yet (as the gateway's
``max_pending_per_host``), the gateway's own per-source association rate limit
(:class:`radguard.gateway.addons.rate_limit.RateLimit`, A-ASSOCIATE-RJ transient beyond it), an ARTIM-like
deadline for the A-ASSOCIATE-RQ and an idle timeout afterwards, a PDU length guard, a cap on the bytes of
one association, and garbage answered by an A-ABORT and an alert, never a traceback.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from radguard.dicom import events as ev
from radguard.dicom.enums import AbortReason, AbortSource, CommandField
from radguard.dicom.messages import MessageAssembler
from radguard.dicom.pdu import Abort, ReleaseResponse
from radguard.dicom.ul import Role, UpperLayer
from radguard.errors import ProtocolError
from radguard.gateway.addons.rate_limit import RateLimit
from radguard.gateway.config import GatewayConfig, LimitsConfig
from radguard.gateway.policy import AssociationInfo, Containment
from radguard.gateway.streams import tune_socket
from radguard.policy.decoy_alerts import AlertSink
from radguard.policy.decoy_services import Profile, Served, accept, answer
from radguard.policy.honeytokens import HoneyStudy

log = logging.getLogger("radguard.decoy")

#: seconds a connection may take to send its A-ASSOCIATE-RQ (PS3.8 §9.1.5 ARTIM)
ARTIM_SECONDS = 10.0
#: seconds an association may stay silent
IDLE_SECONDS = 60.0
#: largest PDU the decoy reads (hostile length fields are refused before buffering)
PDU_LENGTH_GUARD = 1 << 20
#: bytes one association may send in all (a C-STORE flood is cut off)
MAX_BYTES = 64 << 20
#: largest query/retrieve identifier assembled (C-STORE data sets are counted, never held)
MAX_IDENTIFIER = 64 * 1024


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (OSError when the address is busy or not local): bound first, so that a busy
    port fails before the studies, the store and the alert sinks are set up."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=128, reuse_port=False)


@dataclass(frozen=True)
class DecoyLimits:
    """The decoy's guards against floods, as the gateway's ``[limits]`` (docs/decoy.md)."""

    associations_per_minute: int = 30
    max_associations: int = 64
    max_pending_per_host: int = 8


@dataclass
class _RateContext:
    """What the gateway's rate-limit addon reads: a configuration with ``[limits]`` and containment."""

    config: GatewayConfig
    containment: Containment = field(default_factory=Containment)


class Decoy:
    """The decoy server: one listener, its studies, its alert sink."""

    def __init__(self, prof: Profile, studies: list[HoneyStudy], sink: AlertSink,
                 limits: DecoyLimits | None = None) -> None:
        self.profile, self.studies, self.sink = prof, studies, sink
        self.limits = limits or DecoyLimits()
        gw = GatewayConfig(upstream=("127.0.0.1", 0), upstream_ae=prof.ae_title, ae_title=prof.ae_title,
                           limits=LimitsConfig(associations_per_minute=self.limits.associations_per_minute,
                                               max_associations=self.limits.max_associations,
                                               max_pending_per_host=self.limits.max_pending_per_host))
        self.established = 0
        self.rate = RateLimit(_RateContext(gw), lambda: self.established)
        self.pending: collections.Counter[str] = collections.Counter()
        self.stats: collections.Counter[str] = collections.Counter()
        self.server: asyncio.Server | None = None
        self.address: tuple[str, int] | None = None
        self._ids = 0

    async def start(self, sock: socket.socket) -> tuple[str, int]:
        """Serve on ``sock`` (bound by :func:`bind` before anything else is prepared)."""
        import pydicom.filereader  # noqa: F401  (the first identifier must not wait for the import)

        self.server = await asyncio.start_server(self._on_client, sock=sock)
        self.address = self.server.sockets[0].getsockname()[:2]
        return self.address

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2.0)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected = time.time()
        tune_socket(writer)
        peer = writer.get_extra_info("peername") or ("?", 0)
        host, port = str(peer[0]), int(peer[1])
        self.stats["connections"] += 1
        if self.pending[host] >= self.limits.max_pending_per_host:
            self.stats["connections_dropped"] += 1
            self.sink.alert("connection-flood", host, port, connected,
                            detail={"pending": self.pending[host]})
            writer.close()
            return
        self.pending[host] += 1
        conn = _Connection(self, reader, writer, host, port, connected)
        try:
            await conn.run()
        except Exception as exc:  # a hostile peer is a result: logged and alerted, never a traceback
            log.error("decoy: connection from %s ended: %s: %s", host, type(exc).__name__, exc)
            self.sink.alert("error", host, port, connected, detail={"error": type(exc).__name__})
        finally:
            if not conn.settled:
                self._settle(host)
            if conn.established:
                self.established -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _settle(self, host: str) -> None:
        self.pending[host] -= 1
        if self.pending[host] <= 0:
            del self.pending[host]

    def next_id(self) -> int:
        self._ids += 1
        return self._ids


class _Connection:
    """One connection to the decoy: the upper layer as acceptor, its answers, its alerts."""

    def __init__(self, decoy: Decoy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str,
                 port: int, connected: float) -> None:
        self.decoy, self.reader, self.writer = decoy, reader, writer
        self.host, self.port, self.connected = host, port, connected
        self.ul = UpperLayer(Role.ACCEPTOR, max_pdu_receive=decoy.profile.max_pdu_length,
                             pdu_length_guard=PDU_LENGTH_GUARD, enforce_max_pdu=False)
        self.assembler = MessageAssembler(max_dataset=MAX_IDENTIFIER)
        self.calling = self.called = ""
        self.settled = False
        self.established = False
        self.received = 0
        self.store_bytes = 0
        self.touched = False
        #: the C-STORE whose data set is arriving (counted, never held)
        self.storing: ev.CommandReceived | None = None

    def alert(self, event: str, **detail: Any) -> None:
        self.touched = True
        self.decoy.sink.alert(event, self.host, self.port, self.connected, calling_ae=self.calling,
                              called_ae=self.called, detail=detail)

    async def run(self) -> None:
        deadline = ARTIM_SECONDS
        while not self.ul.closed:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), deadline)
            except TimeoutError:
                self.alert("timeout", state=self.ul.state.name, bytes=self.received)
                self._send_abort()
                return
            except (ConnectionError, OSError):
                break
            if not data:
                break
            self.received += len(data)
            if self.received > MAX_BYTES:
                self.alert("byte-cap", bytes=self.received)
                self._send_abort()
                return
            for event in self.ul.receive(data):
                await self._handle(event)
                if self.ul.closed:
                    break
            try:
                await self.writer.drain()
            except (ConnectionError, OSError):  # the peer went away: what it did is alerted already
                break
            deadline = IDLE_SECONDS
        if not self.touched:  # a bare connection (a port scan's connect) is a touch too
            self.alert("connection", bytes=self.received)

    def _send(self, payload: bytes | list[bytes]) -> None:
        for chunk in [payload] if isinstance(payload, bytes) else payload:
            self.writer.write(chunk)

    def _send_abort(self) -> None:
        with contextlib.suppress(ProtocolError, ConnectionError, OSError):
            self._send(self.ul.send(Abort(AbortSource.SERVICE_PROVIDER, AbortReason.NOT_SPECIFIED)))

    async def _handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.AssociateRequested):
            self._associate(event)
        elif isinstance(event, ev.ProtocolViolation):
            self.alert("protocol-violation", message=event.message[:200], offset=event.offset)
            self._send_abort()
        elif isinstance(event, ev.ReleaseRequested):
            self._send(self.ul.send(ReleaseResponse()))
        elif isinstance(event, ev.Aborted):
            return
        elif isinstance(event, (ev.CommandReceived, ev.DataChunk)):
            self._message(event)

    def _associate(self, event: ev.AssociateRequested) -> None:
        rq = event.pdu
        self.calling, self.called = rq.calling_ae, rq.called_ae
        info = AssociationInfo(id=self.decoy.next_id(), calling_ae=rq.calling_ae, called_ae=rq.called_ae,
                               client_host=self.host, client_port=self.port)
        decision = self.decoy.rate.on_associate(info)
        self.settled = True
        self.decoy._settle(self.host)
        contexts = sorted({c.abstract_syntax or "" for c in rq.contexts})[:20]
        if not decision.allowed and decision.reject is not None:
            self.decoy.stats["associations_rejected"] += 1
            self.alert("association-rejected", reason=decision.reason, contexts=contexts)
            self._send(self.ul.send(decision.reject))
            return
        self.alert("association", contexts=contexts, implementation_class_uid=rq.implementation_class_uid or "",
                   implementation_version=rq.implementation_version_name or "")
        self.decoy.stats["associations"] += 1
        self.decoy.established += 1
        self.established = True
        self._send(self.ul.send(accept(rq, self.decoy.profile)))

    def _message(self, event: ev.CommandReceived | ev.DataChunk) -> None:
        if isinstance(event, ev.CommandReceived) and event.command.command_field is CommandField.C_STORE_RQ:
            self.store_bytes = 0
            if event.command.has_dataset:
                self.storing = event
            else:  # a C-STORE without its data set: answered at once
                self._respond(event.context_id, event.command, None)
            return
        if isinstance(event, ev.DataChunk) and self.storing is not None:
            self.store_bytes += len(event.data)
            if event.last:
                head, self.storing = self.storing, None
                self._respond(head.context_id, head.command, None)
            return
        try:
            msg = self.assembler.feed(event)
        except ProtocolError as exc:
            self.alert("protocol-violation", message=str(exc)[:200])
            self._send_abort()
            return
        if msg is not None:
            if msg.command.command_field is CommandField.C_CANCEL_RQ:  # every answer is final already
                return
            self._respond(msg.context_id, msg.command, msg.dataset)

    def _respond(self, context_id: int, command: Any, dataset: bytes | None) -> None:
        ts = (self.ul.contexts.get(context_id) or (None, None))[1] or ""
        answers, served = answer(command, dataset, ts, self.decoy.studies)
        if not answers:  # a response or an unknown command where a request belongs: hostile or broken
            self.alert("protocol-violation", message=f"unexpected {served.service} command")
            self._send_abort()
            return
        self._alert_served(served)
        for rsp, data in answers:
            self._send(self.ul.send_dimse(context_id, rsp, data))

    def _alert_served(self, served: Served) -> None:
        self.decoy.stats[served.service] += 1
        detail: dict[str, Any] = {"status": f"0x{served.status:04X}"}
        if served.sop_class:
            detail["sop_class"] = served.sop_class
        if served.level or served.keys:
            detail.update(level=served.level, keys=served.keys[:40], matches=served.matches)
        if served.destination:
            detail["destination"] = served.destination
        if served.honeytokens:
            detail["honeytoken_uids_named"] = served.honeytokens
        if served.error:
            detail["error"] = served.error
        if served.service == "C-STORE":
            detail["bytes"] = self.store_bytes
        self.alert(served.service, **detail)
