"""Detections as DICOM PS3.15 A.5.3.13 Security Alert audit messages, through the audit trail
(JSON Lines file and/or RFC 5424 syslog: UDP, TCP or TLS), so an ATNA repository or SIEM sees them."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from radguard.audittrail.codes import EventTypeCode, Outcome
from radguard.audittrail.messages import security_alert
from radguard.audittrail.syslog import SyslogTarget, make_sender
from radguard.audittrail.trail import AuditTrail
from radguard.models import Finding, Severity

#: PS3.16 CID 401 event type per detection (node authentication, restricted function, network)
ALERT_TYPES: dict[str, EventTypeCode] = {
    "ae-brute-force": EventTypeCode.NODE_AUTHENTICATION,
    "unknown-peer": EventTypeCode.NODE_AUTHENTICATION,
    "query-harvesting": EventTypeCode.USE_OF_RESTRICTED_FUNCTION,
    "bulk-retrieve": EventTypeCode.USE_OF_RESTRICTED_FUNCTION,
    "malicious-object": EventTypeCode.USE_OF_RESTRICTED_FUNCTION,
}


def _outcome(severity: Severity) -> Outcome:
    if severity >= Severity.CRITICAL:
        return Outcome.MAJOR_FAILURE
    return Outcome.SERIOUS_FAILURE if severity >= Severity.HIGH else Outcome.MINOR_FAILURE


def send_alerts(findings: Sequence[Finding], *, jsonl: Path | None = None, syslog: str | None = None,
                spool_dir: Path | None = None, reporter: str = "RADGUARD") -> int:
    """Emit one Security Alert per finding; returns how many were emitted (undelivered ones are spooled)."""
    if not findings or (jsonl is None and syslog is None):
        return 0
    sender = make_sender(SyslogTarget.parse(syslog)) if syslog else None
    spool = spool_dir or (Path(tempfile.gettempdir()) / "radguard-audit-spool" if sender else None)
    trail = AuditTrail(jsonl=jsonl, sender=sender, spool_dir=spool)
    try:
        for f in findings:
            evidence = f.evidence
            subject_ae = evidence.get("calling_ae")
            host = evidence.get("source") or f.target.rsplit(":", 1)[0]
            trail.emit(security_alert(
                alert=ALERT_TYPES.get(f.rule, EventTypeCode.NETWORK_CONFIGURATION), reporter=reporter,
                subject_ae=str(subject_ae) if subject_ae else None, subject_host=str(host),
                outcome=_outcome(f.severity),
                description=f"{f.rule} ({f.severity.value}): {f.title} - target {f.target}"))
    finally:
        trail.close()
    return len(findings)
