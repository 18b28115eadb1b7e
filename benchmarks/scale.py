"""Scale-out, proven: seal into a PostgreSQL ledger that already holds 1,000,000 rows, and seal on a Dask cluster.

``--postgres``: a throw-away PostgreSQL 15 on loopback (tests/support/peers.start_postgres). The same corpus
(copies of pydicom's test files) is sealed into an empty ledger and into one that already holds ``--rows``
generated entries of another root (COPY, the ledger's own table); the ratio of the per-file costs shows
whether a file costs more when the ledger is large (goal: about 1.0).

``--dask``: ``dask scheduler`` + 2 ``dask worker`` processes (one thread each) started from the CLI on
loopback; the corpus sealed with ``--dask ADDRESS`` against ``--workers 2`` on this machine (ratio of wall
times) and against ``find | xargs -P2 sha256sum``.

Each figure is a median of ``--repeat`` interleaved runs with the load average printed. Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audit_vs_sha256sum import build_corpus, timed

RADGUARD = [sys.executable, "-m", "radguard.cli.main"]


def _seal(corpus: Path, env: dict[str, str], extra: list[str]) -> tuple[float, float]:
    wall, _peak, rc, cpu = timed([*RADGUARD, "seal", str(corpus), "--json", *extra], env)
    if rc not in (0, 1):
        sys.exit(f"seal failed ({rc})")
    return wall, cpu


def _fill(url: str, rows: int) -> float:
    """``rows`` ledger entries of another root, by COPY into the ledger's table; returns the seconds it took."""
    import psycopg

    from radguard.store import open_store

    open_store(url).close()  # the store's migrations create the ledger's tables
    t0 = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn, conn.cursor() as cur:
        cols = ("root, path, size, mtime_ns, dicom, file_sha256, elements, canary, run_id, seen_run, sealed_at, "
                "leaf")
        with cur.copy(f"COPY archive_entries ({cols}) FROM STDIN") as copy:
            for i in range(rows):
                h = f"{i:064x}"
                copy.write_row(("/bench/other", f"/bench/other/s{i // 1000:05d}/f{i:07d}.dcm", 1024, i, True, h,
                                "", False, 0, 0, "2026-01-01T00:00:00+00:00", h))
        conn.commit()
    return time.perf_counter() - t0


def postgres(corpus: Path, files: int, rows: int, repeat: int) -> None:
    from tests.support.peers import start_postgres, stop_process

    server = start_postgres()
    try:
        empty_url = server.create_database("empty")
        big_url = server.create_database("big")
        filled = _fill(big_url, rows)
        print(f"ledger filled with {rows:,} rows in {filled:.1f} s (COPY)")
        key = corpus.parent / "scale.key"
        env = dict(os.environ, RADGUARD_KEY=str(key), TCP_NODELAY="1")
        subprocess.run([*RADGUARD, "keygen", "--key", str(key)], env=env, check=True, capture_output=True)
        per: dict[str, list[float]] = {"empty": [], "big": []}
        for n in range(repeat):
            order = (("empty", empty_url), ("big", big_url))
            for name, url in order if n % 2 == 0 else order[::-1]:
                # a fresh root each run (hard links of the corpus): a first seal, in either ledger
                tree = corpus.parent / f"{name}-{n}"
                shutil.copytree(corpus, tree, copy_function=os.link)
                wall, cpu = _seal(tree, dict(env, RADGUARD_DB=url), ["--workers", "2"])
                per[name].append(wall / files * 1e3)
                print(f"  {name:<6} run {n + 1}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, "
                      f"{wall / files * 1e3:.3f} ms/file")
        e_med, b_med = statistics.median(per["empty"]), statistics.median(per["big"])
        print(f"per-file cost, median: empty ledger {e_med:.3f} ms, {rows:,}-row ledger {b_med:.3f} ms, "
              f"ratio {b_med / e_med:.2f} (goal about 1.0)")
    finally:
        stop_process(server.proc)
        shutil.rmtree(server.datadir.parent, ignore_errors=True)


def dask(corpus: Path, files: int, repeat: int) -> None:
    from tests.support.peers import free_port, wait_port

    exe = str(Path(sys.executable).with_name("dask"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([exe, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        wait_port("127.0.0.1", port, timeout=60)
        for n in range(2):
            procs.append(subprocess.Popen([exe, "worker", address, "--host", "127.0.0.1", "--nworkers", "1",
                                           "--nthreads", "1", "--no-dashboard", "--name", f"w{n}"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        tmp = Path(tempfile.mkdtemp(prefix="radguard-scale-"))
        key = tmp / "k.pem"
        env = dict(os.environ, RADGUARD_KEY=str(key), TCP_NODELAY="1")
        subprocess.run([*RADGUARD, "keygen", "--key", str(key)], env=env, check=True, capture_output=True)
        times: dict[str, list[float]] = {"dask": [], "local": [], "sha256sum": []}
        for n in range(repeat):
            for mode in ("dask", "local", "sha256sum") if n % 2 == 0 else ("sha256sum", "local", "dask"):
                if mode == "sha256sum":
                    wall = timed(f"find {corpus} -type f -print0 | xargs -0 -P2 -n 256 sha256sum > /dev/null",
                                 env, shell=True)[0]
                else:
                    e = dict(env, RADGUARD_DB=f"sqlite:///{tmp / f'{mode}-{n}.db'}")
                    extra = ["--dask", address] if mode == "dask" else ["--workers", "2"]
                    wall = _seal(corpus, e, extra)[0]
                times[mode].append(wall)
                print(f"  {mode:<9} run {n + 1}: {wall:6.2f} s")
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"seal of {files:,} files, median: dask (scheduler + 2 workers) {med['dask']:.2f} s, "
              f"--workers 2 {med['local']:.2f} s, sha256sum {med['sha256sum']:.2f} s; "
              f"dask / local {med['dask'] / med['local']:.2f}, sha256sum / dask {med['sha256sum'] / med['dask']:.2f}")
        shutil.rmtree(tmp, ignore_errors=True)
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres", action="store_true", help="the 1,000,000-row PostgreSQL ledger run")
    ap.add_argument("--dask", action="store_true", help="the Dask cluster run")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not (args.postgres or args.dask):
        ap.error("choose --postgres and/or --dask")
    print(f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="radguard-scale-") as tmp:
        corpus = Path(tmp) / "corpus"
        files, size = build_corpus(corpus, args.files, 0)
        print(f"corpus: {files:,} files, {size / 1e6:.0f} MB")
        if args.postgres:
            os.chmod(tmp, 0o755)
            postgres(corpus, files, args.rows, args.repeat)
        if args.dask:
            dask(corpus, files, args.repeat)
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
