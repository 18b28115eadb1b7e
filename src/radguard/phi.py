"""PHI handling helpers: radguard never stores or prints identifying values.

Use :func:`phi_hash` where a value must remain linkable (same patient, same
hash) without being recoverable, and :func:`redact` where only its presence matters.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from types import MappingProxyType

#: DICOM attributes treated as directly patient-identifying: tag (``0xggggeeee``) -> keyword, radguard's one
#: table of them. Source: DICOM PS3.15 Annex E Table E.1-1 (Basic Profile), patient module subset; tags from
#: the PS3.6 data dictionary (tests check them against pydicom's), so that no per-packet path needs pydicom.
PHI_TAGS: Mapping[int, str] = MappingProxyType({
    0x00080050: "AccessionNumber",
    0x00080080: "InstitutionName",
    0x00080081: "InstitutionAddress",
    0x00080090: "ReferringPhysicianName",
    0x00081050: "PerformingPhysicianName",
    0x00081070: "OperatorsName",
    0x00100010: "PatientName",
    0x00100020: "PatientID",
    0x00100021: "IssuerOfPatientID",
    0x00100030: "PatientBirthDate",
    0x00100032: "PatientBirthTime",
    0x00101000: "OtherPatientIDs",
    0x00101001: "OtherPatientNames",
    0x00101002: "OtherPatientIDsSequence",
    0x00101005: "PatientBirthName",
    0x00101040: "PatientAddress",
    0x00101060: "PatientMotherBirthName",
    0x00101080: "MilitaryRank",
    0x00101090: "MedicalRecordLocator",
    0x00102154: "PatientTelephoneNumbers",
    0x00102160: "EthnicGroup",
    0x001021F0: "PatientReligiousPreference",
})
#: the keywords of :data:`PHI_TAGS`
PHI_KEYWORDS: frozenset[str] = frozenset(PHI_TAGS.values())
_PHI_TAG_SET = frozenset(PHI_TAGS)


def phi_tags() -> frozenset[int]:
    """The tags of :data:`PHI_TAGS` as a set."""
    return _PHI_TAG_SET


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
