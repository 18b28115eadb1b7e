"""Locks what the catalog review of 2026-12-06 verified against the sources (catalog/README.md, "Review").

Each lock fails when the data changes, so a change has to be checked against the source again and the
expected value here updated with it:

- CSF 2.0: the 106 subcategory ids and outcome statements, compared one by one with NIST's OSCAL rendering of
  the CSF 2.0 Core (usnistgov/oscal-content), and their split over the six functions (CSWP 29 Appendix A);
- HIPAA: the 22 standards and 43 implementation specifications with their Required/Addressable status, compared
  with NIST SP 800-66 Rev. 2 (which restates 164.308-.316 and Appendix A to Subpart C);
- the HPH CPG goal list (HHS, January 2024): names and order;
- the crosswalks' basis: which HIPAA -> CSF 2.0 pairs are NIST's (SP 800-66r2 CPRT mapping, carried to CSF 2.0)
  and which are radguard's judgement; the CPG crosswalk is judgement throughout;
- the proposed (NPRM 2025) paragraphs the obligations cite, and the rule citations the review removed.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from radguard import rulebook
from radguard.catalog import controls_for, load
from radguard.catalog.crosswalk import basis_of, crosswalks
from radguard.govern.obligations import obligations as shipped_obligations

CSF_DIGEST = "55511afb857bae7fe4a0ee42e938072dd72a38bb28e1a1e06a72a6c070f7c642"
HIPAA_DIGEST = "4a21d0d81aaeb9dd1b208a6bc5f4749c81f86d94daa8e6aaa2fb5ab7716ab11f"

CPG_GOALS = [
    ("ESS-01", "Mitigate Known Vulnerabilities"),
    ("ESS-02", "Email Security"),
    ("ESS-03", "Multifactor Authentication"),
    ("ESS-04", "Basic Cybersecurity Training"),
    ("ESS-05", "Strong Encryption"),
    ("ESS-06", "Revoke Credentials for Departing Workforce Members, Including Employees, Contractors, Affiliates, "
               "and Volunteers"),
    ("ESS-07", "Basic Incident Planning and Preparedness"),
    ("ESS-08", "Unique Credentials"),
    ("ESS-09", "Separate User and Privileged Accounts"),
    ("ESS-10", "Vendor/Supplier Cybersecurity Requirements"),
    ("ENH-01", "Asset Inventory"),
    ("ENH-02", "Third Party Vulnerability Disclosure"),
    ("ENH-03", "Third Party Incident Reporting"),
    ("ENH-04", "Cybersecurity Testing"),
    ("ENH-05", "Cybersecurity Mitigation"),
    ("ENH-06", "Detect and Respond to Relevant Threats and Tactics, Techniques, and Procedures"),
    ("ENH-07", "Network Segmentation"),
    ("ENH-08", "Centralized Log Collection"),
    ("ENH-09", "Centralized Incident Planning and Preparedness"),
    ("ENH-10", "Configuration Management"),
]

#: HIPAA -> CSF 2.0 pairs that NIST's SP 800-66r2 mapping does not give (radguard's judgement), by source id
HIPAA_CSF_JUDGEMENT = {
    "164.308(a)(1)(ii)(D)": {"DE.AE-02"},
    "164.308(a)(3)(ii)(B)": {"PR.AA-02"},
    "164.308(a)(5)(ii)(B)": {"PR.PS-05"},
    "164.308(a)(5)(ii)(C)": {"PR.AA-03"},
    "164.308(a)(5)(ii)(D)": {"PR.AA-01"},
    "164.308(a)(7)(ii)(B)": {"RC.RP-05"},
    "164.308(a)(7)(ii)(C)": {"RC.RP-04"},
    "164.308(a)(7)(ii)(D)": {"RC.RP-03"},
    "164.308(a)(8)": {"GV.OV-03", "ID.IM-01"},
    "164.308(b)(1)": {"GV.SC-06"},
    "164.310(b)": {"GV.PO-01"},
    "164.312(c)(1)": {"PR.DS-10"},
    "164.312(d)": {"PR.AA-04"},
}

#: obligation id -> the proposed 45 CFR paragraph (HIPAA Security Rule NPRM, 90 FR 898) its basis cites
PROPOSED_PARAGRAPHS = {
    "vulnerability-scan": "164.312(h)(2)(i)",
    "penetration-test": "164.312(h)(2)(iii)",
    "backup-restore-test": "164.308(a)(13)",
    "training": "164.308(a)(11)",
    "ir-exercise": "164.308(a)(12)",
    "risk-analysis": "164.308(a)(2)",
}


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def test_csf_core_is_the_verified_one() -> None:
    subs = controls_for("csf", "subcategory")
    assert Counter(c.id[:2] for c in subs) == {"GV": 31, "ID": 21, "PR": 22, "DE": 11, "RS": 13, "RC": 8}
    assert _digest([f"{c.id}\t{c.title}" for c in subs]) == CSF_DIGEST


def test_hipaa_structure_is_the_verified_one() -> None:
    controls = list(load("hipaa").controls.values())
    lines = [f"{c.id}\t{c.kind}\t{c.required}\t{c.parent}" for c in sorted(controls, key=lambda c: c.id)]
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == HIPAA_DIGEST
    assert Counter(c.required for c in controls) == {None: 22, True: 21, False: 22}  # standards, Required, Addressable


def test_cpg_goals_are_hhs_list_in_order() -> None:
    assert [(g.id, g.title) for g in controls_for("cpg", "goal")] == CPG_GOALS
    assert "hphcyber.hhs.gov/performance-goals.html" in load("cpg").source


def test_hipaa_crosswalk_basis() -> None:
    [cw] = [c for c in crosswalks() if c.source_framework == "hipaa"]
    assert "SP 800-66" in cw.published_by and "CPRT" in cw.published_by
    judged: dict[str, set[str]] = {}
    published = 0
    for ref, targets in cw.maps.items():
        assert cw.published.get(ref, frozenset()) <= set(targets), ref  # only pairs the file maps
        for t in targets:
            kind = basis_of(ref, t)
            if t.startswith("hicp:"):
                assert kind == "judgement", (ref, t)  # no HICP pair could be checked
            elif kind == "published":
                published += 1
            else:
                judged.setdefault(ref.removeprefix("hipaa:"), set()).add(t.removeprefix("csf:"))
    assert judged == HIPAA_CSF_JUDGEMENT
    assert published == 100
    assert basis_of("hipaa:164.312(e)(2)(ii)", "csf:PR.DS-02") == "published"
    assert basis_of("hipaa:164.312(e)(2)(ii)", "csf:GV.OC-01") == ""


def test_cpg_crosswalk_is_judgement_throughout() -> None:
    [cw] = [c for c in crosswalks() if c.source_framework == "cpg"]
    assert not cw.published and "judgement" in cw.source
    assert all(basis_of(ref, t) == "judgement" for ref, targets in cw.maps.items() for t in targets)


def test_proposed_obligations_cite_their_nprm_paragraph() -> None:
    obligations = {o.id: o for o in shipped_obligations()}
    assert {i for i, o in obligations.items() if o.proposed} == set(PROPOSED_PARAGRAPHS)
    for oid, paragraph in PROPOSED_PARAGRAPHS.items():
        cited = re.findall(r"proposed 45 CFR (164\.3\d\d[()\w]*)", obligations[oid].basis)
        assert cited == [paragraph], (oid, obligations[oid].basis)


def test_rules_do_not_cite_controls_they_give_no_evidence_for() -> None:
    # an unauthenticated C-FIND/C-MOVE probe says nothing about audit controls
    for rid in ("dicom-open-query", "dicom-open-retrieve"):
        assert "hipaa:164.312(b)" not in rulebook.rule(rid).controls
    # a missing sealed object says nothing about the backup plan; recover (unrecoverable) does
    assert "hipaa:164.308(a)(7)(ii)(A)" not in rulebook.rule("missing").controls
    assert "hipaa:164.308(a)(7)(ii)(A)" in rulebook.rule("unrecoverable").controls
    # a burst of associations is activity review and capacity, not a disaster recovery plan
    flood = rulebook.rule("association-flood").controls
    assert "hipaa:164.308(a)(7)(ii)(B)" not in flood and "hipaa:164.308(a)(1)(ii)(D)" in flood


def test_dicom_bcp195_rfc8996_profiles_are_listed() -> None:
    titles = {c.id: c.title for c in controls_for("dicom", "profile")}
    assert titles["PS3.15-B.12"] == "BCP 195 RFC 8996, 9325 TLS Secure Transport Connection Profile"
    assert titles["PS3.15-B.13"].startswith("Modified BCP 195 RFC 8996")
    assert "not checked against PS3.15" in load("dicom").controls["PS3.15-B.12"].text
