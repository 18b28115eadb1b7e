"""Run the CLI as a user does (a separate process) and check the README's CLI contract."""

from __future__ import annotations

import functools
import json
import os
import resource
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from radguard.catalog import is_known

SEVERITIES = ("critical", "high", "medium", "low", "info")
FINDING_KEYS = {"rule", "severity", "title", "target", "evidence", "remediation", "controls"}
SARIF_LEVELS = {"none", "note", "warning", "error"}


def radguard(args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
             timeout: float = 120, stdin: str | None = None,
             memory_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """``radguard ARGS`` in a new interpreter (``python -m radguard.cli.main``), environment inherited.

    ``memory_limit`` (bytes) caps the address space of the process and its workers (RLIMIT_AS), so a
    defect that reads without bound fails fast instead of exhausting the shared machine.
    """
    full = dict(os.environ)
    full.update(env or {})

    def _limit() -> None:
        if memory_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    return subprocess.run([sys.executable, "-m", "radguard.cli.main", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, input=stdin, preexec_fn=_limit)


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-2000:]


def usage_error(proc: subprocess.CompletedProcess[str]) -> str:
    """Exit 2, nothing on stdout, one clear line on stderr, no traceback; return that line."""
    no_traceback(proc)
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-500:])
    assert proc.stdout == "", proc.stdout[-500:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@functools.cache
def catalogued_rules() -> frozenset[str]:
    """Every rule id ``radguard rules --json`` documents (docs/rules.md is generated from it)."""
    proc = radguard(["rules", "--json"])
    assert proc.returncode == 0, proc.stderr
    return frozenset(r["id"] for r in json.loads(proc.stdout)["rules"])


def check_finding(f: Mapping[str, Any]) -> None:
    assert set(f) == FINDING_KEYS, sorted(f)
    assert isinstance(f["rule"], str) and f["rule"] == f["rule"].strip() and f["rule"]
    assert f["severity"] in SEVERITIES
    assert isinstance(f["title"], str) and f["title"]
    assert isinstance(f["target"], str) and f["target"]
    assert isinstance(f["evidence"], dict)
    assert isinstance(f["remediation"], str) and f["remediation"]
    assert isinstance(f["controls"], list) and f["controls"], f["rule"]
    unknown = [c for c in f["controls"] if not is_known(c)]
    assert not unknown, (f["rule"], unknown)
    assert f["rule"] in catalogued_rules(), f"rule {f['rule']!r} is not in `radguard rules`"


def _strict(constant: str) -> Any:
    raise AssertionError(f"not RFC 8259 JSON: {constant}")


def json_doc(proc: subprocess.CompletedProcess[str], kind: str, *, rc: int | tuple[int, ...] = 0) -> dict[str, Any]:
    """Exactly one JSON object on stdout with the right schema; findings (if any) well formed."""
    no_traceback(proc)
    codes = (rc,) if isinstance(rc, int) else rc
    assert proc.returncode in codes, (proc.returncode, proc.stderr[-1500:])
    text = proc.stdout.strip()
    assert text.startswith("{") and text.count("\n") == 0, text[:500]
    doc: dict[str, Any] = json.loads(text, parse_constant=_strict)
    assert isinstance(doc, dict) and doc["schema"] == f"radguard.{kind}/1", doc.get("schema")
    for f in doc.get("findings", []):
        check_finding(f)
    return doc


def check_sarif(path: Path, findings: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """SARIF 2.1.0 shape: version, schema, one run with a driver, results naming declared rules."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert doc["version"] == "2.1.0" and "sarif" in doc["$schema"]
    assert isinstance(doc["runs"], list) and len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "radguard" and isinstance(driver["rules"], list)
    declared = {r["id"] for r in driver["rules"]}
    for r in run["results"]:
        assert r["ruleId"] in declared and r["level"] in SARIF_LEVELS and r["message"]["text"]
        assert isinstance(r["locations"], list)
    if findings is not None:
        assert sorted(r["ruleId"] for r in run["results"]) == sorted(f["rule"] for f in findings)
    return doc
