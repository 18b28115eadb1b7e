"""PHI handling helpers: radguard never stores or prints identifying values.

Use :func:`phi_hash` where a value must remain linkable (same patient, same
hash) without being recoverable, and :func:`redact` where only its presence matters.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import cache

#: DICOM attributes treated as directly patient-identifying (keyword list).
#: Source: DICOM PS3.15 Annex E Table E.1-1 (Basic Profile), patient module subset.
PHI_KEYWORDS: frozenset[str] = frozenset(
    {
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientBirthTime",
        "OtherPatientIDs",
        "OtherPatientNames",
        "OtherPatientIDsSequence",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "PatientMotherBirthName",
        "MilitaryRank",
        "MedicalRecordLocator",
        "IssuerOfPatientID",
        "AccessionNumber",
        "ReferringPhysicianName",
        "PerformingPhysicianName",
        "OperatorsName",
        "InstitutionName",
        "InstitutionAddress",
        "PatientBirthName",
        "EthnicGroup",
        "PatientReligiousPreference",
    }
)


@cache
def phi_tags() -> frozenset[int]:
    """The tags (``0xggggeeee``) of :data:`PHI_KEYWORDS`, from pydicom's data dictionary."""
    from pydicom.datadict import tag_for_keyword

    tags = (tag_for_keyword(k) for k in PHI_KEYWORDS)
    return frozenset(int(t) for t in tags if t is not None)


def site_secret() -> bytes:
    """The site secret that keys every hash of identifying data (``RADGUARD_PHI_SECRET``)."""
    return _site_secret()


def _site_secret() -> bytes:
    secret = os.environ.get("RADGUARD_PHI_SECRET")
    if secret:
        return secret.encode()
    return b"radguard-default-phi-key"


def phi_hash(value: str | bytes, *, secret: bytes | None = None) -> str:
    """Keyed hash (HMAC-SHA-256, first 16 hex chars) of an identifying value.

    The key is the site secret (``RADGUARD_PHI_SECRET``) so that hashes cannot be
    reversed by a dictionary of common names without it.
    """
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return "hmac:" + hmac.new(secret or _site_secret(), data, hashlib.sha256).hexdigest()[:16]


def redact(value: object) -> str:
    """Replace a value by a marker that tells only its length."""
    return f"<redacted:{len(str(value))}>"
