"""The short fuzzing run of ``make test``: every coverage-guided target of fuzz/ (atheris + libFuzzer) runs a
few seconds from its generated seeds through the common runner (fuzz/run.py), with its hang and memory
limits, and must end with no crash after a real number of executions. The long run is ``make fuzz``
(docs/fuzzing.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fuzz.run import TARGETS

ROOT = Path(__file__).resolve().parents[2]
#: fuzzing time per target: with start-up and seeding, each target stays within 10 s (90 s for all)
SECONDS = 5
#: far below what a target does in SECONDS on a loaded 2-core machine (hundreds to thousands a second)
MIN_EXECUTIONS = 500


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("target", TARGETS)
def test_target_runs_without_crash(target: str, workdir: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "fuzz" / "run.py"), target, "--seconds", str(SECONDS),
                           "--timeout", "5", "--workdir", str(workdir), "--json"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    report: dict[str, Any] = json.loads(proc.stdout)
    [result] = report["targets"]
    assert result["target"] == target
    assert result["error"] is None
    assert result["crashes"] == [], [c["reason"] for c in result["crashes"]]
    assert result["executions"] >= MIN_EXECUTIONS, result
    assert proc.returncode == 0
