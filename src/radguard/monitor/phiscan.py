"""What a DICOM data set crossing the wire reveals, without keeping any value: PHI attributes
present (by keyword, counted) and, for query identifiers, which keys restrict the query
(PS3.4 §C.2.2.2 matching: universal, wildcard, single value, range)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from radguard.dicom import dataset as scan
from radguard.phi import PHI_KEYWORDS

QUERY_RETRIEVE_LEVEL = 0x00080052
SPECIFIC_CHARACTER_SET = 0x00080005
#: only the head of a data set is examined: PHI and query keys live in groups 0008-0020
HEAD_GROUP_LIMIT = 0x0020
PATIENT_GROUP = 0x0010
#: how many bytes of each data set the monitor keeps to examine
HEAD_BYTES = 64 * 1024


#: tags of the PHI keywords (PS3.6 data dictionary), so that the per-packet path needs no pydicom import;
#: a keyword missing here is looked up in pydicom's dictionary (tests check both agree)
KNOWN_TAGS: dict[str, int] = {
    "AccessionNumber": 0x00080050, "InstitutionName": 0x00080080, "InstitutionAddress": 0x00080081,
    "ReferringPhysicianName": 0x00080090, "PerformingPhysicianName": 0x00081050, "OperatorsName": 0x00081070,
    "PatientName": 0x00100010, "PatientID": 0x00100020, "IssuerOfPatientID": 0x00100021,
    "PatientBirthDate": 0x00100030, "PatientBirthTime": 0x00100032, "OtherPatientIDs": 0x00101000,
    "OtherPatientNames": 0x00101001, "OtherPatientIDsSequence": 0x00101002, "PatientBirthName": 0x00101005,
    "PatientAddress": 0x00101040, "PatientMotherBirthName": 0x00101060, "MilitaryRank": 0x00101080,
    "MedicalRecordLocator": 0x00101090, "PatientTelephoneNumbers": 0x00102154, "EthnicGroup": 0x00102160,
    "PatientReligiousPreference": 0x001021F0,
}


@cache
def _phi_tags() -> dict[int, str]:
    out: dict[int, str] = {}
    for kw in PHI_KEYWORDS:
        tag = KNOWN_TAGS.get(kw)
        if tag is None:
            from pydicom.datadict import tag_for_keyword

            found = tag_for_keyword(kw)
            tag = None if found is None else int(found)
        if tag is not None:
            out[tag] = kw
    return out


@cache
def keyword(tag: int) -> str:
    """The attribute keyword for a tag, or ``(gggg,eeee)`` for private/unknown tags."""
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@dataclass
class DatasetFacts:
    """Facts about one data set head: PHI keywords with a non-empty value, query keys, damage."""

    phi: list[str] = field(default_factory=list)
    level: str | None = None
    restrictive_keys: list[str] = field(default_factory=list)
    wildcard_keys: list[str] = field(default_factory=list)
    return_keys: int = 0
    malformed: bool = False

    @property
    def broad_query(self) -> bool:
        """No key narrows the match (only universal or pure-wildcard keys): matches everything at its level."""
        return not self.restrictive_keys


def _looks_explicit(data: bytes) -> bool:
    return len(data) >= 6 and 65 <= data[4] <= 90 and 65 <= data[5] <= 90


def examine(head: bytes, implicit: bool | None, complete: bool, *, query: bool = True) -> DatasetFacts:
    """Examine the head of a data set (``complete``: the whole data set is in ``head``).

    ``query``: also classify the keys of a query identifier; without it only PHI attributes are
    looked at (and the walk stops after the patient group 0010).
    """
    if implicit is None:
        implicit = not _looks_explicit(head)
    limit = HEAD_GROUP_LIMIT if query else PATIENT_GROUP
    elements, ok = scan.walk(head, implicit=implicit, stop_after_group=limit)
    facts = DatasetFacts(malformed=not ok and complete)
    phi_tags = _phi_tags()
    if not query:
        for el in elements:
            if el.tag in phi_tags and el.length != scan.UNDEFINED and scan.value(head, el).strip(b" \x00*?"):
                facts.phi.append(phi_tags[el.tag])
        return facts
    for el in elements:
        if el.length == scan.UNDEFINED or el.vr == "SQ":
            continue  # sequence matching: neither a PHI value nor a simple key
        raw = scan.value(head, el).strip(b" \x00")
        if el.tag in phi_tags and raw.strip(b"*?"):  # a pure wildcard reveals nothing
            facts.phi.append(phi_tags[el.tag])
        if el.tag == QUERY_RETRIEVE_LEVEL:
            facts.level = raw.decode("latin-1").strip() or None
        elif el.tag == SPECIFIC_CHARACTER_SET or el.tag & 0xFFFF == 0:
            continue
        elif not raw:
            facts.return_keys += 1
        elif not raw.strip(b"*?"):
            facts.wildcard_keys.append(keyword(el.tag))
        else:
            facts.restrictive_keys.append(keyword(el.tag))
    return facts
