"""Load: concurrent storescu associations through the gateway; every object upstream exactly once, audited.

``make test`` runs 10 associations x 10 objects; set ``RADGUARD_GATEWAY_LOAD=full`` for the issue's
50 associations / 5,000 objects (about a minute on 2 cores).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.integration.test_gateway_helpers import LOOPBACK, gateway_config, make_files
from tests.support.gateway_harness import GatewayThread
from tests.support.peers import dcmtk_env, start_storescp

pytestmark = pytest.mark.integration

FULL = os.environ.get("RADGUARD_GATEWAY_LOAD") == "full"
ASSOCIATIONS, PER_ASSOCIATION = (50, 100) if FULL else (10, 10)


def test_concurrent_stores_arrive_exactly_once(tmp_path: Path) -> None:
    up = start_storescp(tmp_path, ae="UP", extra_args=["--fork"])
    batches = [make_files(tmp_path / "in" / f"a{i}", PER_ASSOCIATION, source="rtdose.dcm", patient_id=f"LOAD-{i}")
               for i in range(ASSOCIATIONS)]
    expected = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for b in batches for p in b}
    cfg = gateway_config(tmp_path, upstream=(up.host, up.port), upstream_ae="UP",
                         peers=[{"ae": "CT01", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-STORE"]}],
                         limits={"associations_per_minute": 1000, "max_pending_per_host": 64})
    try:
        with GatewayThread(cfg) as gw:
            procs = [subprocess.Popen(["storescu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, str(gw.port),
                                       *map(str, b)], env=dcmtk_env(), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE) for b in batches]
            codes = [p.wait(600) for p in procs]
            stats = gw.stats()
            assert gw.gateway is not None and gw.gateway.trail is not None
            assert gw.gateway.trail.flush(60)
    finally:
        up.stop()
    assert codes == [0] * ASSOCIATIONS
    total = ASSOCIATIONS * PER_ASSOCIATION
    assert stats["stores_acknowledged"] == total and stats["associations_accepted"] == ASSOCIATIONS
    on_disk = [p.name.split(".", 1)[1] for p in up.extra["store"].iterdir() if p.is_file()]
    assert len(on_disk) == total and set(on_disk) == expected  # every object exactly once
    events = [json.loads(x) for x in (tmp_path / "gw" / "audit.jsonl").read_text().splitlines()]
    transferred = [e for e in events if e["event"] == "110104"]
    assert len(transferred) == total and all(e["outcome"] == "0" for e in transferred)
    per_patient = Counter(o["id"] for e in transferred for o in e["objects"] if o["role"] == "1")
    assert sorted(per_patient.values()) == [PER_ASSOCIATION] * ASSOCIATIONS
