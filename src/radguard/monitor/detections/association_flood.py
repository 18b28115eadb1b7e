"""``association-flood``: a burst of associations from one source to one server (resource
exhaustion of the PACS, or a runaway client). 45 CFR 164.308(a)(7)(ii)(B) (availability).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind, endpoint, epoch, windows

RULE = rulebook.rule("association-flood")


@dataclass(frozen=True)
class Thresholds:
    """``min_associations`` from one source to one server within ``window_seconds``."""

    min_associations: int = RULE.thresholds["min_associations"]
    window_seconds: float = RULE.thresholds["window_seconds"]


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in by_kind(records, "association"):
        groups[(str(r["client"]), endpoint(r))].append(epoch(r["ts"]))
    for (client, target), times in sorted(groups.items()):
        times.sort()
        burst = windows(times, thresholds.window_seconds)
        if burst >= thresholds.min_associations:
            yield RULE.finding(target, {"source": client, "associations": len(times), "max_in_window": burst,
                                        "window_seconds": thresholds.window_seconds})
