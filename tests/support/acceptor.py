"""A scripted DICOM acceptor on loopback, built on radguard's own sans-io :class:`UpperLayer`, for the scan
probes' unit tests: the test decides which associations it accepts (and which contexts), and how each
DIMSE request is answered; :func:`run_probes` runs the real access and service probes against it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from radguard.assess.dicom_client import DicomClient
from radguard.assess.probes.dicom_access import AccessReport, probe_access
from radguard.assess.probes.dicom_services import ServicesReport, probe_services
from radguard.dicom import uids
from radguard.dicom.dimse import Command, c_echo_rsp, fragment, response
from radguard.dicom.enums import CommandField, ContextResult, RejectResult, RejectSource, Status
from radguard.dicom.events import AssociateRequested, ReleaseRequested
from radguard.dicom.messages import DimseMessage, MessageAssembler
from radguard.dicom.pdu import (
    Abort,
    AssociateAccept,
    AssociateReject,
    PresentationContext,
    ReleaseResponse,
)
from radguard.dicom.ul import Role, UpperLayer

#: (called AE, calling AE) -> reject reason (PS3.8 §9.3.4), or None to accept
Decide = Callable[[str, str], int | None]
#: a request -> the responses to send, each (command, data set or None); ``ABORT`` to abort instead
Answer = Callable[[DimseMessage], Sequence[tuple[Command, bytes | None]] | str]
ABORT = "abort"


def accept_all(called: str, calling: str) -> int | None:
    return None


def answer_echo_only(msg: DimseMessage) -> Sequence[tuple[Command, bytes | None]]:
    if msg.command.command_field is CommandField.C_ECHO_RQ:
        return [(c_echo_rsp(msg.command.message_id or 0), None)]
    return [(response(msg.command, Status.UNRECOGNIZED_OPERATION), None)]


@dataclass
class Script:
    """What the acceptor does: ``decide`` each association, accept the abstract syntaxes in ``offers``
    (None: every one proposed), ``answer`` each request; ``requests`` records what it received."""

    decide: Decide = accept_all
    offers: frozenset[str] | None = frozenset({uids.VERIFICATION})
    answer: Answer = answer_echo_only
    requests: list[DimseMessage] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ul = UpperLayer(Role.ACCEPTOR)
        messages = MessageAssembler()
        try:
            while data := await reader.read(65536):
                for ev in ul.receive(data):
                    if isinstance(ev, AssociateRequested):
                        if not self._associate(ul, writer, ev):
                            await writer.drain()
                            return
                    elif isinstance(ev, ReleaseRequested):
                        writer.write(ul.send(ReleaseResponse()))
                        await writer.drain()
                        return
                    elif (msg := messages.feed(ev)) is not None:
                        self.requests.append(msg)
                        answers = self.answer(msg)
                        if answers == ABORT:
                            writer.write(ul.send(Abort()))
                            await writer.drain()
                            return
                        for command, dataset in answers:
                            for pdu in fragment(msg.context_id, command.encode(), dataset, 16384):
                                writer.write(pdu)
                await writer.drain()
        finally:
            writer.close()

    def _associate(self, ul: UpperLayer, writer: asyncio.StreamWriter, ev: AssociateRequested) -> bool:
        rq = ev.pdu
        reason = self.decide(rq.called_ae.strip(), rq.calling_ae.strip())
        if reason is not None:
            writer.write(ul.send(AssociateReject(RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER, reason)))
            return False
        contexts = [
            PresentationContext(c.id, None, [uids.IMPLICIT_VR_LITTLE_ENDIAN],
                                ContextResult.ACCEPTANCE if self.offers is None or c.abstract_syntax in self.offers
                                else ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED)
            for c in rq.contexts
        ]
        writer.write(ul.send(AssociateAccept(
            called_ae=rq.called_ae, calling_ae=rq.calling_ae, contexts=contexts,
            implementation_class_uid="1.2.826.0.1.3680043.9.3811.2.0.0",
            implementation_version_name="PYNETDICOM_200")))
        return True


@contextlib.asynccontextmanager
async def serving(script: Script) -> AsyncIterator[Callable[[], Awaitable[DicomClient]]]:
    """The scripted acceptor on a free loopback port; yields a function that opens a client to it."""
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def connect() -> DicomClient:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        return DicomClient(r, w, timeout=2.0)

    async with server:
        yield connect


def run_probes(script: Script, *, intrusive: bool = False, **access: Any) -> tuple[AccessReport,
                                                                                     ServicesReport | None]:
    """Run :func:`probe_access` (``access``: its keyword arguments) and, when an association was accepted,
    :func:`probe_services` against the scripted acceptor on a free loopback port."""
    async def go() -> tuple[AccessReport, ServicesReport | None]:
        async with serving(script) as connect:
            report = await probe_access(connect, **access)
            services = None
            if report.client is not None:
                services = await probe_services(report.client, report, intrusive=intrusive)
            return report, services

    return asyncio.run(go())
