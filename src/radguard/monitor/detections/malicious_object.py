"""``malicious-object``: a C-STORE carried active content, an executable or a malformed data set.

Every C-STORE data set seen whole is handed to the archive checks
(:func:`radguard.inspect.api.inspect_dataset`: executable preamble, active content,
malformed, trailing data), the same checks the archive audit and the gateway run; this
detection turns their verdicts into network findings. 45 CFR 164.308(a)(5)(ii)(B).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from radguard import rulebook
from radguard.models import Finding, Rule, Severity
from radguard.monitor.detections import Record, by_kind, endpoint

RULE = rulebook.rule("malicious-object")


@dataclass(frozen=True)
class Thresholds:
    """Archive-check verdicts at or above ``min_severity`` count; ``min_objects`` per target raise a finding."""

    min_severity: str = RULE.thresholds["min_severity"]
    min_objects: int = RULE.thresholds["min_objects"]


def verdicts(found: Sequence[Finding]) -> list[dict[str, Any]]:
    """Archive-check findings as the ``inspection`` entries of a record (rule, severity, title)."""
    return [{"rule": f.rule, "severity": f.severity.value, "title": f.title} for f in found]


def inspector(data: bytes, transfer_syntax: str | None) -> list[dict[str, Any]]:
    """Run the archive's stateless checks on one C-STORE data set (the conversation's Inspector)."""
    from radguard.dicom.uids import TransferSyntax
    from radguard.inspect.api import inspect_dataset

    return verdicts(inspect_dataset(data, transfer_syntax or TransferSyntax.IMPLICIT_LE, "c-store"))


def verdict_findings(rule: Rule, records: Iterable[Record], thresholds: Any,
                     evidence: Callable[[list[Record]], dict[str, Any]]) -> Iterator[Finding]:
    """Findings of ``rule`` per (target, source) whose records carry verdicts at or above
    ``thresholds.min_severity`` in at least ``thresholds.min_objects`` records (shared with web-upload-malicious)."""
    floor = Severity.parse(thresholds.min_severity)
    hits: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        bad = [i for i in r.get("inspection") or [] if Severity.parse(i["severity"]) >= floor]
        if bad:
            hits[(endpoint(r), str(r["client"]))].append({**r, "inspection": bad})
    for (target, client), objects in sorted(hits.items()):
        if len(objects) < thresholds.min_objects:
            continue
        checks = Counter(i["rule"] for o in objects for i in o["inspection"])
        worst = max((Severity.parse(i["severity"]) for o in objects for i in o["inspection"]), key=lambda s: s.rank)
        yield rule.finding(target, {"source": client, **evidence(objects), "objects": len(objects),
                                    "checks": dict(sorted(checks.items()))},
                           severity=max(worst, rule.severity if worst >= Severity.HIGH else worst,
                                        key=lambda s: s.rank))


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    return verdict_findings(RULE, by_kind(records, "dimse"), thresholds, lambda objects: {
        "calling_ae": objects[0].get("calling_ae"), "sop_instances": [o.get("sop_instance") for o in objects][:20]})
