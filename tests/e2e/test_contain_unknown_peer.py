"""Issue 16 items 5 and 9: ``radguard contain --peer`` with an AE the gateway does not know.

During an incident a typo must not leave the real peer open while the command says "contained":
an unknown AE is exit 2 naming the known peers, and nothing is applied on the running gateway. A
5,000-character ``--peer`` is answered as what it is, not "not JSON"; a binary ``--config`` is one line.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli import radguard, usage_error
from tests.support.peers import free_port, wait_port

CONFIG = """
[gateway]
listen = "127.0.0.1:{port}"
upstream = "127.0.0.1:{up}"
upstream_ae = "STORESCP"
ae_title = "RADGUARD"
control = "run/control.sock"

[[peer]]
ae = "CT01"
hosts = ["127.0.0.1"]
allow = ["C-ECHO"]

[[peer]]
ae = "MR01"
hosts = ["127.0.0.1"]
allow = ["C-ECHO"]
"""


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Path]:
    port = free_port()
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(CONFIG.format(port=port, up=free_port()))
    proc = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", "gateway", "--config", str(cfg)],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        wait_port("127.0.0.1", port, proc=proc)  # type: ignore[arg-type]
        yield cfg
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _state(cfg: Path) -> dict[str, object]:
    proc = radguard(["contain", "--config", str(cfg), "--status", "--json"])
    assert proc.returncode == 0, proc.stderr
    state: dict[str, object] = json.loads(proc.stdout)["state"]
    return state


def test_unknown_peer_is_refused_naming_the_known_ones(gateway: Path) -> None:
    line = usage_error(radguard(["contain", "--config", str(gateway), "--peer", "CT0l"]))
    assert "CT0l" in line and "CT01" in line and "MR01" in line and "known peers" in line
    line = usage_error(radguard(["contain", "--config", str(gateway), "--read-only", "--peer", "XR99"]))
    assert "XR99" in line and "CT01, MR01" in line
    assert _state(gateway)["peers"] == [] and _state(gateway)["read_only_peers"] == []
    ok = radguard(["contain", "--config", str(gateway), "--peer", "CT01"])  # a known peer is still contained
    assert ok.returncode == 0, ok.stderr
    assert _state(gateway)["peers"] == ["CT01"]


def test_oversized_peer_is_answered_clearly(gateway: Path) -> None:
    line = usage_error(radguard(["contain", "--config", str(gateway), "--peer", "A" * 5000]))
    assert "not an AE title" in line and "5000 characters" in line and "not JSON" not in line
    assert len(line) < 300


def test_binary_config_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "gateway.toml"
    cfg.write_bytes(bytes(range(256)) * 8)
    for args in (["gateway", "--config", str(cfg), "--check"], ["contain", "--config", str(cfg), "--status"]):
        line = usage_error(radguard(args))
        assert "internal error" not in line and "not a text file" in line
