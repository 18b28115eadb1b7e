"""Benchmark: ``radguard seal`` and ``radguard audit`` throughput vs ``sha256sum`` on the same files.

Claim (issue 4): radguard throughput >= 0.5x sha256sum with the same number of cores.
Corpus: >= 9,000 files / >= 280 MB of copies of pydicom's bundled DICOM test files, in a temp dir.
Each repetition: sha256sum via ``xargs -P N``; ``radguard seal --workers N`` into a fresh store
(start-up and store creation included); ``radguard audit --workers N`` (all checks + ledger
verification). Warm page cache for all. Prints medians, both ratios and peak memory (RSS of the
process tree, sampled).

Usage: python benchmarks/audit_vs_sha256sum.py [--quick] [--repeat 3] [--workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pydicom.data

DATA = Path(os.path.dirname(pydicom.data.__file__)) / "test_files"


def build_corpus(root: Path, files: int, min_bytes: int) -> tuple[int, int]:
    sources = sorted(p for p in DATA.glob("*.dcm") if p.read_bytes()[128:132] == b"DICM")
    blobs = [p.read_bytes() for p in sources]
    n = size = 0
    while n < files or size < min_bytes:
        d = root / f"study{n // 100:04d}"
        if n % 100 == 0:
            d.mkdir(parents=True, exist_ok=True)
        blob = blobs[n % len(blobs)]
        (d / f"im{n:06d}.dcm").write_bytes(blob)
        n += 1
        size += len(blob)
    return n, size


class PeakRss:
    """Samples the summed RSS of a process and its children every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._proc = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self._proc, *self._proc.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            time.sleep(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(cmd: list[str] | str, env: dict[str, str], shell: bool = False) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    mem = PeakRss(proc.pid)
    _out, err = proc.communicate()
    elapsed = time.perf_counter() - t0
    peak = mem.stop()
    if proc.returncode not in (0, 1):
        sys.exit(f"command failed ({proc.returncode}): {cmd}\n{err.decode(errors='replace')[-2000:]}")
    return elapsed, peak, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small corpus (900 files), one repetition")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    files, min_bytes = (900, 28_000_000) if args.quick else (9000, 280_000_000)
    repeat = 1 if args.quick else max(3, args.repeat)
    radguard = shutil.which("radguard", path=str(Path(sys.executable).parent)) or "radguard"
    with tempfile.TemporaryDirectory(prefix="radguard-bench-") as tmp:
        root = Path(tmp) / "archive"
        n, size = build_corpus(root, files, min_bytes)
        print(f"corpus: {n} files, {size / 1e6:.1f} MB, workers={args.workers}, repetitions={repeat}")
        env = dict(os.environ, RADGUARD_KEY=str(Path(tmp) / "k.pem"), TCP_NODELAY="1")
        subprocess.run([radguard, "keygen"], env=env, check=True, stdout=subprocess.DEVNULL)
        sha_cmd = f"find {root} -type f -print0 | xargs -0 -P {args.workers} -n 256 sha256sum"
        timed(sha_cmd, env, shell=True)  # warm the page cache
        sha_t: list[float] = []
        seal_t: list[float] = []
        audit_t: list[float] = []
        peaks = {"sha256sum": 0, "seal": 0, "audit": 0}
        for i in range(repeat):
            t, m, _rc = timed(sha_cmd, env, shell=True)
            sha_t.append(t)
            peaks["sha256sum"] = max(peaks["sha256sum"], m)
            run_env = dict(env, RADGUARD_DB=f"sqlite:///{tmp}/bench-{i}.db")
            t, m, _rc = timed([radguard, "seal", str(root), "--workers", str(args.workers), "--json"], run_env)
            seal_t.append(t)
            peaks["seal"] = max(peaks["seal"], m)
            t, m, rc = timed([radguard, "audit", str(root), "--workers", str(args.workers), "--json"], run_env)
            audit_t.append(t)
            peaks["audit"] = max(peaks["audit"], m)
            if rc != 0:
                sys.exit("audit reported findings on a clean, sealed corpus")
        sha, seal, audit = (statistics.median(x) for x in (sha_t, seal_t, audit_t))
        print(f"sha256sum: {sha:.2f} s  ({size / 1e6 / sha:.0f} MB/s)  peak RSS {peaks['sha256sum'] / 1e6:.0f} MB")
        print(f"seal:      {seal:.2f} s  ({size / 1e6 / seal:.0f} MB/s)  peak RSS {peaks['seal'] / 1e6:.0f} MB")
        print(f"audit:     {audit:.2f} s  ({size / 1e6 / audit:.0f} MB/s)  peak RSS {peaks['audit'] / 1e6:.0f} MB")
        print(f"ratio seal  throughput / sha256sum: {sha / seal:.2f}x (goal >= 0.5x)")
        print(f"ratio audit throughput / sha256sum: {sha / audit:.2f}x (goal >= 0.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
