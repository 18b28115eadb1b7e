"""Read the few identifiers the audit trail needs from a bare C-STORE data set (PS3.5 §7, §10).

Only Patient ID (0010,0020) and Study Instance UID (0020,000D) are read, stopping before any
later element; the values go to the audit trail (Patient ID hashed outside the ATNA message).
"""

from __future__ import annotations

import io
import logging
import struct

log = logging.getLogger("radguard.gateway")

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
_STUDY_UID_TAG = 0x0020000D


_PATIENT_ID_TAG = 0x00100020
#: explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 §7.1.2, Table 7.1-1)
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})


_EXPLICIT = struct.Struct("<HH2sH")  # group, element, VR, 2-byte length (PS3.5 §7.1.2)
_IMPLICIT = struct.Struct("<HHL")  # group, element, 4-byte length (PS3.5 §7.1.3)
_LONG_LENGTH = struct.Struct("<L")


def _walk(data: bytes, implicit: bool) -> tuple[str, str] | None:
    """Fast path: walk top-level little-endian elements up to (0020,000D); None when it cannot.

    One precompiled unpack per element: this runs for every relayed C-STORE (audit identifiers).
    """
    pos, n = 0, len(data)
    pid = study = ""
    unpack = _IMPLICIT.unpack_from if implicit else _EXPLICIT.unpack_from
    long_length = _LONG_LENGTH.unpack_from
    long_vrs = _LONG_VRS
    while pos + 8 <= n:
        if implicit:
            group, elem, length = unpack(data, pos)
            if group << 16 | elem > _STUDY_UID_TAG:
                break
            pos += 8
        else:
            group, elem, vr, length = unpack(data, pos)
            if group << 16 | elem > _STUDY_UID_TAG:
                break
            if vr in long_vrs:
                if pos + 12 > n:
                    return None
                length = long_length(data, pos + 8)[0]
                pos += 12
            else:
                pos += 8
        tag = group << 16 | elem
        if length == 0xFFFFFFFF:
            return None  # undefined length (sequence): let pydicom walk it
        if tag in (_PATIENT_ID_TAG, _STUDY_UID_TAG):
            if pos + length > n:
                return None
            value = data[pos:pos + length].decode("ascii", "replace").strip(" \x00")
            if tag == _PATIENT_ID_TAG:
                pid = value
            else:
                study = value
        pos += length
    return pid, study


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
