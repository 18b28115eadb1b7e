"""``web-upload-malicious``: a DICOM file uploaded over the web API (a STOW-RS ``application/dicom`` part,
PS3.18 §10.5, or a REST POST body) fails the shared object checks — executable preamble (the
CVE-2019-11687 polyglot), trailing data, active content, malformed. Each file is handed to
:func:`radguard.inspect.api.inspect_bytes`, the checks the archive audit, the gateway and
``malicious-object`` run. 45 CFR 164.308(a)(5)(ii)(B), 164.312(c)(1).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind
from radguard.monitor.detections.malicious_object import verdict_findings, verdicts

RULE = rulebook.rule("web-upload-malicious")


@dataclass(frozen=True)
class Thresholds:
    """Check verdicts at or above ``min_severity`` count; ``min_objects`` uploads per target raise a finding."""

    min_severity: str = RULE.thresholds["min_severity"]
    min_objects: int = RULE.thresholds["min_objects"]


def inspector(data: bytes) -> list[dict[str, Any]]:
    """Run the stateless object checks on one uploaded Part 10 file (the HTTP parser's UploadInspector)."""
    from radguard.inspect.api import inspect_bytes

    return verdicts(inspect_bytes(data, "web-upload"))


def detect(records: Sequence[Record], thresholds: Thresholds) -> Iterator[Finding]:
    return verdict_findings(RULE, by_kind(records, "http"), thresholds, lambda uploads: {
        "apis": sorted({str(u.get("api")) for u in uploads}),
        "resources": sorted({f"{u.get('method')} {u.get('resource')}" for u in uploads})[:5],
        "accepted": sum(1 for u in uploads if 200 <= int(u.get("status") or 0) < 300),
        "auth_user": next((u.get("auth_user") for u in uploads if u.get("auth_user")), None)})
