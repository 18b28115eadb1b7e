"""The scanner's DICOM access logic against a scripted in-process acceptor (radguard's own UpperLayer).

Covers the association-attempt sequence (random titles, called-AE guesses, --called-ae,
--calling-ae), reject-reason handling, which findings the evaluation draws from it, and the
client's guards (read cap, deadline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from radguard.assess.dicom_client import DicomClient, PeerError
from radguard.assess.evaluate import dicom_findings
from radguard.assess.probes.dicom_access import MAX_CALLED_AE_GUESSES, build_request, probe_access
from radguard.assess.probes.dicom_services import Verdict, probe_services
from radguard.dicom import uids
from radguard.dicom.dimse import c_echo_rsp, encode_command
from radguard.dicom.enums import CommandField, ContextResult, RejectReason, RejectResult, RejectSource
from radguard.dicom.events import AssociateRequested, CommandReceived, ReleaseRequested
from radguard.dicom.pdu import (
    PDV,
    AssociateAccept,
    AssociateReject,
    PDataTF,
    PresentationContext,
    ReleaseResponse,
)
from radguard.dicom.ul import Role, UpperLayer

Decide = Callable[[str, str], int | None]  # (called, calling) -> reject reason or None to accept


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, decide: Decide) -> None:
    ul = UpperLayer(Role.ACCEPTOR)
    try:
        while data := await reader.read(65536):
            for ev in ul.receive(data):
                if isinstance(ev, AssociateRequested):
                    rq = ev.pdu
                    reason = decide(rq.called_ae.strip(), rq.calling_ae.strip())
                    if reason is not None:
                        writer.write(ul.send(AssociateReject(RejectResult.REJECTED_PERMANENT,
                                                             RejectSource.SERVICE_USER, reason)))
                        await writer.drain()
                        return
                    contexts = [
                        PresentationContext(c.id, None, [uids.IMPLICIT_VR_LITTLE_ENDIAN],
                                            ContextResult.ACCEPTANCE if c.abstract_syntax == uids.VERIFICATION
                                            else ContextResult.ABSTRACT_SYNTAX_NOT_SUPPORTED)
                        for c in rq.contexts
                    ]
                    writer.write(ul.send(AssociateAccept(
                        called_ae=rq.called_ae, calling_ae=rq.calling_ae, contexts=contexts,
                        implementation_class_uid="1.2.826.0.1.3680043.9.3811.2.0.0",
                        implementation_version_name="PYNETDICOM_200")))
                elif isinstance(ev, CommandReceived) and ev.command.command_field is CommandField.C_ECHO_RQ:
                    rsp = encode_command(c_echo_rsp(ev.command.message_id or 0))
                    writer.write(ul.send(PDataTF([PDV(ev.context_id, True, True, rsp)])))
                elif isinstance(ev, ReleaseRequested):
                    writer.write(ul.send(ReleaseResponse()))
                    await writer.drain()
                    return
            await writer.drain()
    finally:
        writer.close()


def run_access(decide: Decide, **kw: object) -> tuple[object, object]:
    async def go() -> tuple[object, object]:
        server = await asyncio.start_server(lambda r, w: _handle(r, w, decide), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def connect() -> DicomClient:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            return DicomClient(r, w, timeout=2.0)

        async with server:
            report = await probe_access(connect, **kw)  # type: ignore[arg-type]
            services = None
            if report.client is not None:
                services = await probe_services(report.client, report, intrusive=False)
            return report, services

    return asyncio.run(go())


def test_accepts_anything() -> None:
    report, services = run_access(lambda called, calling: None)
    assert report.any_called and report.any_calling  # type: ignore[attr-defined]
    assert [a.outcome for a in report.attempts] == ["accepted"]  # type: ignore[attr-defined]
    assert report.services == {"verification": [uids.VERIFICATION]}  # type: ignore[attr-defined]
    assert services.echo.verdict is Verdict.OPEN  # type: ignore[attr-defined]
    assert services.query.verdict is Verdict.NOT_OFFERED  # type: ignore[attr-defined]
    rules = {f.rule for f in dicom_findings("h:1", False, report, services)}  # type: ignore[arg-type]
    assert rules == {"dicom-any-called-ae", "dicom-any-calling-ae", "dicom-cleartext"}


def _called_check(title: str) -> Decide:
    return lambda called, calling: None if called == title else RejectReason.CALLED_AE_NOT_RECOGNIZED


def test_called_ae_checked_user_title() -> None:
    report, _ = run_access(_called_check("MYPACS"), called_aes=("MYPACS",))
    assert [a.to_dict()["called_ae"] for a in report.attempts] == ["<random>", "MYPACS"]  # type: ignore[attr-defined]
    assert not report.any_called and report.any_calling  # type: ignore[attr-defined]
    rules = {f.rule for f in dicom_findings("h:1", True, report, None)}  # type: ignore[arg-type]
    assert rules == {"dicom-any-calling-ae"}  # TLS endpoint: no cleartext finding


def test_called_ae_guessing_is_bounded() -> None:
    report, services = run_access(_called_check("NOBODY-KNOWS"))
    assert len(report.attempts) == 1 + MAX_CALLED_AE_GUESSES  # type: ignore[attr-defined]
    assert {a.detail["reason"] for a in report.attempts} == {"called-ae-not-recognized"}  # type: ignore[attr-defined]
    assert report.client is None and services is None  # type: ignore[attr-defined]
    # a common title is found by guessing
    report, _ = run_access(_called_check("ORTHANC"))
    assert report.accepted_called_ae == "ORTHANC" and report.any_calling  # type: ignore[attr-defined]


def test_calling_ae_checked() -> None:
    def decide(called: str, calling: str) -> int | None:
        if called != "MYPACS":
            return RejectReason.CALLED_AE_NOT_RECOGNIZED
        return None if calling == "KNOWN" else RejectReason.CALLING_AE_NOT_RECOGNIZED

    report, services = run_access(decide, called_aes=("MYPACS",), calling_ae="KNOWN")
    outcomes = [(a.to_dict()["calling_ae"], a.outcome, a.detail.get("reason"))
                for a in report.attempts]  # type: ignore[attr-defined]
    assert outcomes == [("<random>", "rejected", "called-ae-not-recognized"),
                        ("<random>", "rejected", "calling-ae-not-recognized"),
                        ("KNOWN", "accepted", None)]
    assert not report.any_calling and services.echo.verdict is Verdict.OPEN  # type: ignore[attr-defined]
    rules = {f.rule for f in dicom_findings("h:1", False, report, services)}  # type: ignore[arg-type]
    assert rules == {"dicom-cleartext"}  # probes with a configured AE are facts, not findings


def test_client_read_cap_and_deadline() -> None:
    async def go() -> tuple[str, str]:
        async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.read(65536)
            w.write(b"\x02\x00\x00\x00\xff\xf0" + bytes(65536))  # a 64 KiB A-ASSOCIATE-AC that never ends
            await w.drain()
            await asyncio.sleep(3)
            w.close()

        async def mute(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await asyncio.sleep(3)
            w.close()

        kinds = []
        for handler in (flood, mute):
            server = await asyncio.start_server(handler, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            async with server:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                client = DicomClient(r, w, timeout=0.3, max_read=4096)
                with pytest.raises(PeerError) as err:
                    await client.associate(build_request("A", "B"))
                kinds.append(err.value.kind)
                await client.close()
        return kinds[0], kinds[1]

    assert asyncio.run(go()) == ("read-cap", "timeout")
