"""``cleartext-phi``: patient-identifying attributes crossed the network unencrypted.

Counts, per DICOM server, the data sets (C-STORE objects, query identifiers and responses)
that carried PHI attributes (:data:`radguard.phi.PHI_KEYWORDS`) in cleartext; the finding
names the attributes and counts, never their values. 45 CFR 164.312(e)(1), (e)(2)(ii).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind, endpoint

RULE = rulebook.rule("cleartext-phi")


@dataclass(frozen=True)
class Thresholds:
    """``min_datasets``: data sets with PHI to one server before a finding is raised."""

    min_datasets: int = RULE.thresholds["min_datasets"]


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    per_target: dict[str, Counter[str]] = defaultdict(Counter)
    datasets: Counter[str] = Counter()
    clients: dict[str, set[str]] = defaultdict(set)
    for r in by_kind(records, "dimse"):
        phi: dict[str, Any] = r.get("phi_attributes") or {}
        if not phi:
            continue
        target = endpoint(r)
        per_target[target].update(phi)
        datasets[target] += max(phi.values())
        clients[target].add(str(r.get("client")))
    for target, attrs in sorted(per_target.items()):
        if datasets[target] >= thresholds.min_datasets:
            yield RULE.finding(target, {"datasets_with_phi": datasets[target],
                                        "attributes": dict(sorted(attrs.items())), "clients": len(clients[target])})
