"""SARIF 2.1.0 output (OASIS Static Analysis Results Interchange Format)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from radguard import __version__
from radguard.models import Finding, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SCORE = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _location(target: str) -> dict[str, Any]:
    if "/" in target or target.startswith("."):
        return {"physicalLocation": {"artifactLocation": {"uri": target}}}
    return {
        "logicalLocations": [{"name": target, "kind": "resource", "fullyQualifiedName": target}],
    }


def to_sarif(findings: Sequence[Finding], tool: str = "radguard") -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run; one rule per distinct rule id."""
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in findings:
        if f.rule not in rules:
            rules[f.rule] = {
                "id": f.rule,
                "shortDescription": {"text": f.title},
                "help": {"text": f.remediation or f.title},
                "properties": {"tags": list(f.controls), "security-severity": _SCORE[f.severity]},
            }
        results.append(
            {
                "ruleId": f.rule,
                "level": _LEVEL[f.severity],
                "message": {"text": f"{f.title} ({f.target})"},
                "locations": [_location(f.target)],
                "properties": {
                    "severity": f.severity.value,
                    "evidence": dict(f.evidence),
                    "controls": list(f.controls),
                    "remediation": f.remediation,
                },
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": tool,
                        "version": __version__,
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }
