"""``web-harvest``: one client downloading many objects over the PACS's web API (WADO-RS, PS3.18 §10.4, or
the PACS's REST downloads) within a window, or listing the archive by QIDO-RS without a study-level
constraint (PS3.18 §10.6: ``/studies`` or ``/instances`` with no matching key): bulk collection of
images and demographics over HTTP. 45 CFR 164.312(a)(1), 164.312(b).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind, endpoint, epoch, windows

RULE = rulebook.rule("web-harvest")
#: Orthanc REST downloads (one file, archive or media each): ``/instances/{id}/file``, ``/studies/{id}/archive``
REST_DOWNLOADS = ("/file", "/archive", "/media")


@dataclass(frozen=True)
class Thresholds:
    """``min_objects`` objects downloaded by one client from one server within ``window_seconds``; a QIDO-RS
    listing counts as broad when none of ``constraining_keys`` has a non-universal value and it asks for more
    than ``max_listing_limit`` results (or sets no limit)."""

    min_objects: int = RULE.thresholds["min_objects"]
    window_seconds: float = RULE.thresholds["window_seconds"]
    constraining_keys: tuple[str, ...] = RULE.thresholds["constraining_keys"]
    max_listing_limit: int = RULE.thresholds["max_listing_limit"]


def objects(r: Record) -> int:
    """Objects a successful download carried: its multipart parts (at least 1), 0 for anything else."""
    if not 200 <= int(r.get("status") or 0) < 300 or r.get("method") != "GET":
        return 0
    if r.get("api") == "wado-rs" and not str(r.get("resource", "")).endswith(("/metadata", "/thumbnail")):
        return max(1, int(r.get("parts") or 0))
    return int(r.get("api") == "rest" and str(r.get("resource", "")).endswith(REST_DOWNLOADS))


def broad_listing(r: Record, thresholds: Thresholds) -> bool:
    """A QIDO-RS search of the whole archive (no study in the path, no constraining key)."""
    if r.get("api") != "qido-rs" or "{uid}" in str(r.get("resource", "")):
        return False
    query = r.get("query") or {}
    universal = set(r.get("query_universal") or [])
    if any(k in query and k not in universal for k in thresholds.constraining_keys):
        return False
    limit = str(query.get("limit", ""))
    return not (limit.isdigit() and int(limit) <= thresholds.max_listing_limit)


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    listings: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in by_kind(records, "http"):
        key = (endpoint(r), str(r.get("client")))
        n = objects(r)
        if n:
            times[key].extend([epoch(str(r["ts"]))] * n)
        elif broad_listing(r, thresholds):
            listings[key].append(r)
    for key in sorted(set(times) | set(listings)):
        target, client = key
        stamps = sorted(times.get(key, []))
        peak = windows(stamps, thresholds.window_seconds)
        broad = listings.get(key, [])
        if peak < thresholds.min_objects and not broad:
            continue
        yield RULE.finding(target, {
            "source": client, "objects_in_window": peak, "objects": len(stamps),
            "window_seconds": thresholds.window_seconds, "broad_listings": len(broad),
            "listing_resources": sorted({str(b.get("resource")) for b in broad})[:5],
            "listing_keys": sorted({k for b in broad for k in (b.get("query") or {})})[:20]})
