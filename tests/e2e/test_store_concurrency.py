"""Several radguard processes on one store: cron audit, a manual scan, a seal, all at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.cli import no_traceback

#: each process imports everything first, then waits for the start flag: they open the store together
RACER = """
import os, sys, time
from radguard.cli.main import main
import radguard.store, sqlalchemy, alembic.command  # noqa: F401 - imports before the race
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.0005)
sys.exit(main(["runs", "--json"]))
"""


def test_first_use_of_a_store_by_concurrent_processes(tmp_path: Path) -> None:
    failures = []
    for attempt in range(2):
        env = {**os.environ, "RADGUARD_DB": f"sqlite:///{tmp_path / f'fresh{attempt}.db'}"}
        flag = tmp_path / f"go{attempt}"
        ready = [tmp_path / f"ready{attempt}-{i}" for i in range(5)]
        procs = [subprocess.Popen([sys.executable, "-c", RACER, str(flag), str(r)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in ready]
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            time.sleep(0.01)
        flag.touch()
        for p in procs:
            out, err = p.communicate(timeout=60)
            no_traceback(subprocess.CompletedProcess(p.args, p.returncode, out, err))
            if p.returncode != 0:
                failures.append(err.strip())
    assert failures == []


def test_default_store_is_private(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RADGUARD_DB"}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    proc = subprocess.run([sys.executable, "-m", "radguard.cli.main", "runs", "--json"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    dbs = list((tmp_path / "data").rglob("*.db"))
    assert len(dbs) == 1
    assert dbs[0].stat().st_mode & 0o077 == 0 and dbs[0].parent.stat().st_mode & 0o077 == 0
