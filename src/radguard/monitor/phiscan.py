"""What a DICOM data set crossing the wire reveals, without keeping any value: PHI attributes
present (by keyword, counted) and, for query identifiers, which keys restrict the query
(PS3.4 §C.2.2.2 matching: universal, wildcard, single value, range)."""

from __future__ import annotations

from dataclasses import dataclass, field

from radguard.dicom import dataset
from radguard.dicom.dataset import keyword
from radguard.dicom.uids import INSTANCE_UID_TAGS
from radguard.phi import PHI_TAGS

QUERY_RETRIEVE_LEVEL = 0x00080052
SPECIFIC_CHARACTER_SET = 0x00080005
#: only the head of a data set is examined: PHI and query keys live in groups 0008-0020
HEAD_GROUP_LIMIT = 0x0020
PATIENT_GROUP = 0x0010
#: how many bytes of each data set the monitor keeps to examine
HEAD_BYTES = 64 * 1024
#: bytes of a head the compiled walk reads (:func:`_walk`), a few then more: it makes every element it
#: reads, and the groups up to 0020 usually end within the first kilobyte
FAST_PREFIXES = (1024, 16 * 1024)


@dataclass
class DatasetFacts:
    """Facts about one data set head: PHI keywords with a non-empty value, query keys, damage."""

    phi: list[str] = field(default_factory=list)
    level: str | None = None
    restrictive_keys: list[str] = field(default_factory=list)
    wildcard_keys: list[str] = field(default_factory=list)
    return_keys: int = 0
    malformed: bool = False
    #: Study/Series/SOP Instance UIDs the data set names (kept only as keyed hashes in records: honeytokens)
    uids: list[str] = field(default_factory=list)

    @property
    def broad_query(self) -> bool:
        """No key narrows the match (only universal or pure-wildcard keys): matches everything at its level."""
        return not self.restrictive_keys


def _looks_explicit(data: bytes) -> bool:
    return len(data) >= 6 and 65 <= data[4] <= 90 and 65 <= data[5] <= 90


def _walk(head: bytes, implicit: bool, limit: int) -> tuple[list[dataset.Element], bool]:
    """``dataset.walk(head, implicit=implicit, stop_after_group=limit)``, the usual head read by the compiled
    strict walk over its first :data:`FAST_PREFIXES` bytes: when that walk reaches a group above ``limit``
    through defined-length elements only, the lenient walk would have read the same elements (strict
    accepts less) and stopped there. Anything else is read by the lenient walk itself."""
    fast = dataset.speedups
    for prefix in FAST_PREFIXES if fast is not None else ():
        run: list[dataset.Element] = []
        fast.walk(memoryview(head)[:prefix], 0, not implicit, True, -1, run, dataset.Element)
        for i, el in enumerate(run):
            if el.undefined:
                return dataset.walk(head, implicit=implicit, stop_after_group=limit)
            if el.tag >> 16 > limit:
                dataset.begin_parse()
                return run[:i], True
        if len(head) <= prefix:
            break
    return dataset.walk(head, implicit=implicit, stop_after_group=limit)


def examine(head: bytes, implicit: bool | None, complete: bool, *, query: bool = True) -> DatasetFacts:
    """Examine the head of a data set (``complete``: the whole data set is in ``head``).

    ``query``: also classify the keys of a query identifier; without it only PHI attributes are
    looked at (and the walk stops after the patient group 0010).
    """
    if implicit is None:
        implicit = not _looks_explicit(head)
    limit = HEAD_GROUP_LIMIT if query else PATIENT_GROUP
    elements, ok = _walk(head, implicit, limit)
    facts = DatasetFacts(malformed=not ok and complete)
    phi_tags = PHI_TAGS
    if not query:
        for el in elements:
            if el.tag in phi_tags and el.length != dataset.UNDEFINED and dataset.value(head, el).strip(b" \x00*?"):
                facts.phi.append(phi_tags[el.tag])
        return facts
    for el in elements:
        if el.length == dataset.UNDEFINED or el.vr == "SQ":
            continue  # sequence matching: neither a PHI value nor a simple key
        raw = dataset.value(head, el).strip(b" \x00")
        if el.tag in phi_tags and raw.strip(b"*?"):  # a pure wildcard reveals nothing
            facts.phi.append(phi_tags[el.tag])
        if el.tag in INSTANCE_UID_TAGS and raw:
            facts.uids.extend(u for u in raw.decode("latin-1").split("\\") if u.strip(" \x00*?"))
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
