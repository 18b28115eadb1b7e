"""Inventory merged from scan assets, monitor records and gateway audit events written through the store
API; roles, edges with DIMSE operations and volumes, CSV, Graphviz DOT and SVG."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from radguard.govern import inventory as iv
from radguard.models import Asset, Event, Severity
from radguard.monitor.records_store import save_records
from radguard.store import Store, open_store


def _assoc(client: str, server: str, calling: str, called: str, commands: dict[str, int], objects: int = 0,
           tls: bool | None = None) -> dict[str, object]:
    return {"kind": "association", "ts": "2026-11-30T10:00:00Z", "uid": "c1", "client": client, "client_port": 50000,
            "server": server, "server_port": 104, "calling_ae": calling, "called_ae": called, "commands": commands,
            "objects_stored": objects, "bytes_client": 1000 * objects, "bytes_server": 200, "tls": tls}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(f"sqlite:///{tmp_path / 'i.db'}")
    scan = s.start_run("scan", {})
    scan.add_assets([Asset(kind="dicom", target="10.0.0.10:4242", product="orthanc", version="1.12.1",
                           attributes={"services": {"storage": ["1.2"]}}),
                     Asset(kind="dicom", target="10.0.0.30:104", product="dcmtk", version="3.6.7",
                           attributes={"services": {"storage": ["1.2"]}})])
    scan.finish()
    pcap = s.start_run("pcap", {"profile": "default"})
    save_records(s, pcap.id, [
        _assoc("10.0.0.20", "10.0.0.10", "CT01", "PACS", {"C-STORE": 120}, objects=120),
        _assoc("10.0.0.30", "10.0.0.10", "WS01", "PACS", {"C-FIND": 4, "C-MOVE": 1}),
    ])
    pcap.finish()
    gw = s.start_run("gateway", {})
    gw.add_events([Event(kind="audit", source="gateway", summary="store", severity=Severity.INFO,
                         time=datetime(2026, 12, 1, tzinfo=UTC),
                         attributes={"event_name": "DICOM Instances Transferred", "participants": [
                             {"user_id": "MR02", "requestor": True, "host": "10.0.0.21"},
                             {"user_id": "PACS", "requestor": False, "host": "10.0.0.10"}]})])
    gw.finish()
    return s


def test_assets_merge_all_sources_with_roles(store: Store) -> None:
    inv = iv.build_inventory(store)
    by = {a.address: a for a in inv.assets}
    assert set(by) == {"10.0.0.10", "10.0.0.20", "10.0.0.21", "10.0.0.30"}
    pacs = by["10.0.0.10"]
    assert pacs.role == "pacs" and pacs.product == "orthanc" and pacs.ports == {104, 4242}
    assert pacs.sources == {"scan", "pcap", "gateway"} and "PACS" in pacs.ae_titles and pacs.tls is False
    assert by["10.0.0.20"].role == "modality" and by["10.0.0.20"].ae_titles == {"CT01"}
    assert by["10.0.0.30"].role == "workstation" and by["10.0.0.30"].product == "dcmtk"
    assert by["10.0.0.21"].sources == {"gateway"} and by["10.0.0.21"].ae_titles == {"MR02"}
    assert pacs.first_seen is not None and pacs.last_seen is not None and pacs.first_seen <= pacs.last_seen
    edges = {(e.client, e.server): e for e in inv.edges}
    assert edges[("10.0.0.20", "10.0.0.10")].operations == {"C-STORE": 120}
    assert edges[("10.0.0.20", "10.0.0.10")].objects == 120
    assert edges[("10.0.0.30", "10.0.0.10")].operations == {"C-FIND": 4, "C-MOVE": 1}
    assert edges[("10.0.0.21", "10.0.0.10")].operations == {"DICOM Instances Transferred": 1}
    doc = inv.to_dict()
    assert all({"address", "addresses", "ports"} <= set(a) for a in doc["assets"])


def test_csv_dot_and_svg(store: Store) -> None:
    inv = iv.build_inventory(store)
    text = iv.to_csv(inv)
    assert text.splitlines()[0] == ",".join(iv.CSV_COLUMNS) and "10.0.0.10,pacs,104 4242" in text
    dot = iv.to_dot(inv)
    assert dot.startswith("digraph radguard {") and '"10.0.0.20" -> "10.0.0.10"' in dot and "C-STORE 120" in dot
    if shutil.which("dot") is None:
        pytest.skip("Graphviz not installed")
    svg = iv.render_svg(dot)
    assert svg.startswith("<svg") and svg.count('class="node"') == 4 and svg.count('class="edge"') == 3


def test_an_empty_store_is_an_empty_inventory(tmp_path: Path) -> None:
    inv = iv.build_inventory(open_store(f"sqlite:///{tmp_path / 'e.db'}"))
    assert inv.assets == () and inv.edges == ()
