"""Run radguard's coverage-guided fuzz targets (atheris + libFuzzer) and report what they did.

    python fuzz/run.py [TARGET ...] [--seconds N] [--runs N] [--jobs J] [--workdir DIR] [--captures DIR] [--json]

For each target (all by default): seeds are generated once into ``WORKDIR/seeds/<target>``
(``fuzz/seeds.py``: pydicom's bundled test files, radguard's threat corpus, DICOM traffic encoded by
radguard's own codecs, and with ``--captures`` the capture files made by tests/captures/make_captures.py);
libFuzzer grows ``WORKDIR/corpus/<target>`` from them for ``--seconds`` seconds (or ``--runs`` executions,
whichever comes first) under ``nice``, with a
per-input time limit (``-timeout``) and a memory limit (``-rss_limit_mb``). A crash (see fuzz/common.py)
is written to ``WORKDIR/artifacts/<target>/`` and the target restarted for the time left, so a long run
reports every distinct crash, not only the first.

Prints per target: executions, seconds, executions per second, corpus size and crashes; with ``--json``
one JSON object on stdout. Exit status: 0 no crash, 1 at least one crash, 2 the run could not start.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: target -> largest input libFuzzer generates (bytes): above the seeds that matter, small enough to stay fast
MAX_LEN = {
    "ul": 65536,
    "part10": 65536,
    "dataset": 65536,
    "pcap": 65536,
    "tcp": 4096,
    "config": 4096,
}
TARGETS = tuple(MAX_LEN)
#: one input running longer than this is a hang (seconds)
TIMEOUT = 10
#: the fuzzing process growing above this is a memory blow-up (MB); a bare target runs in about 60-120 MB
RSS_LIMIT_MB = 1024
#: stop restarting a target after this many crash artifacts in one run (a crash not fixed comes back at once)
MAX_CRASHES = 20

_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.M)
_PROGRESS = re.compile(r"^#(\d+)\s", re.M)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")
#: artifact name prefixes that are crashes (libFuzzer also writes slow-unit-*, which is not)
_CRASH_KINDS = frozenset({"crash", "timeout", "oom", "leak"})


@dataclass
class Crash:
    """One input that crashed a target: the kind (crash, timeout, oom), the file and a one-line reason."""

    kind: str
    artifact: str
    reason: str


@dataclass
class Result:
    target: str
    executions: int = 0
    seconds: float = 0.0
    exec_per_second: float = 0.0
    corpus: int = 0
    peak_rss_mb: int = 0
    crashes: list[Crash] = field(default_factory=list)
    error: str | None = None


def _reason(log: str) -> str:
    """The line that says why libFuzzer stopped: the Python exception, the timeout or the memory limit."""
    if "ALARM: working on the last Unit" in log:
        found = re.search(r"ALARM: working on the last Unit for (\d+) seconds", log)
        return f"hang: one input ran over {found.group(1) if found else TIMEOUT} s"
    if "out-of-memory" in log:
        found = re.search(r"out-of-memory \(used: (\d+)Mb", log)
        return f"memory: {found.group(1) if found else '?'} MB above the {RSS_LIMIT_MB} MB limit"
    if "deadly signal" in log:
        return "deadly signal: the interpreter or compiled code (radguard.dicom._speedups) crashed"
    block = log.split("=== Uncaught Python exception: ===", 1)
    if len(block) == 2:
        lines = [ln for ln in block[1].splitlines() if ln.strip()]
        where = [ln.strip() for ln in lines if ln.strip().startswith("File ")]
        first = lines[0].strip() if lines else "?"
        return f"{first[:160]}{'...' if len(first) > 160 else ''} ({where[-1] if where else '?'})"
    return "libFuzzer stopped: " + (log.strip().splitlines() or ["?"])[-1]


def _fuzz_once(target: str, seconds: int, workdir: Path, timeout: int, runs: int) -> tuple[int, int, str, list[str]]:
    """One libFuzzer process (``runs`` executions at most, 0: no limit): (executions, peak RSS, log, artifacts)."""
    corpus = workdir / "corpus" / target
    seeds = workdir / "seeds" / target
    artifacts = workdir / "artifacts" / target
    for d in (corpus, artifacts):
        d.mkdir(parents=True, exist_ok=True)
    cmd = ["nice", "-n", "10", sys.executable, str(HERE / f"fuzz_{target}.py"), str(corpus), str(seeds),
           f"-max_total_time={seconds}", f"-timeout={timeout}", f"-rss_limit_mb={RSS_LIMIT_MB}",
           f"-max_len={MAX_LEN[target]}", f"-artifact_prefix={artifacts}/", "-print_final_stats=1",
           "-print_pcs=0", "-reload=0", *([f"-runs={runs}"] if runs else [])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    with tempfile.TemporaryFile("w+") as log_file:
        subprocess.run(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=workdir, check=False)
        log_file.seek(0)
        log = log_file.read()
    stats = {k: int(v) for k, v in _STAT.findall(log)}
    executions = stats.get("number_of_executed_units") or max((int(n) for n in _PROGRESS.findall(log)), default=0)
    written = [p for p in _ARTIFACT.findall(log) if Path(p).name.split("-", 1)[0] in _CRASH_KINDS]
    return executions, stats.get("peak_rss_mb", 0), log, written


def fuzz(target: str, seconds: int, workdir: Path, timeout: int = TIMEOUT, runs: int = 0) -> Result:
    """Fuzz one target for ``seconds``, or until ``runs`` executions when that comes first (restarting after
    each crash), and sum up the runs."""
    result = Result(target)
    start = time.monotonic()
    seen: set[str] = set()
    artifacts = 0
    while True:
        left = int(seconds - (time.monotonic() - start))
        if left < 1 or artifacts >= MAX_CRASHES or (runs and result.executions >= runs):
            break
        executions, rss, log, written = _fuzz_once(target, left, workdir, timeout, runs and runs - result.executions)
        result.executions += executions
        result.peak_rss_mb = max(result.peak_rss_mb, rss)
        if "Done " in log and not written:
            break  # ran its time without a crash
        if not written:
            result.error = "the fuzzer did not start: " + (log.strip().splitlines() or ["no output"])[-1]
            break
        artifacts += len(written)
        for path in written:
            kind = Path(path).name.split("-", 1)[0]
            reason = _reason(log)
            key = re.sub(r":.*\(", "(", reason)  # one crash per exception type and place, whatever its message
            if key not in seen:
                seen.add(key)
                result.crashes.append(Crash(kind, path, reason))
    result.seconds = round(time.monotonic() - start, 1)
    result.exec_per_second = round(result.executions / result.seconds, 1) if result.seconds else 0.0
    result.corpus = sum(1 for _ in (workdir / "corpus" / target).iterdir())
    return result


def _record_captures(outdir: Path) -> Path | None:
    """The golden-capture scenarios recorded on loopback, or None (with the reason on stderr)."""
    if any(outdir.glob("*.pcap")):
        return outdir
    try:
        from tests.captures.make_captures import generate

        generate(outdir)
    except Exception as exc:  # no root, tcpdump or DCMTK: fuzz from the synthesized captures only
        print(f"fuzz: golden captures not recorded ({type(exc).__name__}: {exc}); pcap seeds are synthesized only",
              file=sys.stderr)
        return None
    return outdir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")),
                        help="fuzzing time per target (default: $FUZZ_SECONDS or 60)")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("FUZZ_RUNS", "0")),
                        help="stop a target after this many executions (default: $FUZZ_RUNS or 0, no limit)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("FUZZ_JOBS", "1")),
                        help="targets fuzzed at once (default: $FUZZ_JOBS or 1)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".fuzz", help="seeds, corpus and artifacts")
    parser.add_argument("--timeout", type=int, default=TIMEOUT, help="one input longer than this is a hang (s)")
    parser.add_argument("--captures", type=Path, help="also seed the pcap target with the *.pcap files here")
    parser.add_argument("--record-captures", action="store_true",
                        help="record the golden-capture scenarios first (tests/captures/make_captures.py: root, "
                             "tcpdump and DCMTK) and seed the pcap target with them")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)
    targets = list(args.targets) or list(TARGETS)
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        print(f"fuzz: unknown target(s) {', '.join(unknown)} (use {', '.join(TARGETS)})", file=sys.stderr)
        return 2
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("fuzz: atheris is not installed (pip install -e '.[dev]')", file=sys.stderr)
        return 2
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    from fuzz import seeds

    workdir = args.workdir.resolve()
    captures = args.captures
    if args.record_captures and captures is None and "pcap" in targets:
        captures = _record_captures(workdir / "captures")
    for target in targets:
        seeds.write(target, workdir / "seeds" / target, captures=captures)
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda t: fuzz(t, args.seconds, workdir, args.timeout, args.runs), targets))
    crashed = any(r.crashes for r in results)
    if args.json:
        print(json.dumps({"workdir": str(workdir), "targets": [asdict(r) for r in results],
                          "crashes": sum(len(r.crashes) for r in results)}))
    else:
        print(f"{'target':<9} {'executions':>11} {'seconds':>8} {'exec/s':>8} {'corpus':>7} {'crashes':>8}")
        for r in results:
            print(f"{r.target:<9} {r.executions:>11,} {r.seconds:>8.0f} {r.exec_per_second:>8.0f} {r.corpus:>7} "
                  f"{len(r.crashes):>8}")
            for c in r.crashes:
                print(f"  {c.kind}: {c.reason}\n    {c.artifact}")
            if r.error:
                print(f"  error: {r.error}")
    if any(r.error for r in results):
        return 2
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
