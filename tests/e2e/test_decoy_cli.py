"""``radguard decoy`` and ``radguard decoy plant`` keep the CLI contract: bad arguments are one-line usage
errors (exit 2), an unreachable PACS is a result (exit 1, JSON saying why), an untouched decoy exits 0
with one JSON object, a touched one 1."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cli import no_traceback, radguard, usage_error
from tests.support.peers import free_port, wait_port


@pytest.mark.parametrize("args,needle", [
    (["decoy", "--listen", "nonsense"], "--listen must look like HOST:PORT"),
    (["decoy", "--listen", "127.0.0.1:0", "--product", "nope"], "unknown product"),
    (["decoy", "--listen", "127.0.0.1:0", "--audit-syslog", "ftp://x"], "--audit-syslog"),
    (["decoy", "plant", "--pacs", "nohost"], "--pacs must look like HOST:PORT"),
    (["decoy", "plant", "--pacs", "127.0.0.1:104", "--calling-ae", "A" * 17], "--calling-ae must be"),
])
def test_bad_arguments_are_one_line_usage_errors(args: list[str], needle: str) -> None:
    assert needle in usage_error(radguard(args))


def test_a_port_in_use_is_a_usage_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = usage_error(radguard(["decoy", "--listen", f"127.0.0.1:{port}", "--no-store"]))
    assert line.startswith("radguard: error: cannot start the decoy on 127.0.0.1:")


def test_plant_into_an_unreachable_pacs_is_a_result() -> None:
    proc = radguard(["decoy", "plant", "--pacs", f"127.0.0.1:{free_port()}", "--timeout", "2", "--json"])
    no_traceback(proc)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["schema"] == "radguard.decoy-plant/1"
    assert doc["planted"] == 0 and doc["error"].startswith("cannot connect")


def test_an_untouched_decoy_exits_0_and_a_touched_one_1(tmp_path: Path) -> None:
    port = free_port()
    quiet = radguard(["decoy", "--listen", f"127.0.0.1:{port}", "--duration", "0.5", "--json"])
    doc = json.loads(quiet.stdout)
    assert quiet.returncode == 0 and doc["findings"] == [] and doc["alerts"] == 0 and doc["studies"] == 12
    proc = subprocess.Popen([sys.executable, "-m", "radguard.cli.main", "decoy", "--listen", f"127.0.0.1:{port}",
                             "--json", "--alerts", str(tmp_path / "a.jsonl"), "--audit-file",
                             str(tmp_path / "atna.jsonl")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_port("127.0.0.1", port, timeout=60)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"hello\r\n")
        with contextlib.suppress(OSError):
            s.recv(100)  # the A-ABORT
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err
    touched = json.loads(out)
    assert proc.returncode == 1 and touched["findings"][0]["rule"] == "decoy-touched"
    events = [json.loads(x)["event"] for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert events == ["connection", "protocol-violation"]  # wait_port's bare connect, then the garbage
    atna = [json.loads(x) for x in (tmp_path / "atna.jsonl").read_text().splitlines()]
    assert atna and all(r["event"] == "110113" for r in atna)  # Security Alert (PS3.15 A.5.3.13)
