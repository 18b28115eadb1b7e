"""Benchmark: the fixed cost of each ``radguard`` command (issue 15: start-up).

Claim: every command's fixed cost is <= 0.2 s before its work starts, and ``radguard runs --json`` on an
existing SQLite store takes <= 0.3 s (median wall time of the whole process).
Baseline: ``python -c pass`` with the same interpreter, run in turn with each command (A B A B ...).

Each command runs on trivial input (an existing store, a one-file archive, one closed loopback port), so
its wall time is start-up (interpreter, imports, argument parsing, opening the store) plus a little work.
Byte-code caches are written (``PYTHONDONTWRITEBYTECODE`` is removed from the environment) and warmed by
one run that is not counted. Prints per command the median wall time, the median of the pair-by-pair
ratios against the baseline and the load average; ``--importtime`` also prints each command's ten
costliest top-level imports (``python -X importtime``).

``--before SRC`` also times the radguard of another checkout (its ``src`` directory, first on
``PYTHONPATH``) in the same rotation (after, before, baseline, after, ...) and prints after/before.

Usage: python benchmarks/startup.py [--repeat 7] [--importtime] [--only runs,scan] [--before SRC]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom.data

ROOT = Path(__file__).resolve().parents[1]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tiny_capture(path: Path) -> Path:
    """A capture of one association carrying one C-STORE of CT_small (11 frames; the fuzz seed)."""
    sys.path.insert(0, str(ROOT))
    from fuzz.seeds import pcap

    path.write_bytes(dict(pcap())["store-link1.pcap"])
    return path


def commands(tmp: Path) -> dict[str, list[str]]:
    archive = tmp / "archive"
    archive.mkdir()
    src = Path(os.path.dirname(pydicom.data.__file__)) / "test_files" / "CT_small.dcm"
    shutil.copy(src, archive / "ct.dcm")
    capture = tiny_capture(tmp / "store.pcap")
    return {
        "--version": ["--version"],
        "runs --json": ["runs", "--json"],
        "findings list --json": ["findings", "list", "--kind", "seal", "--json"],
        "rules --json": ["rules", "--json"],
        "seal (1 file, unchanged)": ["seal", str(archive), "--workers", "1", "--json"],
        "audit (1 file)": ["audit", str(archive), "--workers", "1", "--json"],
        "scan (1 closed port)": ["scan", "127.0.0.1", "-p", str(closed_port()), "--json"],
        "pcap (1 C-STORE)": ["pcap", str(capture), "--json", "--no-store", "--dicom-port", "104"],
    }


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"command failed ({proc.returncode}): {cmd}\n{proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed


def top_imports(cmd: list[str], env: dict[str, str], n: int = 10) -> list[tuple[int, str]]:
    """The ``n`` costliest top-level imports (cumulative microseconds, module) of ``cmd``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], env=env, capture_output=True, check=False)
    out: list[tuple[int, str]] = []
    for line in proc.stderr.decode(errors="replace").splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].startswith(" ") and not parts[2].startswith("  "):
            try:
                out.append((int(parts[1]), parts[2].strip()))
            except ValueError:
                continue
    return sorted(out, reverse=True)[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--importtime", action="store_true", help="print each command's costliest imports")
    ap.add_argument("--only", default="", help="comma-separated substrings of the command names to run")
    ap.add_argument("--before", type=Path, help="also time the radguard of this src directory (PYTHONPATH)")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if args.before is not None and not (args.before / "radguard" / "__init__.py").is_file():
        sys.exit(f"--before {args.before}: not a src directory holding radguard/")
    base = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory(prefix="radguard-startup-") as td:
        tmp = Path(td)
        env.update(RADGUARD_DB=f"sqlite:///{tmp / 'store.db'}", RADGUARD_KEY=str(tmp / "k.pem"), TCP_NODELAY="1")
        rg = [sys.executable, "-m", "radguard.cli.main"]
        subprocess.run([*rg, "keygen"], env=env, check=True, stdout=subprocess.DEVNULL)
        cmds = commands(tmp)
        subprocess.run([*rg, *cmds["seal (1 file, unchanged)"]], env=env, check=True, stdout=subprocess.DEVNULL)
        only = [s for s in args.only.split(",") if s]
        print(f"python {sys.version.split()[0]}, repetitions {args.repeat} (A B A B ...), "
              f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
        before_env = {**env, "PYTHONPATH": str(args.before.resolve())} if args.before else None
        print(f"{'command':28} {'median s':>9} {'python -c pass':>15} {'ratio':>7}  {'minus baseline':>14}"
              + (f" {'before s':>9} {'after/before':>13}" if before_env else ""))
        for name, cmd_args in cmds.items():
            if only and not any(s in name for s in only):
                continue
            cmd = [*rg, *cmd_args]
            wall(cmd, env), wall(base, env)  # warm-up: byte-code caches, page cache
            if before_env:
                wall(cmd, before_env)
            a: list[float] = []
            b: list[float] = []
            c: list[float] = []
            for _ in range(args.repeat):
                a.append(wall(cmd, env))
                if before_env:
                    c.append(wall(cmd, before_env))
                b.append(wall(base, env))
            ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
            ma, mb = statistics.median(a), statistics.median(b)
            line = f"{name:28} {ma:9.3f} {mb:15.3f} {ratio:6.1f}x  {ma - mb:13.3f}s"
            if before_env:
                vs = statistics.median(x / z for x, z in zip(a, c, strict=True))
                line += f" {statistics.median(c):9.3f} {vs:12.2f}x"
            print(line)
            if args.importtime:
                for us, mod in top_imports(cmd, env):
                    print(f"    {us / 1e6:7.3f} s  {mod}")
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
