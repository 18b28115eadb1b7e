"""``unknown-peer`` (baseline): an accepted association whose calling AE title is not in the baseline,
or comes from an address the baseline never saw it use (a spoofed or stolen AE title).
45 CFR 164.312(d), 164.312(b).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind, endpoint

RULE = rulebook.rule("unknown-peer")


@dataclass(frozen=True)
class Thresholds:
    """``min_associations`` accepted associations by the unknown (AE, address) pair."""

    min_associations: int = RULE.thresholds["min_associations"]


def detect(records: Sequence[Record], thresholds: Thresholds,
           context: Mapping[str, Any] | None = None) -> Iterator[Finding]:
    baseline = (context or {}).get("baseline")
    if not baseline:
        return
    peers: Mapping[str, list[str]] = baseline.get("peers") or {}
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in by_kind(records, "association"):
        calling = r.get("calling_ae")
        if r.get("result") != "accepted" or not calling:
            continue
        if calling not in peers or str(r["client"]) not in peers[calling]:
            seen[(endpoint(r), str(calling), str(r["client"]))] += 1
    for (target, calling, client), count in sorted(seen.items()):
        if count >= thresholds.min_associations:
            yield RULE.finding(target, {"calling_ae": calling, "source": client, "associations": count,
                                        "known_ae": calling in peers,
                                        "known_addresses": list(peers.get(calling, []))[:10]})
