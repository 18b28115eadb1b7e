"""The peers themselves work (guards the fixtures every integration test relies on)."""

from __future__ import annotations

import pytest

from radguard.range.samples import bundled
from radguard.store import open_store
from tests.support.peers import OrthancPeer, Peer, storescu

pytestmark = pytest.mark.integration


def test_storescp_receives(storescp: Peer) -> None:
    ct = bundled("CT_small.dcm")
    r = storescu(storescp.host, storescp.port, [ct], called_ae="ANYTHING", calling_ae="WHOEVER")
    assert r.returncode == 0, r.stderr
    assert len(list(storescp.extra["store"].iterdir())) == 1


def test_dcmqrscp_rejects_unknown_calling_ae(dcmqrscp: Peer) -> None:
    ct = bundled("CT_small.dcm")
    bad = storescu(dcmqrscp.host, dcmqrscp.port, [ct], called_ae="QRSCP", calling_ae="INTRUDER")
    assert bad.returncode != 0
    good = storescu(dcmqrscp.host, dcmqrscp.port, [ct], called_ae="QRSCP", calling_ae="KNOWNSCU")
    assert good.returncode == 0, good.stderr + good.stdout


def test_orthanc_default_accepts_store(orthanc: OrthancPeer) -> None:
    ct = bundled("CT_small.dcm")
    r = storescu(orthanc.host, orthanc.dicom_port, [ct], called_ae="RANDOM", calling_ae="WHOEVER")
    assert r.returncode == 0, r.stderr
    assert orthanc.rest("GET", "/statistics")["CountInstances"] >= 1


def test_orthanc_hardened_refuses_unknown(orthanc_hardened: OrthancPeer) -> None:
    ct = bundled("CT_small.dcm")
    r = storescu(orthanc_hardened.host, orthanc_hardened.dicom_port, [ct], called_ae="ORTHANC", calling_ae="EVIL")
    assert r.returncode != 0
    assert orthanc_hardened.rest("GET", "/statistics")["CountInstances"] == 0


def test_store_on_postgres(postgres_url: str) -> None:
    from radguard.models import Finding, Severity

    store = open_store(postgres_url)
    run = store.start_run("scan", {"t": 1})
    run.add_findings([Finding(rule="r", severity=Severity.LOW, title="t", target="h:1", evidence={"n": 1})])
    run.finish({"ok": True})
    again = open_store(postgres_url)
    assert [f.rule for f in again.findings(run.id)] == ["r"]
    assert again.get_run(run.id).summary == {"ok": True}  # type: ignore[union-attr]
