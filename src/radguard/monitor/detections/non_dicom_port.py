"""``non-dicom-on-dicom-port``: something other than DICOM (or DICOM TLS) on a port where DICOM
runs: a port shared with another service, a tunnel, or probing with other protocols. A port
counts as a DICOM port when it is configured as one or DICOM was seen on it in the capture.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, endpoint

RULE = rulebook.rule("non-dicom-on-dicom-port")


@dataclass(frozen=True)
class Thresholds:
    """``min_connections`` non-DICOM connections with payload to one DICOM endpoint."""

    min_connections: int = RULE.thresholds["min_connections"]


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    dicom_endpoints = {endpoint(r) for r in records if r.get("kind") in ("association", "dimse")}
    others: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if (r.get("kind") == "connection" and r.get("protocol") == "other" and r.get("bytes_client")
                and (endpoint(r) in dicom_endpoints or r.get("dicom_port"))):
            others[endpoint(r)].append(r)
    for target, conns in sorted(others.items()):
        if len(conns) >= thresholds.min_connections:
            yield RULE.finding(target, {"connections": len(conns), "sources": sorted({str(c["client"]) for c in conns}),
                                        "bytes_from_clients": sum(int(c.get("bytes_client") or 0) for c in conns)})
