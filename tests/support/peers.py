"""Real peers for tests, started on free loopback ports.

The DICOM peers (DCMTK storescp/dcmqrscp, Orthanc) are the simulated department of the range
(:mod:`radguard.range.peers`, which the demo uses too) and are re-exported here; the throw-away
PostgreSQL server only tests use lives here.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from radguard.range.peers import (
    LOOPBACK,
    OrthancPeer,
    Peer,
    dcmtk_env,
    free_port,
    orthanc_config,
    start_dcmqrscp,
    start_orthanc,
    start_storescp,
    stop_process,
    storescu,
    wait_port,
)

__all__ = [
    "LOOPBACK",
    "PG_BIN",
    "OrthancPeer",
    "Peer",
    "PostgresServer",
    "dcmtk_env",
    "free_port",
    "orthanc_config",
    "start_dcmqrscp",
    "start_orthanc",
    "start_postgres",
    "start_storescp",
    "stop_process",
    "storescu",
    "wait_port",
]

PG_BIN = Path("/usr/lib/postgresql/15/bin")


# -------------------------------------------------------------------- PostgreSQL
@dataclass
class PostgresServer:
    port: int
    datadir: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "psql"), "-h", LOOPBACK, "-p", str(self.port),
             "-U", "postgres", "-q", "-c", f'CREATE DATABASE "{name}"'],
            check=True, capture_output=True,
        )
        return f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/{name}"

    def stop(self) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """A throw-away PostgreSQL 15 cluster run as the ``postgres`` user (it refuses root), trust auth on loopback."""
    base = Path(tempfile.mkdtemp(prefix="radguard-pg-"))
    shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    run = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*run, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        check=True, capture_output=True,
    )
    port = free_port()
    log = (base / "postgres.log").open("wb")
    shutil.chown(base / "postgres.log", "postgres", "postgres")
    proc = subprocess.Popen(
        [*run, str(PG_BIN / "postgres"), "-D", str(data), "-h", LOOPBACK, "-p", str(port), "-k", str(base),
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + 30
    while True:
        r = subprocess.run([str(PG_BIN / "pg_isready"), "-h", LOOPBACK, "-p", str(port)], capture_output=True)
        if r.returncode == 0:
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"PostgreSQL did not start: {(base / 'postgres.log').read_text()[-2000:]}")
        time.sleep(0.1)
    return PostgresServer(port=port, datadir=data, proc=proc)
