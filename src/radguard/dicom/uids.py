"""Well-known DICOM UIDs used by radguard (PS3.6 Annex A, PS3.4 service classes).

Only the handful radguard needs by name; anything else is handled as a plain string.
"""

from __future__ import annotations

import enum

#: radguard's own implementation class UID (a UUID-derived UID under 2.25, PS3.5 §B.2)
RADGUARD_IMPLEMENTATION_CLASS_UID = "2.25.96849595544810456349399429364676876833"
#: implementation version name sent in A-ASSOCIATE (PS3.7 §D.3.3.2.2: at most 16 characters)
RADGUARD_IMPLEMENTATION_VERSION = "RADGUARD_010"

#: DICOM application context name (PS3.7 Annex A.2.1)
APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"


class TransferSyntax(enum.StrEnum):
    """The transfer syntaxes radguard names (PS3.5 §10, PS3.6 Annex A): radguard's one table of them.

    Members are ``str`` (the UID); :meth:`encoding` gives the data set encoding of any UID.
    """

    IMPLICIT_LE = "1.2.840.10008.1.2"  # implicit VR little endian, the default (PS3.5 §10.1)
    EXPLICIT_LE = "1.2.840.10008.1.2.1"  # explicit VR little endian (PS3.5 §A.2)
    DEFLATED_LE = "1.2.840.10008.1.2.1.99"  # deflated explicit VR little endian (PS3.5 §A.5)
    EXPLICIT_BE = "1.2.840.10008.1.2.2"  # explicit VR big endian, retired (PS3.5 §A.3)
    JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
    JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
    JPEG_2000_LOSSLESS = "1.2.840.10008.1.2.4.90"
    RLE_LOSSLESS = "1.2.840.10008.1.2.5"

    @staticmethod
    def encoding(uid: str) -> tuple[bool, bool, bool]:
        """(explicit VR, little endian, deflated) of a transfer syntax UID.

        Every UID but the three native exceptions encodes its data set as explicit VR little endian
        (PS3.5 §10, §A.4: encapsulated transfer syntaxes too); unknown UIDs are read that way.
        """
        if uid == TransferSyntax.IMPLICIT_LE:
            return False, True, False
        if uid == TransferSyntax.EXPLICIT_BE:
            return True, False, False
        if uid == TransferSyntax.DEFLATED_LE:
            return True, True, True
        return True, True, False


#: the two members every peer proposes, under the names used across radguard and its tests (aliases, not copies)
IMPLICIT_VR_LITTLE_ENDIAN = TransferSyntax.IMPLICIT_LE
EXPLICIT_VR_LITTLE_ENDIAN = TransferSyntax.EXPLICIT_LE

# verification and query/retrieve (PS3.4 Annex A, C)
VERIFICATION = "1.2.840.10008.1.1"
PATIENT_ROOT_QR_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
PATIENT_ROOT_QR_MOVE = "1.2.840.10008.5.1.4.1.2.1.2"
PATIENT_ROOT_QR_GET = "1.2.840.10008.5.1.4.1.2.1.3"
STUDY_ROOT_QR_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_QR_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_QR_GET = "1.2.840.10008.5.1.4.1.2.2.3"
PATIENT_STUDY_ONLY_QR_FIND = "1.2.840.10008.5.1.4.1.2.3.1"
PATIENT_STUDY_ONLY_QR_MOVE = "1.2.840.10008.5.1.4.1.2.3.2"
PATIENT_STUDY_ONLY_QR_GET = "1.2.840.10008.5.1.4.1.2.3.3"
# worklist, MPPS, storage commitment (PS3.4 Annex K, F, J)
MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
MODALITY_PERFORMED_PROCEDURE_STEP = "1.2.840.10008.3.1.2.3.3"
STORAGE_COMMITMENT_PUSH_MODEL = "1.2.840.10008.1.20.1"
STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE = "1.2.840.10008.1.20.1.1"

# a few storage SOP classes (PS3.4 Annex B)
CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_IMAGE_STORAGE_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
DIGITAL_MAMMOGRAPHY_STORAGE_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
US_MULTIFRAME_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
SECONDARY_CAPTURE_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
XA_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.12.1"
NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
RT_PLAN_STORAGE = "1.2.840.10008.5.1.4.1.1.481.5"
PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
BASIC_TEXT_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.11"
ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"

#: storage SOP classes named above (a convenience set, not the full PS3.4 Table B.5-1)
COMMON_STORAGE_SOP_CLASSES: tuple[str, ...] = (
    CR_IMAGE_STORAGE, DX_IMAGE_STORAGE_PRESENTATION, DIGITAL_MAMMOGRAPHY_STORAGE_PRESENTATION, CT_IMAGE_STORAGE,
    ENHANCED_CT_IMAGE_STORAGE, US_MULTIFRAME_IMAGE_STORAGE, MR_IMAGE_STORAGE, ENHANCED_MR_IMAGE_STORAGE,
    US_IMAGE_STORAGE, SECONDARY_CAPTURE_IMAGE_STORAGE, XA_IMAGE_STORAGE, NM_IMAGE_STORAGE, RT_DOSE_STORAGE,
    RT_STRUCTURE_SET_STORAGE, RT_PLAN_STORAGE, PET_IMAGE_STORAGE, BASIC_TEXT_SR_STORAGE, ENCAPSULATED_PDF_STORAGE,
)

QUERY_FIND_SOP_CLASSES: tuple[str, ...] = (
    PATIENT_ROOT_QR_FIND, STUDY_ROOT_QR_FIND, PATIENT_STUDY_ONLY_QR_FIND, MODALITY_WORKLIST_FIND,
)
RETRIEVE_MOVE_SOP_CLASSES: tuple[str, ...] = (PATIENT_ROOT_QR_MOVE, STUDY_ROOT_QR_MOVE, PATIENT_STUDY_ONLY_QR_MOVE)
RETRIEVE_GET_SOP_CLASSES: tuple[str, ...] = (PATIENT_ROOT_QR_GET, STUDY_ROOT_QR_GET, PATIENT_STUDY_ONLY_QR_GET)


def is_storage_sop_class(uid: str) -> bool:
    """True for UIDs under the storage SOP class arc 1.2.840.10008.5.1.4.1.1 (PS3.4 Annex B)."""
    return uid.startswith("1.2.840.10008.5.1.4.1.1.")


#: the attributes that name a study, series or instance (PS3.6): Study, Series and SOP Instance UID
STUDY_INSTANCE_UID_TAG = 0x0020000D
SERIES_INSTANCE_UID_TAG = 0x0020000E
SOP_INSTANCE_UID_TAG = 0x00080018
INSTANCE_UID_TAGS = frozenset({STUDY_INSTANCE_UID_TAG, SERIES_INSTANCE_UID_TAG, SOP_INSTANCE_UID_TAG})


def dataset_uids(data: bytes, *, implicit: bool) -> frozenset[str]:
    """The Study, Series and SOP Instance UIDs a data set names (a query or retrieve identifier may list
    several, separated by backslashes: PS3.4 §C.2.2.2.2 list of UID matching); empty when it names none or
    is damaged before them."""
    from radguard.dicom.dataset import find

    found = find(data, INSTANCE_UID_TAGS, implicit=implicit) or {}
    out: set[str] = set()
    for raw in found.values():
        for part in raw.decode("latin-1").split("\\"):
            uid = part.strip(" \x00")
            if uid and "*" not in uid and "?" not in uid:
                out.add(uid)
    return frozenset(out)
