"""The ``dicom_access`` probe against real peers: DCMTK dcmqrscp checks called and calling AE titles
against its AE table, DCMTK storescp checks neither (PS3.8 §9.3.4 reject reasons as the peers send them:
dcmqrscp answers "called AE not recognised" whichever title is wrong, so only a known pair gets in)."""

from __future__ import annotations

import asyncio

import pytest

from radguard.assess.dicom_client import DicomClient
from radguard.assess.probes.dicom_access import AccessReport, probe_access
from radguard.dicom import uids
from tests.support.peers import Peer

pytestmark = pytest.mark.integration


def access(peer: Peer, **kw: object) -> AccessReport:
    async def go() -> AccessReport:
        async def connect() -> DicomClient:
            r, w = await asyncio.open_connection(peer.host, peer.port)
            return DicomClient(r, w, timeout=5.0)

        report = await probe_access(connect, **kw)  # type: ignore[arg-type]
        if report.client is not None:
            await report.client.release()
            await report.client.close()
        return report

    return asyncio.run(go())


def test_storescp_accepts_any_titles(storescp: Peer) -> None:
    report = access(storescp)
    assert report.any_called and report.any_calling and [a.outcome for a in report.attempts] == ["accepted"]
    assert report.implementation_version_name is not None and report.implementation_version_name.startswith("OFFIS")
    assert uids.VERIFICATION in report.services["verification"] and "storage" in report.services


def test_dcmqrscp_checks_both_titles(dcmqrscp: Peer) -> None:
    report = access(dcmqrscp, called_aes=("QRSCP",))
    assert [(a.to_dict()["called_ae"], a.outcome, a.detail.get("reason")) for a in report.attempts] == [
        ("<random>", "rejected", "called-ae-not-recognized"),
        ("QRSCP", "rejected", "called-ae-not-recognized")]  # dcmqrscp 3.6.7 gives reason 7 for a wrong calling AE too
    assert report.client is None and not report.any_called and not report.any_calling
    known = access(dcmqrscp, called_aes=("QRSCP",), calling_ae="KNOWNSCU")
    assert [a.outcome for a in known.attempts][-1] == "accepted" and not known.any_calling
    assert known.accepted_calling_ae == "KNOWNSCU" and "query" in known.services
