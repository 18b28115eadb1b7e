"""Turn probe reports into findings and assets (pure functions, no I/O).

One place decides which facts make which rule fire, so the CLI, the store and the tests
see the same thing. Evidence holds protocol facts (statuses, counts, reject reasons,
certificate fields), never data-set values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from radguard import rulebook
from radguard.assess.identify import ServiceKind
from radguard.assess.knowledge import Confidence, Fingerprint, identify_implementation, kb_version, lookup
from radguard.assess.probes.dicom_access import AccessReport
from radguard.assess.probes.dicom_services import ServicesReport, Verdict
from radguard.assess.probes.tls import TlsReport
from radguard.assess.probes.web import WebPath, WebReport
from radguard.models import Finding, Severity

#: the scan rules (rows of assess/rules.toml)
DICOM_ANY_CALLED_AE = rulebook.rule("dicom-any-called-ae")
DICOM_ANY_CALLING_AE = rulebook.rule("dicom-any-calling-ae")
DICOM_OPEN_QUERY = rulebook.rule("dicom-open-query")
DICOM_OPEN_RETRIEVE = rulebook.rule("dicom-open-retrieve")
DICOM_OPEN_STORE = rulebook.rule("dicom-open-store")
DICOM_CLEARTEXT = rulebook.rule("dicom-cleartext")
TLS_WEAK = rulebook.rule("tls-weak")
KNOWN_VULNERABLE_VERSION = rulebook.rule("known-vulnerable-version")
WEB_NO_AUTH = rulebook.rule("web-no-auth")
WEB_DEFAULT_CREDENTIALS = rulebook.rule("web-default-credentials")
WEB_CLEARTEXT = rulebook.rule("web-cleartext")

_LOWER = {
    Severity.CRITICAL: Severity.HIGH,
    Severity.HIGH: Severity.MEDIUM,
    Severity.MEDIUM: Severity.LOW,
    Severity.LOW: Severity.INFO,
    Severity.INFO: Severity.INFO,
}


def dicom_findings(
    target: str, tls: bool, access: AccessReport, services: ServicesReport | None
) -> list[Finding]:
    """Findings for one DICOM endpoint (access, services, transport)."""
    out: list[Finding] = []
    attempts = [a.to_dict() for a in access.attempts]
    if access.any_called:
        out.append(DICOM_ANY_CALLED_AE.finding(target, {
            "association": "accepted with a random called AE title", "attempts": attempts}))
    if access.any_calling:
        out.append(DICOM_ANY_CALLING_AE.finding(target, {
            "association": "accepted with a random calling AE title",
            "called_ae_known": not access.any_called, "attempts": attempts,
            "services_offered": sorted(access.services)}))
    if services is not None and access.any_calling:  # what an UNKNOWN peer may do; other probes are facts only
        peer = "unknown peer (random calling AE)"
        if services.query is not None and services.query.verdict is Verdict.OPEN:
            evidence: dict[str, Any] = {"peer": peer, **services.query.to_dict()}
            if services.query_counts:
                evidence["match_counts"] = dict(services.query_counts)
            out.append(DICOM_OPEN_QUERY.finding(target, evidence))
        opened = {name: r.to_dict() for name, r in (("c-move", services.move), ("c-get", services.get))
                  if r is not None and r.verdict is Verdict.OPEN}
        if opened:
            out.append(DICOM_OPEN_RETRIEVE.finding(target, {"peer": peer, **opened}))
        if services.store is not None and services.store.verdict is Verdict.OPEN:
            out.append(DICOM_OPEN_STORE.finding(target, {"peer": peer, **services.store.to_dict()}))
    if not tls:
        out.append(DICOM_CLEARTEXT.finding(target, {
            "transport": "TCP without TLS", "association_probe": "A-ASSOCIATE-RQ answered in clear text"}))
    return out


def tls_findings(target: str, report: TlsReport) -> list[Finding]:
    if not report.handshake_ok or not report.issues:
        return []
    return [TLS_WEAK.finding(target, report.evidence())]


def web_findings(target: str, report: WebReport) -> list[Finding]:
    out: list[Finding] = []
    if not report.is_pacs:
        return out
    open_paths = {p: v for p, v in report.open_paths.items()}
    readable = {p: v for p, v in open_paths.items() if p in (WebPath.ORTHANC_SYSTEM.value,
                                                                WebPath.ORTHANC_STUDIES.value,
                                                                WebPath.DICOMWEB_STUDIES.value)}
    if readable:
        out.append(WEB_NO_AUTH.finding(target, {"readable_without_credentials": readable,
                                                        "product": report.product}))
    if report.default_credentials:
        out.append(WEB_DEFAULT_CREDENTIALS.finding(target, {"accepted": list(report.default_credentials)}))
    if report.scheme == "http":
        out.append(WEB_CLEARTEXT.finding(target, {"scheme": "http", "product": report.product,
                                                         "auth_required": report.auth_required}))
    return out


def dicom_fingerprint(access: AccessReport) -> Fingerprint | None:
    return identify_implementation(access.implementation_class_uid, access.implementation_version_name)


def version_findings(target: str, fp: Fingerprint | None, *, toolkit_only: bool) -> list[Finding]:
    """``known-vulnerable-version`` for a fingerprint; ``toolkit_only``: the version is the DICOM toolkit's."""
    if fp is None or not fp.version:
        return []
    entries = lookup(fp.product, fp.version)
    if not entries:
        return []
    confidence = Confidence.LOW if toolkit_only else Confidence.MEDIUM
    worst = max((e.severity for e in entries), key=lambda s: s.rank)
    severity = _LOWER[worst] if confidence is Confidence.LOW else worst
    evidence = {
        "product": fp.product,
        "version": fp.version,
        "version_source": fp.source,
        "confidence": confidence.value,
        "caveat": "Version-based: Linux distributions backport security fixes without changing the upstream "
        "version; confirm against the package changelog before acting.",
        "knowledge_base": kb_version(),
        "matches": [
            {"id": e.id, "cves": list(e.cves), "severity": e.severity.value, "fixed_in": e.fixed_in,
             "summary": e.summary}
            for e in entries
        ],
    }
    cves = sorted({c for e in entries for c in e.cves})
    title = f"{fp.product} {fp.version} is in the affected range of {', '.join(cves[:3])}" + (
        f" (+{len(cves) - 3} more)" if len(cves) > 3 else "")
    return [KNOWN_VULNERABLE_VERSION.finding(target, evidence, severity=severity, title=title)]


def asset_attributes(kind: ServiceKind, **facts: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"service": kind.value}
    out.update({k: v for k, v in facts.items() if v is not None})
    return out


def count_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s.value: 0 for s in Severity}
    for f in findings:
        counts[f.severity.value] += 1
    return counts
