"""What the audit trail needs from a data set the gateway relays, read by the one data-set walker
(:mod:`radguard.dicom.dataset`, PS3.5 §7) in the negotiated transfer syntax (PS3.5 §10).

- :func:`identifiers`: Patient ID (0010,0020) and Study Instance UID (0020,000D) of a C-STORE data set,
  stopping before any later element; the values go to the audit trail (Patient ID hashed outside
  the ATNA message). :func:`identifiers_from` reads them from a data set already parsed (the
  inspection's :class:`~radguard.dicom.part10.Part10`), so that it is not parsed twice.
- :func:`query_keys`: the keywords of a query identifier's attributes, never their values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radguard.dicom import dataset
from radguard.dicom.uids import TransferSyntax

if TYPE_CHECKING:
    from radguard.dicom.part10 import Part10

_PATIENT_ID_TAG = 0x00100020
_STUDY_UID_TAG = 0x0020000D
_WANTED = frozenset({_PATIENT_ID_TAG, _STUDY_UID_TAG})


def _walk(data: bytes, implicit: bool, little: bool = True) -> tuple[str, str] | None:
    """(Patient ID, Study Instance UID) by :func:`radguard.dicom.dataset.find`; None when the head is damaged."""
    found = dataset.find(data, _WANTED, implicit=implicit, little=little)
    if found is None:
        return None

    def text(tag: int) -> str:
        return found.get(tag, b"").decode("ascii", "replace").strip(" \x00")

    return text(_PATIENT_ID_TAG), text(_STUDY_UID_TAG)


def identifiers(data: bytes, transfer_syntax: str) -> tuple[str, str]:
    """(Patient ID, Study Instance UID) of a bare data set; empty strings when unreadable (or deflated).

    ``data`` may be the head of the data set only (what the relay captured): a value cut short is
    read as far as it goes.
    """
    explicit, little, deflated = TransferSyntax.encoding(transfer_syntax)
    if deflated:
        return "", ""
    return _walk(data, not explicit, little) or ("", "")


def identifiers_from(part10: Part10) -> tuple[str, str]:
    """(Patient ID, Study Instance UID) of a data set parsed by :func:`radguard.dicom.part10.parse`, without
    walking it again; empty strings where absent, or for a deflated data set (as :func:`identifiers`).

    Equal to :func:`identifiers` of the same whole data set unless the walk stopped on damage before the tags.
    """
    if part10.deflated:
        return "", ""
    return part10.text(_PATIENT_ID_TAG) or "", part10.text(_STUDY_UID_TAG) or ""


def query_keys(data: bytes, transfer_syntax: str, limit: int = 64) -> tuple[str, ...]:
    """Keywords of the attributes in a query identifier, in tag order (values are never returned).

    Read as far as the identifier walks (an element cut short counts; damage ends the list); empty
    when deflated.
    """
    explicit, little, deflated = TransferSyntax.encoding(transfer_syntax)
    if deflated:
        return ()
    elements, _complete = dataset.walk(data, implicit=not explicit, little=little)
    return tuple(dataset.keyword(tag) for tag in sorted({e.tag for e in elements})[:limit])
