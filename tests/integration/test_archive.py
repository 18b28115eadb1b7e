"""Archive integrity against real tools and servers: DCMTK dcmconv, Orthanc, PostgreSQL, kill -9."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from radguard.archive.seal import BATCH
from radguard.cli.main import main
from radguard.inspect.api import inspect_path
from tests.support.corpus import ELF_HEAD, PE_STUB, read, with_preamble, write_tree
from tests.support.peers import OrthancPeer, dcmtk_env, free_port, wait_port

pytestmark = pytest.mark.integration


def _rules(findings: list[dict[str, object]]) -> list[tuple[object, object]]:
    return sorted((f["rule"], f["severity"]) for f in findings)


def test_dcmconv_keeps_a_polyglot_preamble(tmp_path: Path) -> None:
    src = tmp_path / "pe.dcm"
    src.write_bytes(with_preamble("CT_small.dcm", PE_STUB))
    for flags in ([], ["+ti"], ["+te"]):
        out = tmp_path / f"out{len(flags)}{''.join(flags)}.dcm"
        subprocess.run(["dcmconv", *flags, str(src), str(out)], check=True, env=dcmtk_env(), timeout=60)
        assert out.read_bytes()[:2] == b"MZ"
        assert [(f.rule, f.evidence["kind"]) for f in inspect_path(out)] == [("executable-preamble", "pe")]


def test_orthanc_rest_upload_keeps_preamble_and_audit_finds_it(orthanc: OrthancPeer,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = with_preamble("MR_small.dcm", ELF_HEAD)
    answer = orthanc.rest("POST", "/instances", data)
    assert answer["Status"] in ("Success", "AlreadyStored")
    stored = [p for p in orthanc.storage_dir.rglob("*") if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"]
    assert len(stored) == 1
    assert main(["audit", str(orthanc.storage_dir), "--workers", "1", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    hits = [f for f in doc["findings"] if f["rule"] == "executable-preamble"]
    assert [(f["target"], f["severity"], f["evidence"]["kind"]) for f in hits] == [
        (str(stored[0]), "critical", "elf")]


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return int(conn.execute("select count(*) from archive_entries").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_kill_9_during_seal_then_resume_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    arc = tmp_path / "arc"
    total = 0
    blob = read("MR_small.dcm")
    for d in range(30):
        sub = arc / f"s{d:02d}"
        sub.mkdir(parents=True)
        for i in range(100):
            (sub / f"{i:03d}.dcm").write_bytes(blob)
            total += 1
    db = tmp_path / "kill.db"
    env = dict(os.environ, RADGUARD_DB=f"sqlite:///{db}", RADGUARD_KEY=str(tmp_path / "k.pem"))
    monkeypatch.setenv("RADGUARD_DB", env["RADGUARD_DB"])
    monkeypatch.setenv("RADGUARD_KEY", env["RADGUARD_KEY"])
    assert main(["keygen"]) == 0
    cmd = [sys.executable, "-m", "radguard.cli.main", "seal", str(arc), "--workers", "1", "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _count(db) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _count(db)
    assert 0 < partial < total  # killed mid-way, whole batches only
    assert partial % BATCH == 0
    capsys.readouterr()
    assert main(["seal", str(arc), "--workers", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert (summary["unchanged"], summary["hashed"], summary["files"]) == (partial, total - partial, total)
    assert _count(db) == total
    assert main(["audit", str(arc), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"] == [] and doc["summary"]["status"] == {"ok": total}


def test_ledger_on_postgresql(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RADGUARD_DB", postgres_url)
    monkeypatch.setenv("RADGUARD_KEY", str(tmp_path / "k.pem"))
    assert main(["keygen"]) == 0
    arc = tmp_path / "arc"
    paths = write_tree(arc)
    assert main(["seal", str(arc), "--workers", "2", "--json"]) == 0
    capsys.readouterr()
    import pydicom

    ds = pydicom.dcmread(paths[0])
    ds.PatientID = "X"
    ds.save_as(paths[0])
    paths[1].unlink()
    assert main(["audit", str(arc), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert _rules(doc["findings"]) == [("header-tampered", "high"), ("missing", "high")]
    assert next(f for f in doc["findings"] if f["rule"] == "header-tampered")["evidence"]["changed"] == ["PatientID"]
    backup = tmp_path / "backup"
    write_tree(backup)
    assert main(["recover", str(arc), "--from", str(backup), "--apply", "--json"]) == 0
    capsys.readouterr()
    assert main(["audit", str(arc), "--json"]) == 0


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A real Dask cluster on loopback, as a site runs one: ``dask scheduler`` and two ``dask worker`` processes
    (one process, one thread each) started from the CLI; the workers import radguard from this environment."""
    dask = str(Path(sys.executable).with_name("dask"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=(logs / "scheduler.log").open("wb"),
                              start_new_session=True)]
    try:
        wait_port("127.0.0.1", port, timeout=60, proc=procs[0])
        for n in range(2):
            procs.append(subprocess.Popen(
                [dask, "worker", address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
                 "--no-dashboard", "--name", f"w{n}", "--local-directory", str(tmp_path / f"w{n}")],
                stdout=subprocess.DEVNULL, stderr=(logs / f"worker{n}.log").open("wb"), start_new_session=True))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_seal_and_audit_on_a_dask_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str], dask_cluster: str) -> None:
    from distributed import Client

    monkeypatch.setenv("RADGUARD_KEY", str(tmp_path / "k.pem"))
    assert main(["keygen"]) == 0
    arc = tmp_path / "arc"
    paths = write_tree(arc)
    paths[2].write_bytes(read(paths[2].name) + PE_STUB)
    capsys.readouterr()
    assert main(["seal", str(arc), "--dask", dask_cluster, "--json"]) == 1
    sealed = json.loads(capsys.readouterr().out)
    assert sealed["summary"]["hashed"] == 8
    assert _rules(sealed["findings"]) == [("trailing-data", "critical")]
    paths[0].write_bytes(with_preamble(paths[0].name, ELF_HEAD))
    assert main(["audit", str(arc), "--dask", dask_cluster, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert _rules(doc["findings"]) == [("bytes-changed", "medium"), ("executable-preamble", "critical"),
                                      ("trailing-data", "critical")]
    with Client(dask_cluster, timeout=30) as client:  # the work ran in the two worker processes
        assert len(client.scheduler_info()["workers"]) == 2
        pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    import radguard.archive.runner

    monkeypatch.setattr(radguard.archive.runner, "CONNECT_TIMEOUT", 1.0)
    assert main(["audit", str(arc), "--dask", "tcp://127.0.0.1:1", "--json"]) == 2
