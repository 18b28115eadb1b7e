"""A fault test of the gateway (issue 16): real storescu (DCMTK) → radguard gateway → real storescp upstream;
the upstream is killed (SIGKILL) in the middle of a batch and restarted on the same port.

Asserted: every object the client saw acknowledged (storescu's own per-object "Received Store Response" lines)
is on the upstream's disk, whole, in the first or the restarted instance; every object not acknowledged was
reported to the client as a failure (a failed store, or an aborted association: storescu exits non-zero);
while the upstream is down a new association is a transient reject, not a hang; once it is back the gateway
accepts new associations (a C-ECHO and a store of everything not acknowledged succeed) and the audit trail
agrees with what the client saw.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from tests.integration.test_gateway_helpers import LOOPBACK, dcmtk, gateway_config, make_files, reject_line
from tests.support.gateway_harness import GatewayThread
from tests.support.peers import Peer, dcmtk_env, start_storescp

pytestmark = pytest.mark.integration

CT01 = {"ae": "CT01", "hosts": [LOOPBACK], "allow": ["C-ECHO", "C-STORE"]}
BATCH = 150

SENDING = re.compile(r"Sending file: (\S+)")
RESPONSE = re.compile(r"Received Store Response \((.*)\)")


def per_object(output: str) -> dict[str, str]:
    """storescu's verbose output → file name: the status text of its store response, or "" when storescu
    sent the file and got no response."""
    out: dict[str, str] = {}
    current: str | None = None
    for line in output.splitlines():
        if m := SENDING.search(line):
            current = Path(m.group(1)).name
            out[current] = ""
        elif (m := RESPONSE.search(line)) and current is not None:
            out[current] = m.group(1)
            current = None
    return out


def on_disk(peers: list[Peer]) -> dict[str, bytes]:
    """SOP Instance UID → pixel data of every whole object the upstream instances stored."""
    out: dict[str, bytes] = {}
    for peer in peers:
        for path in peer.extra["store"].iterdir():
            try:
                ds = dcmread(path)
                out[str(ds.SOPInstanceUID)] = bytes(ds.PixelData)
            except (InvalidDicomError, OSError, EOFError, AttributeError, ValueError):
                continue  # cut off by the kill: never acknowledged (checked below)
    return out


@pytest.mark.parametrize("kill_after,delay", [(5, 0.003), (40, 0.0)])
def test_upstream_killed_and_restarted_mid_batch(tmp_path: Path, kill_after: int, delay: float) -> None:
    """``kill_after``: objects on the upstream's disk when it is killed (``delay`` seconds later)."""
    up = start_storescp(tmp_path, ae="UP")
    files = make_files(tmp_path / "in", BATCH)
    sources = {p.name: dcmread(p) for p in files}
    cfg = gateway_config(tmp_path, upstream=(up.host, up.port), upstream_ae="UP", peers=[CT01])
    peers = [up]
    try:
        with GatewayThread(cfg) as gw:
            port = str(gw.port)
            client = subprocess.Popen(["storescu", "-v", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, port,
                                       *map(str, files)], env=dcmtk_env(), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
            deadline = time.monotonic() + 20
            while len(list(up.extra["store"].iterdir())) < kill_after and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(delay)
            assert up.proc is not None
            up.proc.kill()  # SIGKILL in the middle of the batch
            at_kill = len(list(up.extra["store"].iterdir()))
            up.proc.wait(10)
            output, _ = client.communicate(timeout=60)
            down = dcmtk(["echoscu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, port])
            up2 = start_storescp(tmp_path, ae="UP", port=up.port)  # back on the same port
            peers.append(up2)
            echo = dcmtk(["echoscu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, port])
            statuses = per_object(output)
            acked = [name for name, status in statuses.items() if status == "Success"]
            rest = [p for p in files if p.name not in acked]
            retry = dcmtk(["storescu", "-aet", "CT01", "-aec", "RADGUARD", LOOPBACK, port, *map(str, rest)])
            stats = gw.stats()
            assert gw.gateway is not None and gw.gateway.trail is not None and gw.gateway.trail.flush()
    finally:
        for peer in peers:
            peer.stop()
    # the kill landed in the middle: some objects acknowledged, not all
    assert kill_after - 1 <= len(acked) < BATCH, (at_kill, len(acked), output[-2000:])
    # every failure was reported to the client: storescu failed (aborted association), and every object it
    # sent without a success response got an error or no response at all, never a success
    assert client.returncode != 0
    assert re.search(r"E: .*(Abort|Store Failed|Failed)", output, re.IGNORECASE), output[-2000:]
    unanswered = [name for name, status in statuses.items() if status != "Success"]
    assert len(unanswered) <= 1, unanswered  # only the store in flight when the upstream died
    # every object the client saw acknowledged is upstream, whole (pixel data as sent)
    stored_first = on_disk(peers[:1])
    for name in acked:
        ds = sources[name]
        assert stored_first.get(str(ds.SOPInstanceUID)) == bytes(ds.PixelData), name
    # while the upstream was down: a clean transient reject, not a hang or an accept
    assert down.returncode != 0 and reject_line(down).startswith("Rejected Transient"), down.stdout + down.stderr
    # the gateway accepts new associations afterwards: a C-ECHO and a store of all the rest succeed
    assert echo.returncode == 0, echo.stdout + echo.stderr
    assert retry.returncode == 0, retry.stdout[-2000:] + retry.stderr[-2000:]
    everything = on_disk(peers)
    assert all(everything.get(str(ds.SOPInstanceUID)) == bytes(ds.PixelData) for ds in sources.values())
    # the audit trail and the statistics agree with the client
    events = [json.loads(x) for x in (tmp_path / "gw" / "audit.jsonl").read_text().splitlines()]
    transferred_ok = [e for e in events if e["event"] == "110104" and e["outcome"] == "0"]
    assert len(transferred_ok) == stats["stores_acknowledged"] == len(acked) + len(rest)
    failed = [e for e in events if e["event"] == "110104" and e["outcome"] != "0"]
    assert len(failed) <= 1  # at most the one in flight when the upstream died, recorded as failed
