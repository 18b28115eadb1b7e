"""``unknown-peer`` (baseline): an accepted association whose calling AE title is not in the baseline,
or comes from an address the baseline never saw it use (a spoofed or stolen AE title).
45 CFR 164.312(d), 164.312(b).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from radguard.models import Finding, Severity
from radguard.monitor.detections import Record, Rule, by_kind, endpoint

RULE = Rule(
    id="unknown-peer",
    severity=Severity.MEDIUM,
    title="Unknown DICOM peer: AE title or address outside the baseline",
    remediation="Verify the peer; if legitimate add it to the baseline and the PACS peer list, otherwise block it "
                "and make the PACS bind each AE title to its address.",
    controls=("hipaa:164.312(d)", "hipaa:164.312(b)", "csf:PR.AA-03", "csf:DE.CM-01"),
    mitre=("T1078", "T0848"),
)


@dataclass(frozen=True)
class Thresholds:
    """``min_associations`` accepted associations by the unknown (AE, address) pair."""

    min_associations: int = 1


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
