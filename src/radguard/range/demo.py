"""The demo: a simulated imaging department on loopback, attacked and defended.

Each step runs the real ``radguard`` CLI (as a user would) against real peers:
Orthanc as the PACS, DCMTK storescp as a viewing workstation, DCMTK dcmqrscp as a
hardened archive. Results go to ``demo-out/`` (store, JSON, SARIF) in the current
directory, so they can be inspected afterwards with ``radguard findings list``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from radguard.range.department import Department, StepResult, say, start_department
from radguard.range.drills import step_archive, step_gateway, step_pcap, step_scan

#: the demo's steps, in order; later capabilities add theirs here
STEPS: list[Callable[[Department], StepResult]] = [step_scan, step_gateway, step_archive, step_pcap]


def _print_efficacy(results: list[StepResult]) -> None:
    """Efficacy table: every attack the drills tried, and whether a defense blocked or detected it."""
    rows = [(r.name.split(":")[0], a) for r in results for a in r.data.get("attacks", [])]
    if not rows:
        return
    print("\ndefense efficacy (attack -> outcome)")
    stopped = 0
    for phase, a in rows:
        outcome = "blocked" if a.get("blocked") else "detected" if a.get("detected") else "MISSED"
        stopped += outcome != "MISSED"
        print(f"  {phase:<16} {a['attack']:<62} {outcome}")
    print(f"  {stopped}/{len(rows)} attacks blocked or detected")


def range_phase(out: Path) -> bool:
    """The measuring range: up, the attack library with benign traffic, the ablation, the report, down.

    Leaves ``range.json`` (``radguard.range/1``), ``report.html`` and ``report.pdf`` in ``out``.
    """
    from radguard.range import lab, runner
    from radguard.range.attacks import library
    from radguard.range.report import store_results
    from radguard.range.tables import efficacy_lines, progress_line
    from radguard.report.document import write_posture_report
    from radguard.store import open_store

    def progress(res: dict[str, Any]) -> None:
        say(progress_line(res))

    run_dir = out / "range"
    say("\n• measure: the range (every attack with benign traffic, then each layer switched off)")
    try:
        st = lab.up(run_dir)
    except (RuntimeError, OSError) as exc:
        print(f"radguard demo: error: cannot start the range: {exc}", file=sys.stderr)
        return False
    try:
        # RADGUARD_DEMO_ATTACKS=a,b limits the library (the demo's own test uses it to stay short)
        attacks = library([n for n in os.environ.get("RADGUARD_DEMO_ATTACKS", "").split(",") if n])
        fps = runner.false_positives(st, 6.0)
        results = runner.run_library(st, attacks, progress=progress)
        ablation = runner.ablate(st, attacks, results, progress=progress)
        doc = runner.document(st, results, fps, ablation)
    finally:
        lab.down(run_dir)
    (out / "range.json").write_text(json.dumps({"schema": runner.SCHEMA, **doc}, default=str) + "\n")
    db = f"sqlite:///{out / 'radguard.db'}"
    store_results(doc, url=db)  # the report reads the one store: the drills' findings and this measurement
    store = open_store(db)
    try:
        files = write_posture_report(store, out, site="the demo department")
    finally:
        store.close()
    html, pdf = files.html, files.pdf
    for line in efficacy_lines(doc):
        print(line)
    print(f"report: {html}" + (f" and {pdf}" if pdf else ""))
    return int(doc["totals"]["errors"]) == 0


def main(argv: Sequence[str] | None = None) -> int:
    out = Path("demo-out").resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    results: list[StepResult] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="radguard-demo-") as tmp:
        try:
            dept = start_department(stack, Path(tmp), out)
        except (RuntimeError, OSError) as exc:
            print(f"radguard demo: error: cannot start the simulated department: {exc}", file=sys.stderr)
            return 2
        for step in STEPS:
            say(f"\n• {step.__doc__.splitlines()[0] if step.__doc__ else step.__name__}")
            t0 = time.monotonic()
            try:
                res = step(dept)
            except Exception as exc:  # a failing step is reported, the demo goes on
                res = StepResult(name=step.__name__, ok=False, summary=f"error: {exc}")
            res.seconds = time.monotonic() - t0
            results.append(res)
            say(f"  {'OK ' if res.ok else 'FAIL'} {res.name}: {res.summary} ({res.seconds:.1f}s)")
    summary = {"steps": [r.__dict__ for r in results], "out": str(out)}
    (out / "demo.json").write_text(json.dumps(summary, indent=1, default=str))
    print("\nradguard demo summary")
    for r in results:
        print(f"  [{'ok' if r.ok else 'FAILED'}] {r.name}: {r.summary}")
    _print_efficacy(results)
    measured = range_phase(out)
    exe = Path(sys.executable).with_name("radguard")  # the hint must work as printed (.venv/bin/radguard ...)
    rel = os.path.relpath(exe)
    cmd = (shlex.quote(str(exe) if rel.startswith("..") else rel) if exe.is_file()
           else f"{shlex.quote(sys.executable)} -m radguard.cli.main")
    db = shlex.quote(f"sqlite:///{out / 'radguard.db'}")
    print(f"results: {out} (see them: RADGUARD_DB={db} {cmd} findings list)")
    return 0 if all(r.ok for r in results) and measured else 1
