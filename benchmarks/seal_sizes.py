"""Benchmark: ``radguard seal`` at three archive sizes, and the re-seal of an unchanged archive (issue 15).

Claims, each a ratio measured side by side in one run (A B A B ..., medians):
- seal throughput / ``find | xargs -0 -P 2 -n 256 sha256sum`` >= 0.5x at 2k, 10k and 40k files, 0.8x at 40k
  (a fresh store each time: start-up and store creation included);
- re-seal with nothing changed (40k) <= 3x the time of stat-ing the tree (``find -type f -printf '%s %T@'``),
  and its cost beyond start-up independent of the archive's size: the re-seal at each size is printed with
  the cost per file beyond the 2k re-seal.
Corpus: copies of pydicom's bundled DICOM files (as benchmarks/audit_vs_sha256sum.py), 100 per folder; the
smaller sizes are hard links to the first files of the largest. ``--corpus DIR`` keeps and reuses it.
``--before PATH`` also runs seal and re-seal from another checkout's ``src`` (PYTHONPATH), interleaved, for
before/after ratios in the same run. CPU time (user+sys of the process tree) is printed beside wall time.

``--changed 0,1,10,100``: instead, the re-seal after K files changed (a quarter each touched, given another
content, added and deleted, spread over the tree), K = 0 the unchanged re-seal, vs stat-ing the tree. Each
size is a hard-linked copy of the corpus (a changed file is replaced, never written in place) sealed once;
each re-seal starts from a copy of that ledger, the change applied before and undone after it.

Usage: python benchmarks/seal_sizes.py [--sizes 2000,10000,40000] [--repeat 3] [--corpus DIR] [--before SRC]
       [--changed 0,1,10,100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from audit_vs_sha256sum import build_corpus, timed


def corpus(base: Path, sizes: list[int]) -> dict[int, Path]:
    """``base/a<N>`` for each size: the largest copied once, the others hard links to its first files."""
    big = max(sizes)
    top = base / f"a{big}"
    if not top.exists():
        build_corpus(top, big, 0)
    out = {big: top}
    for n in sizes:
        d = base / f"a{n}"
        out[n] = d
        if d.exists():
            continue
        for i in range(n):
            src = top / f"study{i // 100:04d}" / f"im{i:06d}.dcm"
            dst = d / f"study{i // 100:04d}" / f"im{i:06d}.dcm"
            if i % 100 == 0:
                dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, dst)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,10000,40000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="sha256sum processes (radguard: its default)")
    ap.add_argument("--corpus", default="", help="directory to build the corpus in and reuse (default: a temp dir)")
    ap.add_argument("--before", default="", help="a checkout's src directory to compare with (PYTHONPATH)")
    ap.add_argument("--no-seal", action="store_true", help="only the re-seals (and their baselines)")
    ap.add_argument("--changed", default="", help="re-seals after K changed files, e.g. 0,1,10,100 (see above)")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="radguard-seal-") as tmp:
        trees = corpus(Path(args.corpus or tmp), sizes)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(RADGUARD_KEY=str(Path(tmp) / "k.pem"), TCP_NODELAY="1")
        rg = [sys.executable, "-m", "radguard.cli.main"]
        subprocess.run([*rg, "keygen"], env=env, check=True, stdout=subprocess.DEVNULL)
        versions = {"": env} | ({" (before)": dict(env, PYTHONPATH=args.before)} if args.before else {})
        if args.changed:
            return changed(args, trees, Path(tmp), rg, versions)
        print(f"sizes {sizes}, repetitions {args.repeat}, load average {os.getloadavg()[0]:.2f} "
              f"{os.getloadavg()[1]:.2f}{', before: ' + args.before if args.before else ''}")
        wall: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}

        def run(name: str, cmd: list[str] | str, cmd_env: dict[str, str]) -> None:
            t, _peak, _rc, c = timed(cmd, cmd_env, shell=isinstance(cmd, str))
            wall.setdefault(name, []).append(t)
            cpu.setdefault(name, []).append(c)

        for n, root in trees.items():  # warm the page cache; the stores the re-seals start from
            timed(f"find {root} -type f -print0 | xargs -0 -P {args.workers} -n 256 sha256sum", env, shell=True)
            for tag, venv in versions.items():
                db = dict(venv, RADGUARD_DB=f"sqlite:///{tmp}/reseal-{n}{tag.strip(' ()')}.db")
                subprocess.run([*rg, "seal", str(root), "--json"], env=db, check=True, stdout=subprocess.DEVNULL)
        for i in range(args.repeat):
            for n, root in trees.items():
                if not args.no_seal:
                    run(f"sha256sum {n}", f"find {root} -type f -print0 | xargs -0 -P {args.workers} -n 256 sha256sum",
                        env)
                    for tag, venv in versions.items():
                        run(f"seal {n}{tag}", [*rg, "seal", str(root), "--json"],
                            dict(venv, RADGUARD_DB=f"sqlite:///{tmp}/seal-{n}-{i}{tag.strip(' ()')}.db"))
                run(f"stat {n}", f"find {root} -type f -printf '%s %T@\\n' >/dev/null", env)
                for tag, venv in versions.items():
                    run(f"re-seal {n}{tag}", [*rg, "seal", str(root), "--json"],
                        dict(venv, RADGUARD_DB=f"sqlite:///{tmp}/reseal-{n}{tag.strip(' ()')}.db"))
        med = {k: statistics.median(v) for k, v in wall.items()}
        mcpu = {k: statistics.median(v) for k, v in cpu.items()}
        for name in wall:
            print(f"{name:24} wall {med[name]:7.3f} s   cpu {mcpu[name]:7.3f} s")
        small = sizes[0]
        for n in sizes:
            for tag in versions:
                if not args.no_seal:
                    print(f"seal {n}{tag}: throughput / sha256sum {med[f'sha256sum {n}'] / med[f'seal {n}{tag}']:.2f}x "
                          f"(cpu {mcpu[f'sha256sum {n}'] / mcpu[f'seal {n}{tag}']:.2f}x; goal >= 0.5x"
                          f"{', 0.8x' if n == sizes[-1] else ''})")
                line = (f"re-seal {n}{tag}: {med[f're-seal {n}{tag}'] / med[f'stat {n}']:.1f}x stat "
                        f"(cpu {mcpu[f're-seal {n}{tag}'] / mcpu[f'stat {n}']:.1f}x; goal <= 3x)")
                if n != small:
                    extra = (med[f"re-seal {n}{tag}"] - med[f"re-seal {small}{tag}"]) / (n - small) * 1e6
                    stat = (med[f"stat {n}"] - med[f"stat {small}"]) / (n - small) * 1e6
                    line += f"; beyond {small} files: {extra:.1f} us/file vs stat {stat:.1f} us/file"
                print(line)
            if args.before:
                for what in ("seal", "re-seal") if not args.no_seal else ("re-seal",):
                    print(f"{what} {n} after / before: wall {med[f'{what} {n}'] / med[f'{what} {n} (before)']:.2f}x, "
                          f"cpu {mcpu[f'{what} {n}'] / mcpu[f'{what} {n} (before)']:.2f}x")
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


class Change:
    """K changes to a tree: applied, then undone (originals moved aside and back: inodes, hence the shared
    corpus files and their modification times, untouched)."""

    def __init__(self, tree: Path, n: int, k: int, aside: Path) -> None:
        self.tree, self.aside = tree, aside
        files = [tree / f"study{i // 100:04d}" / f"im{i:06d}.dcm" for i in range(n)]
        self.plan = [("touch", "content", "add", "delete")[j % 4] for j in range(k)]
        self.files = [files[(j * n // max(k, 1) + 37) % n] for j in range(k)]
        self.donor = files[0].read_bytes() if k else b""

    def apply(self) -> None:
        self.aside.mkdir(parents=True, exist_ok=True)
        for j, (what, f) in enumerate(zip(self.plan, self.files, strict=True)):
            if what == "add":
                (f.parent / f"new{j:04d}.dcm").write_bytes(self.donor)
                continue
            os.rename(f, self.aside / str(j))
            if what == "touch":  # the same bytes, a new modification time
                shutil.copyfile(self.aside / str(j), f)
            elif what == "content":
                f.write_bytes(self.donor)

    def undo(self) -> None:
        for j, (what, f) in enumerate(zip(self.plan, self.files, strict=True)):
            if what == "add":
                (f.parent / f"new{j:04d}.dcm").unlink()
                continue
            os.replace(self.aside / str(j), f)


def changed(args: argparse.Namespace, trees: dict[int, Path], tmp: Path, rg: list[str],
            versions: dict[str, dict[str, str]]) -> int:
    ks = [int(k) for k in args.changed.split(",")]
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    copies: dict[int, Path] = {}
    for n, root in trees.items():  # own hard-linked copies (paths of their own), sealed once
        copies[n] = tmp / f"c{n}"
        subprocess.run(["cp", "-al", str(root), str(copies[n])], check=True)
        for tag, venv in versions.items():  # (each version's schema)
            subprocess.run([*rg, "seal", str(copies[n]), "--json"], env=dict(venv, RADGUARD_DB=f"sqlite:///{tmp}/base{n}"
                           f"{tag.strip(' ()')}.db"), check=True, stdout=subprocess.DEVNULL)
    print(f"sizes {sorted(trees)}, changed {ks}, repetitions {args.repeat}, load average "
          f"{os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}{', before: ' + args.before if args.before else ''}")

    def run(name: str, cmd: list[str] | str, cmd_env: dict[str, str]) -> None:
        t, _peak, _rc, c = timed(cmd, cmd_env, shell=isinstance(cmd, str))
        wall.setdefault(name, []).append(t)
        cpu.setdefault(name, []).append(c)

    for _i in range(args.repeat):
        for n, tree in copies.items():
            run(f"stat {n}", f"find {tree} -type f -printf '%s %T@\\n' >/dev/null", versions[""])
            for k in ks:
                change = Change(tree, n, k, tmp / "aside")
                change.apply()
                try:
                    for tag, venv in versions.items():
                        shutil.copyfile(tmp / f"base{n}{tag.strip(' ()')}.db", tmp / "run.db")
                        os.sync()  # the copy's write-back not in the timed re-seal
                        run(f"re-seal {n} k={k}{tag}", [*rg, "seal", str(tree), "--json"],
                            dict(venv, RADGUARD_DB=f"sqlite:///{tmp}/run.db"))
                finally:
                    change.undo()
    med = {k: statistics.median(v) for k, v in wall.items()}
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    for name in wall:
        print(f"{name:30} wall {med[name]:7.3f} s   cpu {mcpu[name]:7.3f} s")
    for n in copies:
        for k in ks:
            for tag in versions:
                name = f"re-seal {n} k={k}{tag}"
                base = f"re-seal {n} k=0{tag}"
                more = f", {med[name] - med[base]:+.3f} s wall vs k=0" if base in med else ""
                print(f"{name:30} {med[name] / med[f'stat {n}']:5.1f}x stat "
                      f"(cpu {mcpu[name] / mcpu[f'stat {n}']:5.1f}x){more}")
            if args.before:
                name = f"re-seal {n} k={k}"
                print(f"{name:30} after / before: wall {med[name] / med[name + ' (before)']:.2f}x, "
                      f"cpu {mcpu[name] / mcpu[name + ' (before)']:.2f}x")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
