"""``query-harvesting``: broad C-FIND queries (wildcard or universal matching at patient/study
level) or queries returning very many matches: bulk collection of patient demographics
(PS3.4 §C.2.2.2 matching). 45 CFR 164.312(a)(1), 164.308(a)(1)(ii)(D).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind, endpoint

RULE = rulebook.rule("query-harvesting")


@dataclass(frozen=True)
class Thresholds:
    """A query is flagged when it is broad (no restrictive key) at one of ``broad_levels``, or when it
    returned at least ``min_matches`` matches; a finding needs ``min_queries`` flagged queries."""

    broad_levels: tuple[str, ...] = RULE.thresholds["broad_levels"]
    min_matches: int = RULE.thresholds["min_matches"]
    min_queries: int = RULE.thresholds["min_queries"]


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
