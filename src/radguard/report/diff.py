"""Comparing the findings of two runs: what is new, fixed, unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from radguard.models import Finding


@dataclass(frozen=True, kw_only=True, slots=True)
class FindingsDiff:
    new: list[Finding]
    fixed: list[Finding]
    unchanged: list[Finding]
    changed_severity: list[tuple[Finding, Finding]]


def diff_findings(before: Sequence[Finding], after: Sequence[Finding]) -> FindingsDiff:
    """Match findings by (rule, target); report new, fixed, unchanged and re-rated ones."""
    a = {f.key: f for f in before}
    b = {f.key: f for f in after}
    new = [f for k, f in b.items() if k not in a]
    fixed = [f for k, f in a.items() if k not in b]
    unchanged = [f for k, f in b.items() if k in a and a[k].severity == f.severity]
    changed = [(a[k], f) for k, f in b.items() if k in a and a[k].severity != f.severity]
    return FindingsDiff(new=new, fixed=fixed, unchanged=unchanged, changed_severity=changed)
