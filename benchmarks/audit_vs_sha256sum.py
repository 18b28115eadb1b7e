"""Benchmark: ``radguard seal`` and ``radguard audit`` throughput vs ``sha256sum`` on the same files.

Claim (issue 4): radguard throughput >= 0.5x sha256sum with the same number of cores.
Corpus: >= 9,000 files / >= 280 MB of copies of pydicom's bundled DICOM test files, in a temp dir.
Each repetition: sha256sum via ``xargs -P N``; ``radguard seal --workers N`` into a fresh store
(start-up and store creation included); ``radguard audit --workers N`` (all checks + ledger
verification). Warm page cache for all. Prints medians, both ratios and peak memory (RSS of the
process tree, sampled), and the CPU time of each process tree (user+sys): on a shared machine the
CPU-time ratio is the steadier figure, the wall-clock ratio the claim.

Usage: python benchmarks/audit_vs_sha256sum.py [--quick] [--repeat 3] [--workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
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


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd: list[str] | str, env: dict[str, str], shell: bool = False) -> tuple[float, int, int, float]:
    """Wall seconds, peak RSS, exit code and CPU seconds (user+sys of the whole process tree)."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    mem = PeakRss(proc.pid)
    _out, err = proc.communicate()
    elapsed = time.perf_counter() - t0
    peak = mem.stop()
    if proc.returncode not in (0, 1):
        sys.exit(f"command failed ({proc.returncode}): {cmd}\n{err.decode(errors='replace')[-2000:]}")
    return elapsed, peak, proc.returncode, _children_cpu() - cpu0


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
        wall: dict[str, list[float]] = {"sha256sum": [], "seal": [], "audit": []}
        cpu: dict[str, list[float]] = {"sha256sum": [], "seal": [], "audit": []}
        peaks = {"sha256sum": 0, "seal": 0, "audit": 0}
        for i in range(repeat):
            run_env = dict(env, RADGUARD_DB=f"sqlite:///{tmp}/bench-{i}.db")
            cmds: list[tuple[str, list[str] | str]] = [
                ("sha256sum", sha_cmd),
                ("seal", [radguard, "seal", str(root), "--workers", str(args.workers), "--json"]),
                ("audit", [radguard, "audit", str(root), "--workers", str(args.workers), "--json"]),
            ]
            for name, cmd in cmds:
                t, m, rc, c = timed(cmd, run_env if name != "sha256sum" else env, shell=name == "sha256sum")
                wall[name].append(t)
                cpu[name].append(c)
                peaks[name] = max(peaks[name], m)
                if name == "audit" and rc != 0:
                    sys.exit("audit reported findings on a clean, sealed corpus")
        med = {k: statistics.median(v) for k, v in wall.items()}
        mcpu = {k: statistics.median(v) for k, v in cpu.items()}
        for name in ("sha256sum", "seal", "audit"):
            print(f"{name + ':':10} {med[name]:.2f} s  ({size / 1e6 / med[name]:.0f} MB/s)  CPU {mcpu[name]:.2f} s  "
                  f"peak RSS {peaks[name] / 1e6:.0f} MB")
        for name in ("seal", "audit"):
            print(f"ratio {name:5} throughput / sha256sum: {med['sha256sum'] / med[name]:.2f}x (goal >= 0.5x); "
                  f"CPU-time ratio {mcpu['sha256sum'] / mcpu[name]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
