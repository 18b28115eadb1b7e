"""``query-harvesting``: broad C-FIND queries (wildcard or universal matching at patient/study
level) or queries returning very many matches: bulk collection of patient demographics
(PS3.4 §C.2.2.2 matching). 45 CFR 164.312(a)(1), 164.308(a)(1)(ii)(D).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from radguard.models import Finding, Severity
from radguard.monitor.detections import Record, Rule, by_kind, endpoint

RULE = Rule(
    id="query-harvesting",
    severity=Severity.HIGH,
    title="Query harvesting: broad or very large C-FIND queries",
    remediation="Confirm the querying AE is authorised for bulk queries; limit C-FIND to known peers and require "
                "restrictive keys (or a match cap) at the PACS or DICOM gateway.",
    controls=("hipaa:164.312(a)(1)", "hipaa:164.308(a)(1)(ii)(D)", "csf:PR.AA-05", "csf:DE.CM-09"),
    mitre=("T1213", "T1119"),
)


@dataclass(frozen=True)
class Thresholds:
    """A query is flagged when it is broad (no restrictive key) at one of ``broad_levels``, or when it
    returned at least ``min_matches`` matches; a finding needs ``min_queries`` flagged queries."""

    broad_levels: tuple[str, ...] = ("PATIENT", "STUDY")
    min_matches: int = 500
    min_queries: int = 1


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    flagged: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
    for r in by_kind(records, "dimse"):
        query = r.get("query")
        if r.get("command") != "C-FIND" or not query:
            continue
        broad = bool(query.get("broad")) and (query.get("level") or "").upper() in thresholds.broad_levels
        if broad or int(r.get("matches") or 0) >= thresholds.min_matches:
            flagged[(str(r["client"]), str(r.get("calling_ae")), endpoint(r))].append(r)
    for (client, calling, target), queries in sorted(flagged.items()):
        if len(queries) < thresholds.min_queries:
            continue
        yield RULE.finding(target, {
            "source": client, "calling_ae": calling, "queries": len(queries),
            "matches": sum(int(q.get("matches") or 0) for q in queries),
            "levels": sorted({str((q.get("query") or {}).get("level")) for q in queries}),
            "wildcard_keys": sorted({k for q in queries for k in (q.get("query") or {}).get("wildcard_keys", [])}),
            "broad_queries": sum(1 for q in queries if (q.get("query") or {}).get("broad"))})
