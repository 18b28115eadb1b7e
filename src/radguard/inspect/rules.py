"""Rule metadata shared by the archive checks and ledger verification (see docs/archive.md).

Each rule names its default severity, the controls it maps to and the remediation a user
should apply. Control ids are those of :mod:`radguard.catalog` (45 CFR Part 164 and NIST CSF 2.0).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from radguard.models import Finding, Severity

#: 45 CFR 164.308(a)(5)(ii)(B): protection from malicious software
MALWARE = "hipaa:164.308(a)(5)(ii)(B)"
#: 45 CFR 164.312(c)(1): integrity of ePHI
INTEGRITY = "hipaa:164.312(c)(1)"
#: 45 CFR 164.312(c)(2): mechanism to authenticate ePHI
AUTHENTICATE = "hipaa:164.312(c)(2)"
#: 45 CFR 164.308(a)(7)(ii)(A)/(B): data backup plan, disaster recovery plan
BACKUP = "hipaa:164.308(a)(7)(ii)(A)"
RECOVERY = "hipaa:164.308(a)(7)(ii)(B)"
#: 45 CFR 164.308(a)(6)(ii): security incident response and reporting
INCIDENT = "hipaa:164.308(a)(6)(ii)"
#: NIST CSF 2.0 subcategories
CSF_DATA_AT_REST = "csf:PR.DS-01"
CSF_MONITOR = "csf:DE.CM-09"
CSF_ADVERSE = "csf:DE.AE-02"
CSF_RESTORE_INTEGRITY = "csf:RC.RP-03"
CSF_BACKUPS = "csf:PR.DS-11"


class RuleId(enum.StrEnum):
    """Stable rule ids of the archive checks (documented in docs/archive.md)."""

    EXECUTABLE_PREAMBLE = "executable-preamble"
    TRAILING_DATA = "trailing-data"
    NOT_DICOM = "not-dicom"
    MALFORMED = "malformed"
    ACTIVE_CONTENT = "active-content"
    UNREADABLE = "unreadable"
    HEADER_TAMPERED = "header-tampered"
    PIXEL_TAMPERED = "pixel-tampered"
    TRANSCODED = "transcoded"
    MISSING = "missing"
    UNEXPECTED = "unexpected"
    RANSOMWARE_BURST = "ransomware-burst"
    CANARY_TOUCHED = "canary-touched"
    LEDGER_INVALID = "ledger-invalid"
    UNRECOVERABLE = "unrecoverable"


@dataclass(frozen=True, kw_only=True, slots=True)
class Rule:
    """What a check reports: id, default severity, title, controls, remediation."""

    id: RuleId
    severity: Severity
    title: str
    controls: tuple[str, ...]
    remediation: str

    def finding(
        self,
        target: str,
        evidence: Mapping[str, Any],
        *,
        severity: Severity | None = None,
        title: str | None = None,
    ) -> Finding:
        """A finding of this rule on ``target`` (evidence: facts, never PHI values)."""
        return Finding(
            rule=self.id.value,
            severity=severity or self.severity,
            title=title or self.title,
            target=target,
            evidence=dict(evidence),
            remediation=self.remediation,
            controls=self.controls,
        )


def tag_str(tag: int | None) -> str | None:
    """``(gggg,eeee)`` of a tag, or None."""
    return None if tag is None else f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def keyword(tag: int | None) -> str:
    """DICOM keyword of a tag (PS3.6), ``"private"`` for private tags, ``""`` if unknown."""
    if tag is None:
        return ""
    if (tag >> 16) & 1:
        return "private"
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(tag) or ""
