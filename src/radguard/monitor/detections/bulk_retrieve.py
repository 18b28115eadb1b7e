"""``bulk-retrieve`` (baseline): C-MOVE/C-GET volume far above a peer's baseline, or a C-MOVE to a
destination the baseline never saw (exfiltration through the PACS). 45 CFR 164.312(b), (a)(1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind, endpoint

RULE = rulebook.rule("bulk-retrieve")


@dataclass(frozen=True)
class Thresholds:
    """Flag when a peer retrieves more than ``factor`` x its baseline objects (and at least ``min_objects``),
    or moves to a destination absent from the baseline (``new_destination``)."""

    factor: float = RULE.thresholds["factor"]
    min_objects: int = RULE.thresholds["min_objects"]
    new_destination: bool = RULE.thresholds["new_destination"]


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
