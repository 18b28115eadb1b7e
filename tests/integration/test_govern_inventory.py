"""radguard inventory from real runs: a scan of a real storescp and a pcap of real DCMTK traffic captured on
loopback (tests/captures), merged into one asset with its ports and AE titles; network map as SVG."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.captures.make_captures import generate
from tests.e2e.cli import radguard
from tests.support.peers import Peer

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not shutil.which("tcpdump") or not shutil.which("dot"),
                                 reason="tcpdump and Graphviz are installed by make test")]


def test_inventory_from_a_scan_and_a_capture(storescp: Peer, tmp_path: Path) -> None:
    caps = generate(tmp_path / "caps", ["store_echo"])
    assert radguard(["pcap", str(caps["store_echo"]["pcap"]), "--json"]).returncode in (0, 1)
    assert radguard(["scan", "127.0.0.1", "-p", str(storescp.port), "--timeout", "2", "--json"]).returncode in (0, 1)
    proc = radguard(["inventory", "--json", "--map", str(tmp_path / "map.svg"), "--csv", str(tmp_path / "inv.csv")])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "radguard.inventory/1"
    [lo] = [a for a in doc["assets"] if a["address"] == "127.0.0.1"]
    assert storescp.port in lo["ports"] and set(caps["store_echo"]["ports"]) <= set(lo["ports"])  # type: ignore[arg-type]
    assert {"scan", "pcap"} <= set(lo["sources"]) and lo["product"] == "dcmtk"
    assert lo["ae_titles"] and lo["first_seen"] and lo["last_seen"]
    [edge] = doc["edges"]
    assert edge["operations"].get("C-STORE", 0) >= 1 and edge["objects"] >= 1
    assert (tmp_path / "map.svg").read_text().lstrip().startswith("<svg")
    assert (tmp_path / "inv.csv").read_text().startswith("address,role,ports")
