"""``web-default-credentials-used``: HTTP Basic (RFC 7617) with a vendor's default user and password against
the PACS's web API. The known pairs are data (``pairs``, tunable); a record keeps only the keyed hash
of ``user:password`` (:func:`radguard.monitor.http.credential_hash`), which is compared here: no
password is ever logged. Accepted (2xx) is high, refused attempts medium. 45 CFR 164.312(d),
164.308(a)(5)(ii)(D).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from radguard import rulebook
from radguard.models import Finding, Severity
from radguard.monitor.detections import Record, by_kind, endpoint
from radguard.monitor.http import credential_hash

RULE = rulebook.rule("web-default-credentials-used")


@dataclass(frozen=True)
class Thresholds:
    """``pairs``: known vendor defaults as ``user:password``; ``min_requests`` requests using one raise a finding."""

    pairs: tuple[str, ...] = RULE.thresholds["pairs"]
    min_requests: int = RULE.thresholds["min_requests"]


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    basic = [r for r in by_kind(records, "http") if r.get("auth") == "basic"]
    known = {credential_hash(*p.split(":", 1)) for p in thresholds.pairs if ":" in p} if basic else set()
    hits: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
    for r in basic:
        if r.get("auth_hash") in known:
            hits[(endpoint(r), str(r.get("client")), str(r.get("auth_user")))].append(r)
    for (target, client, user), requests in sorted(hits.items()):
        if len(requests) < thresholds.min_requests:
            continue
        accepted = sum(1 for r in requests if 200 <= int(r.get("status") or 0) < 300)
        yield RULE.finding(target, {"source": client, "user": user, "requests": len(requests),
                                    "accepted": accepted, "statuses": sorted({int(r.get("status") or 0)
                                                                             for r in requests})},
                           severity=RULE.severity if accepted else Severity.MEDIUM)
