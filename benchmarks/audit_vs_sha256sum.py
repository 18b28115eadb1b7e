"""Benchmark: ``radguard seal`` and ``radguard audit`` throughput vs ``sha256sum`` on the same files.

Claim (issue 4): radguard throughput >= 0.5x sha256sum with the same number of cores.
Corpus: >= 9,000 files / >= 280 MB of copies of pydicom's bundled DICOM test files, in a temp dir.
Each repetition: sha256sum via ``xargs -P N``; ``radguard seal --workers N`` into a fresh store
(start-up and store creation included); ``radguard audit --workers N`` (all checks + ledger
verification). Warm page cache for all. Prints medians, both ratios and peak memory (RSS of the
process tree, sampled), and the CPU time of each process tree (user+sys): on a shared machine the
CPU-time ratio is the steadier figure, the wall-clock ratio the claim.

With ``--compare-python`` every repetition also runs seal and audit on the pure-Python element walk
(``RADGUARD_NO_SPEEDUPS=1``), interleaved with the compiled one, to measure ``radguard.dicom._speedups``.

Usage: python benchmarks/audit_vs_sha256sum.py [--quick] [--repeat 3] [--workers N] [--compare-python]
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


def _speedups_built() -> bool:
    try:
        import radguard.dicom._speedups  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small corpus (900 files), one repetition")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--compare-python", action="store_true",
                    help="also run seal/audit with RADGUARD_NO_SPEEDUPS=1 (pure-Python walk), interleaved")
    args = ap.parse_args()
    files, min_bytes = (900, 28_000_000) if args.quick else (9000, 280_000_000)
    repeat = 1 if args.quick else max(3, args.repeat)
    radguard = shutil.which("radguard", path=str(Path(sys.executable).parent)) or "radguard"
    with tempfile.TemporaryDirectory(prefix="radguard-bench-") as tmp:
        root = Path(tmp) / "archive"
        n, size = build_corpus(root, files, min_bytes)
        print(f"corpus: {n} files, {size / 1e6:.1f} MB, workers={args.workers}, repetitions={repeat}, "
              f"compiled speedups: {_speedups_built()}, load average {os.getloadavg()[0]:.2f}")
        env = dict(os.environ, RADGUARD_KEY=str(Path(tmp) / "k.pem"), TCP_NODELAY="1")
        subprocess.run([radguard, "keygen"], env=env, check=True, stdout=subprocess.DEVNULL)
        sha_cmd = f"find {root} -type f -print0 | xargs -0 -P {args.workers} -n 256 sha256sum"
        timed(sha_cmd, env, shell=True)  # warm the page cache
        names = ["sha256sum", "seal", "audit"] + (["seal (python)", "audit (python)"] if args.compare_python else [])
        wall: dict[str, list[float]] = {k: [] for k in names}
        cpu: dict[str, list[float]] = {k: [] for k in names}
        peaks = dict.fromkeys(names, 0)
        for i in range(repeat):
            envs = {"": dict(env, RADGUARD_DB=f"sqlite:///{tmp}/bench-{i}.db")}
            if args.compare_python:
                envs[" (python)"] = dict(env, RADGUARD_DB=f"sqlite:///{tmp}/bench-py-{i}.db", RADGUARD_NO_SPEEDUPS="1")
            cmds: list[tuple[str, list[str] | str, dict[str, str]]] = [("sha256sum", sha_cmd, env)]
            for suffix, run_env in envs.items():
                cmds += [
                    ("seal" + suffix, [radguard, "seal", str(root), "--workers", str(args.workers), "--json"], run_env),
                    ("audit" + suffix, [radguard, "audit", str(root), "--workers", str(args.workers), "--json"],
                     run_env),
                ]
            for name, cmd, cmd_env in cmds:
                t, m, rc, c = timed(cmd, cmd_env, shell=name == "sha256sum")
                wall[name].append(t)
                cpu[name].append(c)
                peaks[name] = max(peaks[name], m)
                if name.startswith("audit") and rc != 0:
                    sys.exit("audit reported findings on a clean, sealed corpus")
        med = {k: statistics.median(v) for k, v in wall.items()}
        mcpu = {k: statistics.median(v) for k, v in cpu.items()}
        for name in names:
            print(f"{name + ':':16} {med[name]:.2f} s  ({size / 1e6 / med[name]:.0f} MB/s)  CPU {mcpu[name]:.2f} s  "
                  f"peak RSS {peaks[name] / 1e6:.0f} MB")
        for name in names[1:]:
            print(f"ratio {name:14} throughput / sha256sum: {med['sha256sum'] / med[name]:.2f}x (goal >= 0.5x); "
                  f"CPU-time ratio {mcpu['sha256sum'] / mcpu[name]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
