"""``bulk-retrieve`` (baseline): C-MOVE/C-GET volume far above a peer's baseline, or a C-MOVE to a
destination the baseline never saw (exfiltration through the PACS). 45 CFR 164.312(b), (a)(1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from radguard.models import Finding, Severity
from radguard.monitor.detections import Record, Rule, by_kind, endpoint

RULE = Rule(
    id="bulk-retrieve",
    severity=Severity.HIGH,
    title="Bulk retrieve: retrieve volume or destination outside the baseline",
    remediation="Confirm with the peer's owner that the retrieve was intended; restrict C-MOVE destinations and "
                "per-peer retrieve volume at the PACS or DICOM gateway.",
    controls=("hipaa:164.312(b)", "hipaa:164.312(a)(1)", "csf:DE.AE-02", "csf:DE.CM-09"),
    mitre=("T1213", "T1030"),
)


@dataclass(frozen=True)
class Thresholds:
    """Flag when a peer retrieves more than ``factor`` x its baseline objects (and at least ``min_objects``),
    or moves to a destination absent from the baseline (``new_destination``)."""

    factor: float = 3.0
    min_objects: int = 100
    new_destination: bool = True


def detect(records: Sequence[Record], thresholds: Thresholds,
           context: Mapping[str, Any] | None = None) -> Iterator[Finding]:
    baseline = (context or {}).get("baseline")
    if not baseline:
        return
    known_dest = set(baseline.get("move_destinations") or [])
    usual: Mapping[str, int] = baseline.get("retrieve_objects") or {}
    volume: dict[tuple[str, str], int] = defaultdict(int)
    new_dest: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in by_kind(records, "dimse"):
        if r.get("command") not in ("C-MOVE", "C-GET"):
            continue
        key = (endpoint(r), str(r.get("calling_ae")))
        volume[key] += int((r.get("sub_operations") or {}).get("completed") or 0)
        dest = r.get("move_destination")
        if thresholds.new_destination and dest and dest not in known_dest:
            new_dest[key].add(str(dest))
    for key in sorted(set(volume) | set(new_dest)):
        target, calling = key
        limit = max(thresholds.min_objects, thresholds.factor * int(usual.get(calling, 0)))
        if volume[key] > limit or new_dest[key]:
            yield RULE.finding(target, {"calling_ae": calling, "objects_retrieved": volume[key],
                                        "baseline_objects": int(usual.get(calling, 0)),
                                        "new_destinations": sorted(new_dest[key])})
