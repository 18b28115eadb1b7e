"""Read the few identifiers the audit trail needs from a bare C-STORE data set (PS3.5 §7, §10).

Only Patient ID (0010,0020) and Study Instance UID (0020,000D) are read, stopping before any
later element; the values go to the audit trail (Patient ID hashed outside the ATNA message).
"""

from __future__ import annotations

import io
import logging
import struct

from radguard.dicom import dataset as scan

log = logging.getLogger("radguard.gateway")

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
_STUDY_UID_TAG = 0x0020000D


_PATIENT_ID_TAG = 0x00100020
_WANTED = frozenset({_PATIENT_ID_TAG, _STUDY_UID_TAG})


def _walk(data: bytes, implicit: bool) -> tuple[str, str] | None:
    """Fast path over the shared walker (:func:`radguard.dicom.dataset.find`); None when it cannot answer."""
    found = scan.find(data, _WANTED, implicit=implicit)
    if found is None:
        return None
    def text(tag: int) -> str:
        return found.get(tag, b"").decode("ascii", "replace").strip(" \x00")

    return text(_PATIENT_ID_TAG), text(_STUDY_UID_TAG)


def identifiers(data: bytes, transfer_syntax: str) -> tuple[str, str]:
    """(Patient ID, Study Instance UID) of a bare data set; empty strings when unreadable."""
    if transfer_syntax == DEFLATED:
        return "", ""
    if transfer_syntax != EXPLICIT_VR_BIG_ENDIAN:
        try:
            fast = _walk(data, transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN)
        except struct.error:
            fast = None
        if fast is not None:
            return fast
    try:
        from pydicom.filereader import read_dataset

        ds = read_dataset(
            io.BytesIO(data),
            transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN,
            transfer_syntax != EXPLICIT_VR_BIG_ENDIAN,
            stop_when=lambda tag, vr, length: int(tag) > _STUDY_UID_TAG,
        )
        return str(ds.get("PatientID", "") or ""), str(ds.get("StudyInstanceUID", "") or "")
    except Exception as exc:
        log.debug("cannot read identifiers: %s", type(exc).__name__)
        return "", ""


def query_keys(data: bytes, transfer_syntax: str, limit: int = 64) -> tuple[str, ...]:
    """Keywords of the attributes in a query identifier (values are never returned)."""
    if transfer_syntax == DEFLATED:
        return ()
    try:
        from pydicom.datadict import keyword_for_tag
        from pydicom.filereader import read_dataset

        ds = read_dataset(io.BytesIO(data), transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN,
                          transfer_syntax != EXPLICIT_VR_BIG_ENDIAN)
        keys = [keyword_for_tag(elem.tag) or f"({elem.tag.group:04X},{elem.tag.element:04X})" for elem in ds]
        return tuple(keys[:limit])
    except Exception as exc:
        log.debug("cannot read query identifier: %s", type(exc).__name__)
        return ()
