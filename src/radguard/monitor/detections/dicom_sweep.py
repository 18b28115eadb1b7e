"""``dicom-sweep``: one source probing many DICOM endpoints (hosts or ports).

Counts the distinct server endpoints one source attempted (an A-ASSOCIATE-RQ, or a TCP
connection that was refused or never answered) in a time window. 45 CFR 164.308(a)(1)(ii)(D).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, endpoint, epoch, windows

RULE = rulebook.rule("dicom-sweep")


@dataclass(frozen=True)
class Thresholds:
    """``min_endpoints`` distinct host:port targets from one source within ``window_seconds``."""

    min_endpoints: int = RULE.thresholds["min_endpoints"]
    window_seconds: float = RULE.thresholds["window_seconds"]


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    first_seen: dict[str, dict[str, float]] = defaultdict(dict)
    refused: dict[str, set[str]] = defaultdict(set)
    for r in records:
        kind = r.get("kind")
        if kind == "association" or (kind == "connection" and r.get("state") in ("refused", "syn-sent")):
            target = endpoint(r)
            t = epoch(r["ts"])
            seen = first_seen[str(r["client"])]
            seen[target] = min(t, seen.get(target, t))
            if kind == "connection":
                refused[str(r["client"])].add(target)
    for client, targets in sorted(first_seen.items()):
        times = sorted(targets.values())
        burst = windows(times, thresholds.window_seconds)
        if burst >= thresholds.min_endpoints:
            hosts = {t.rsplit(":", 1)[0] for t in targets}
            yield RULE.finding(client, {
                "endpoints": len(targets), "hosts": len(hosts), "max_in_window": burst,
                "window_seconds": thresholds.window_seconds, "refused_or_unanswered": len(refused[client]),
                "dicom_answered": len(targets) - len(refused[client])})
