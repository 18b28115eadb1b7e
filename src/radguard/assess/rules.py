"""The scan rules: id, default severity, title, remediation and the controls each maps to.

Documented for users in ``docs/rules.md`` ("## scan"). Probes build findings with
:func:`finding`, so every finding of a rule carries the same remediation and controls.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from radguard.models import Finding, Severity


class RuleId(enum.StrEnum):
    """Stable rule ids of ``radguard scan``."""

    DICOM_ANY_CALLED_AE = "dicom-any-called-ae"
    DICOM_ANY_CALLING_AE = "dicom-any-calling-ae"
    DICOM_OPEN_QUERY = "dicom-open-query"
    DICOM_OPEN_RETRIEVE = "dicom-open-retrieve"
    DICOM_OPEN_STORE = "dicom-open-store"
    DICOM_CLEARTEXT = "dicom-cleartext"
    TLS_WEAK = "tls-weak"
    KNOWN_VULNERABLE_VERSION = "known-vulnerable-version"
    WEB_NO_AUTH = "web-no-auth"
    WEB_DEFAULT_CREDENTIALS = "web-default-credentials"
    WEB_CLEARTEXT = "web-cleartext"


@dataclass(frozen=True, kw_only=True, slots=True)
class Rule:
    id: RuleId
    severity: Severity
    title: str
    remediation: str
    controls: tuple[str, ...]


_ACCESS = ("hipaa:164.312(a)(1)", "hipaa:164.312(d)", "csf:PR.AA-03", "csf:PR.AA-05")
_TRANSPORT = ("hipaa:164.312(e)(1)", "hipaa:164.312(e)(2)(ii)", "csf:PR.DS-02")

RULES: Mapping[RuleId, Rule] = {
    r.id: r
    for r in (
        Rule(
            id=RuleId.DICOM_ANY_CALLED_AE,
            severity=Severity.MEDIUM,
            title="DICOM service accepts any called AE title",
            remediation="Configure the SCP to accept only its own AE title(s) (e.g. Orthanc DicomCheckCalledAet=true; "
            "DCMTK dcmqrscp AETable), so scanners cannot associate without knowing it.",
            controls=("hipaa:164.312(a)(1)", "csf:PR.AA-05"),
        ),
        Rule(
            id=RuleId.DICOM_ANY_CALLING_AE,
            severity=Severity.HIGH,
            title="DICOM service accepts associations from unknown calling AE titles",
            remediation="Allow only known peers (calling AE title + source address), e.g. Orthanc DicomModalities "
            "with DicomAlwaysAllowEcho/Store=false, dcmqrscp AETable access rights; firewall the port to "
            "modality subnets.",
            controls=_ACCESS,
        ),
        Rule(
            id=RuleId.DICOM_OPEN_QUERY,
            severity=Severity.HIGH,
            title="Unknown peer may query the archive (C-FIND accepted)",
            remediation="Refuse C-FIND from peers that are not configured query clients (Orthanc "
            "DicomAlwaysAllowFind=false and per-modality AllowFind; dcmqrscp AETable).",
            controls=(*_ACCESS, "hipaa:164.312(b)"),
        ),
        Rule(
            id=RuleId.DICOM_OPEN_RETRIEVE,
            severity=Severity.HIGH,
            title="Unknown peer may retrieve studies (C-MOVE/C-GET not refused)",
            remediation="Refuse C-MOVE/C-GET from unknown peers and refuse move destinations that are not "
            "configured (status A801); restrict per-peer AllowMove/AllowGet.",
            controls=(*_ACCESS, "hipaa:164.312(b)"),
        ),
        Rule(
            id=RuleId.DICOM_OPEN_STORE,
            severity=Severity.HIGH,
            title="Unknown peer may store objects (C-STORE accepted)",
            remediation="Accept C-STORE only from known modalities (Orthanc DicomAlwaysAllowStore=false; "
            "storescp behind an AE/IP allowlist or radguard gateway); inspect and quarantine incoming files.",
            controls=(*_ACCESS, "hipaa:164.312(c)(1)"),
        ),
        Rule(
            id=RuleId.DICOM_CLEARTEXT,
            severity=Severity.MEDIUM,
            title="DICOM without TLS (images and patient data travel in clear text)",
            remediation="Offer DICOM over TLS (PS3.15 B.9 BCP 195 profile, port 2762) and retire cleartext "
            "associations, or confine them to an isolated modality VLAN / VPN.",
            controls=_TRANSPORT,
        ),
        Rule(
            id=RuleId.TLS_WEAK,
            severity=Severity.MEDIUM,
            title="Weak TLS configuration (RFC 9325 / PS3.15 B.9)",
            remediation="Accept only TLS 1.2+ with AEAD, forward-secret suites (RFC 9325); use a certificate from "
            "the site CA that is valid, matches the host name and has a key >= 2048-bit RSA / 256-bit EC.",
            controls=(*_TRANSPORT, "hipaa:164.312(d)"),
        ),
        Rule(
            id=RuleId.KNOWN_VULNERABLE_VERSION,
            severity=Severity.HIGH,
            title="Product version with known vulnerabilities",
            remediation="Update to the fixed version named in the evidence; distribution packages may already carry "
            "the fix (check the package changelog for the CVE ids).",
            controls=("hipaa:164.308(a)(1)(ii)(A)", "hipaa:164.308(a)(1)(ii)(B)", "csf:ID.RA-01", "csf:PR.PS-02"),
        ),
        Rule(
            id=RuleId.WEB_NO_AUTH,
            severity=Severity.HIGH,
            title="PACS web/DICOMweb API readable without credentials",
            remediation="Enable authentication (Orthanc AuthenticationEnabled=true with RegisteredUsers or an "
            "authorization plugin; DICOMweb behind an authenticating proxy) and restrict remote access.",
            controls=_ACCESS,
        ),
        Rule(
            id=RuleId.WEB_DEFAULT_CREDENTIALS,
            severity=Severity.CRITICAL,
            title="PACS web API accepts vendor default credentials",
            remediation="Change or remove the default account; use per-user credentials and an authorization plugin.",
            controls=(*_ACCESS, "hipaa:164.308(a)(5)(ii)(D)", "csf:PR.AA-01"),
        ),
        Rule(
            id=RuleId.WEB_CLEARTEXT,
            severity=Severity.MEDIUM,
            title="PACS web/DICOMweb served over plain HTTP",
            remediation="Serve the web API over HTTPS only (Orthanc SslEnabled or a TLS reverse proxy) and redirect "
            "or close plain HTTP.",
            controls=_TRANSPORT,
        ),
    )
}


def finding(
    rule_id: RuleId,
    target: str,
    evidence: Mapping[str, Any],
    *,
    severity: Severity | None = None,
    title: str | None = None,
    remediation: str | None = None,
) -> Finding:
    """Build a :class:`Finding` of ``rule_id`` with the rule's defaults (overridable per finding)."""
    rule = RULES[rule_id]
    return Finding(
        rule=rule.id.value,
        severity=severity or rule.severity,
        title=title or rule.title,
        target=target,
        evidence=dict(evidence),
        remediation=remediation or rule.remediation,
        controls=rule.controls,
    )
