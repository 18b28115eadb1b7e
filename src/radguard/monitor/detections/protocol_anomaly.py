"""``protocol-anomaly``: malformed or out-of-state PDUs (PS3.8 §9.2 state table violations,
malformed PDUs, data sets that do not parse): fuzzing, exploitation attempts, broken peers.
45 CFR 164.308(a)(6)(ii), 164.312(b).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind, endpoint

RULE = rulebook.rule("protocol-anomaly")


@dataclass(frozen=True)
class Thresholds:
    """``min_anomalies`` violations (and malformed data sets, if ``count_malformed_datasets``) per server."""

    min_anomalies: int = RULE.thresholds["min_anomalies"]
    count_malformed_datasets: bool = RULE.thresholds["count_malformed_datasets"]


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    per_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
    sources: dict[str, set[str]] = defaultdict(set)
    for r in records:
        if r.get("kind") == "association":
            for v in r.get("violations") or []:
                per_target[endpoint(r)].append({"uid": r.get("uid"), "by": v["by"], "message": v["message"]})
                sources[endpoint(r)].add(str(r["client"]))
    if thresholds.count_malformed_datasets:
        for r in by_kind(records, "dimse"):
            if r.get("malformed_dataset"):
                per_target[endpoint(r)].append({"uid": r.get("uid"), "by": r.get("issuer"),
                                                "message": f"malformed data set in {r.get('command')}"})
                sources[endpoint(r)].add(str(r["client"]))
    for target, items in sorted(per_target.items()):
        if len(items) >= thresholds.min_anomalies:
            yield RULE.finding(target, {"anomalies": len(items), "sources": sorted(sources[target]),
                                        "examples": items[:10]})
