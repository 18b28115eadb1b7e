"""``ae-brute-force``: many rejected associations from one source (AE title guessing).

PS3.8 §9.3.4 rejections with reason "calling/called AE not recognized" are what a peer that
guesses AE titles collects; a burst from one address is the signature. 45 CFR 164.308(a)(5)(ii)(C).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind, endpoint, epoch, windows

RULE = rulebook.rule("ae-brute-force")


@dataclass(frozen=True)
class Thresholds:
    """``min_rejections`` rejected associations from one source to one server within ``window_seconds``,
    using at least ``min_distinct_titles`` distinct (calling, called) AE title pairs."""

    min_rejections: int = RULE.thresholds["min_rejections"]
    window_seconds: float = RULE.thresholds["window_seconds"]
    min_distinct_titles: int = RULE.thresholds["min_distinct_titles"]


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in by_kind(records, "association"):
        if r.get("result") == "rejected":
            groups[(str(r["client"]), endpoint(r))].append(r)
    for (client, target), rejected in sorted(groups.items()):
        times = sorted(epoch(r["ts"]) for r in rejected)
        burst = windows(times, thresholds.window_seconds)
        pairs = {(r.get("calling_ae"), r.get("called_ae")) for r in rejected}
        if burst >= thresholds.min_rejections and len(pairs) >= thresholds.min_distinct_titles:
            reasons: dict[str, int] = defaultdict(int)
            for r in rejected:
                reasons[(r.get("reject") or {}).get("reason", "unknown")] += 1
            accepted_after = sum(1 for r in by_kind(records, "association")
                                 if r.get("client") == client and endpoint(r) == target
                                 and r.get("result") == "accepted" and epoch(r["ts"]) >= times[0])
            yield RULE.finding(target, {
                "source": client, "rejected": len(rejected), "max_in_window": burst,
                "window_seconds": thresholds.window_seconds,
                "calling_ae_titles": sorted({str(p[0]) for p in pairs})[:20],
                "called_ae_titles": sorted({str(p[1]) for p in pairs})[:20],
                "reasons": dict(sorted(reasons.items())), "accepted_afterwards": accepted_after})
