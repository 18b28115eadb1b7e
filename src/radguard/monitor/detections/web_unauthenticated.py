"""``web-unauthenticated``: the PACS's web API (DICOMweb or its REST API) answered requests that carried
no credentials — anyone on the network can query, download or upload (posture). 45 CFR 164.312(d),
164.312(a)(1).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind, endpoint

RULE = rulebook.rule("web-unauthenticated")
APIS = frozenset({"qido-rs", "wado-rs", "stow-rs", "dicomweb", "rest"})


@dataclass(frozen=True)
class Thresholds:
    """``min_requests`` API requests answered 2xx without an ``Authorization`` header, per server."""

    min_requests: int = RULE.thresholds["min_requests"]


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    open_: dict[str, list[Record]] = defaultdict(list)
    for r in by_kind(records, "http"):
        if r.get("api") in APIS and not r.get("auth") and 200 <= int(r.get("status") or 0) < 300:
            open_[endpoint(r)].append(r)
    for target, requests in sorted(open_.items()):
        if len(requests) < thresholds.min_requests:
            continue
        yield RULE.finding(target, {"requests": len(requests),
                                    "apis": dict(sorted(Counter(str(r.get("api")) for r in requests).items())),
                                    "clients": len({r.get("client") for r in requests})})
