"""Hostile environments: special files in an archive tree, hostile DICOM peers in a scan.
A bad file or a hostile peer is a result, never a hang, a crash or exit 2."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from radguard.range.samples import bundled
from tests.e2e.cli import json_doc, radguard

GIB = 1 << 30


def _tree(tmp_path: Path) -> Path:
    arc = tmp_path / "arc"
    arc.mkdir()
    shutil.copy(bundled("CT_small.dcm"), arc)
    return arc


def test_audit_skips_or_reports_fifos_loops_and_dangling_links(tmp_path: Path) -> None:
    arc = _tree(tmp_path)
    os.mkfifo(arc / "pipe.dcm")
    (arc / "loop").symlink_to(".")
    (arc / "dangling.dcm").symlink_to(tmp_path / "gone.dcm")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(arc / "socket.dcm"))
    try:
        doc = json_doc(radguard(["audit", str(arc), "--workers", "2", "--json"], timeout=60,
                                memory_limit=4 * GIB), "audit")
    finally:
        sock.close()
    assert sorted((Path(f["target"]).name, f["rule"]) for f in doc["findings"]) == [("dangling.dcm", "unreadable")]


@pytest.mark.parametrize("special", ["zero", "fifo"])
def test_audit_survives_links_to_special_files(tmp_path: Path, special: str) -> None:
    arc = _tree(tmp_path)
    if special == "zero":
        (arc / "zero.dcm").symlink_to("/dev/zero")
    else:
        os.mkfifo(tmp_path / "fifo")
        (arc / "fifo.dcm").symlink_to(tmp_path / "fifo")
    try:
        proc = radguard(["audit", str(arc), "--workers", "1", "--json"], timeout=6, memory_limit=2 * GIB)
    except subprocess.TimeoutExpired:
        pytest.fail("audit hangs on a link to a special file")
    finally:
        if special == "fifo":  # release a reader left blocked in open() (an orphaned worker)
            with contextlib.suppress(OSError):
                os.close(os.open(tmp_path / "fifo", os.O_WRONLY | os.O_NONBLOCK))
    json_doc(proc, "audit", rc=(0, 1))


class Hostile:
    """A TCP server on loopback whose every connection gets ``behave(conn)``."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self.behave = behave
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            self.behave(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def _close_at_once(conn: socket.socket) -> None:
    return None


def _huge_length(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(struct.pack(">BBL", 2, 0, 0xFFFFFFFF) + bytes(1024))


def _garbage(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(os.urandom(4096))


def _silent(conn: socket.socket) -> None:
    conn.recv(65536)
    threading.Event().wait(4)


def _drip(conn: socket.socket) -> None:
    conn.recv(65536)
    for b in struct.pack(">BBL", 2, 0, 200):
        conn.sendall(bytes([b]))
        threading.Event().wait(0.5)


def _banner(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    conn.recv(65536)


@pytest.fixture
def hostile_ports() -> Iterator[list[int]]:
    servers = [Hostile(b) for b in (_close_at_once, _huge_length, _garbage, _silent, _drip, _banner)]
    yield [s.port for s in servers]
    for s in servers:
        s.close()


def test_scan_of_hostile_peers_is_a_result(hostile_ports: list[int], tmp_path: Path) -> None:
    sarif = tmp_path / "s.sarif"
    proc = radguard(["scan", "127.0.0.1", "-p", ",".join(map(str, hostile_ports)), "--timeout", "1", "--json",
                     "--sarif", str(sarif), "--fail-on", "critical"], timeout=90, memory_limit=4 * GIB)
    doc = json_doc(proc, "scan", rc=(0, 1))
    seen = {p["target"] for p in doc["ports"]} | {e["target"] for e in doc["errors"]}
    assert all(any(str(port) in t for t in seen) for port in hostile_ports), (seen, hostile_ports)
    assert sarif.exists()
