"""Closed vocabularies of the DICOM upper layer and DIMSE, as enums.

Sources: DICOM PS3.8 §9.3 (PDU fields: reject, abort and presentation-context
result codes), PS3.7 §9.3 / §E.1 (command fields, priorities, data-set type) and
PS3.7 Annex C (status classes).
"""

from __future__ import annotations

import enum


class PDUType(enum.IntEnum):
    """PDU types (PS3.8 §9.3.1, Table 9-11 et seq.)."""

    ASSOCIATE_RQ = 0x01
    ASSOCIATE_AC = 0x02
    ASSOCIATE_RJ = 0x03
    P_DATA_TF = 0x04
    RELEASE_RQ = 0x05
    RELEASE_RP = 0x06
    ABORT = 0x07


class ItemType(enum.IntEnum):
    """Variable items and user-information sub-items (PS3.8 §9.3.2.2-9.3.3.3, PS3.7 Annex D.3.3)."""

    APPLICATION_CONTEXT = 0x10
    PRESENTATION_CONTEXT_RQ = 0x20
    PRESENTATION_CONTEXT_AC = 0x21
    ABSTRACT_SYNTAX = 0x30
    TRANSFER_SYNTAX = 0x40
    USER_INFORMATION = 0x50
    MAXIMUM_LENGTH = 0x51
    IMPLEMENTATION_CLASS_UID = 0x52
    ASYNCHRONOUS_OPERATIONS_WINDOW = 0x53
    ROLE_SELECTION = 0x54
    IMPLEMENTATION_VERSION_NAME = 0x55
    SOP_CLASS_EXTENDED_NEGOTIATION = 0x56
    SOP_CLASS_COMMON_EXTENDED_NEGOTIATION = 0x57
    USER_IDENTITY_RQ = 0x58
    USER_IDENTITY_AC = 0x59


class RejectResult(enum.IntEnum):
    """A-ASSOCIATE-RJ result (PS3.8 §9.3.4, Table 9-21)."""

    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class RejectSource(enum.IntEnum):
    """A-ASSOCIATE-RJ source (PS3.8 §9.3.4)."""

    SERVICE_USER = 1
    SERVICE_PROVIDER_ACSE = 2
    SERVICE_PROVIDER_PRESENTATION = 3


class RejectReason(enum.IntEnum):
    """A-ASSOCIATE-RJ reason when the source is the service user (PS3.8 §9.3.4, source 1)."""

    NO_REASON = 1
    APPLICATION_CONTEXT_NOT_SUPPORTED = 2
    CALLING_AE_NOT_RECOGNIZED = 3
    CALLED_AE_NOT_RECOGNIZED = 7


class RejectReasonACSE(enum.IntEnum):
    """A-ASSOCIATE-RJ reason when the source is the ACSE service provider (source 2)."""

    NO_REASON = 1
    PROTOCOL_VERSION_NOT_SUPPORTED = 2


class RejectReasonPresentation(enum.IntEnum):
    """A-ASSOCIATE-RJ reason when the source is the presentation service provider (source 3)."""

    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2


def reject_reason_name(source: int, reason: int) -> str:
    """Name a reject reason, which depends on the source (PS3.8 §9.3.4); unknown values as ``reason-N``."""
    table: type[enum.IntEnum] | None = {
        RejectSource.SERVICE_USER: RejectReason,
        RejectSource.SERVICE_PROVIDER_ACSE: RejectReasonACSE,
        RejectSource.SERVICE_PROVIDER_PRESENTATION: RejectReasonPresentation,
    }.get(source)  # type: ignore[call-overload]
    if table is not None:
        try:
            return table(reason).name.lower().replace("_", "-")
        except ValueError:
            pass
    return f"reason-{reason}"


class AbortSource(enum.IntEnum):
    """A-ABORT source (PS3.8 §9.3.8, Table 9-26)."""

    SERVICE_USER = 0
    RESERVED = 1
    SERVICE_PROVIDER = 2


class AbortReason(enum.IntEnum):
    """A-ABORT reason, meaningful when the source is the service provider (PS3.8 §9.3.8)."""

    NOT_SPECIFIED = 0
    UNRECOGNIZED_PDU = 1
    UNEXPECTED_PDU = 2
    RESERVED = 3
    UNRECOGNIZED_PDU_PARAMETER = 4
    UNEXPECTED_PDU_PARAMETER = 5
    INVALID_PDU_PARAMETER_VALUE = 6


class ContextResult(enum.IntEnum):
    """Presentation context result/reason in an A-ASSOCIATE-AC (PS3.8 §9.3.3.2, Table 9-18)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    NO_REASON = 2
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


class UserIdentityType(enum.IntEnum):
    """User identity negotiation type (PS3.7 §D.3.3.7, Table D.3-14)."""

    USERNAME = 1
    USERNAME_AND_PASSCODE = 2
    KERBEROS = 3
    SAML = 4
    JWT = 5


class CommandField(enum.IntEnum):
    """DIMSE command field (0000,0100) values (PS3.7 §E.1, Table E.1-1)."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_GET_RQ = 0x0010
    C_GET_RSP = 0x8010
    C_FIND_RQ = 0x0020
    C_FIND_RSP = 0x8020
    C_MOVE_RQ = 0x0021
    C_MOVE_RSP = 0x8021
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030
    N_EVENT_REPORT_RQ = 0x0100
    N_EVENT_REPORT_RSP = 0x8100
    N_GET_RQ = 0x0110
    N_GET_RSP = 0x8110
    N_SET_RQ = 0x0120
    N_SET_RSP = 0x8120
    N_ACTION_RQ = 0x0130
    N_ACTION_RSP = 0x8130
    N_CREATE_RQ = 0x0140
    N_CREATE_RSP = 0x8140
    N_DELETE_RQ = 0x0150
    N_DELETE_RSP = 0x8150
    C_CANCEL_RQ = 0x0FFF

    @property
    def service(self) -> str:
        """The DIMSE service name, e.g. ``"C-STORE"`` (C-CANCEL for the cancel request)."""
        return _SERVICES[self]

    @property
    def is_request(self) -> bool:
        """True for requests (the high bit 0x8000 marks responses)."""
        return not self.value & 0x8000

    @property
    def response(self) -> CommandField:
        """The response command matching this request (C-CANCEL has none: itself)."""
        if self is CommandField.C_CANCEL_RQ or not self.is_request:
            return self
        return CommandField(self.value | 0x8000)


#: CommandField.service of every member, computed once (it is read for every DIMSE message a monitor sees)
_SERVICES = {cf: cf.name.rsplit("_", 1)[0].replace("_", "-") for cf in CommandField}


class Priority(enum.IntEnum):
    """DIMSE priority (0000,0700) (PS3.7 §9.3.1.1)."""

    MEDIUM = 0x0000
    HIGH = 0x0001
    LOW = 0x0002


#: Command Data Set Type (0000,0800) value meaning "no data set" (PS3.7 §E.1); any other value means one follows.
NO_DATASET = 0x0101


class Status(enum.IntEnum):
    """Well-known DIMSE status codes (PS3.7 Annex C and the service classes of PS3.4)."""

    SUCCESS = 0x0000
    WARNING_ATTRIBUTE_LIST_ERROR = 0x0107
    WARNING_ATTRIBUTE_VALUE_OUT_OF_RANGE = 0x0116
    PROCESSING_FAILURE = 0x0110
    DUPLICATE_SOP_INSTANCE = 0x0111
    NO_SUCH_SOP_INSTANCE = 0x0112
    NO_SUCH_ATTRIBUTE = 0x0105
    INVALID_ATTRIBUTE_VALUE = 0x0106
    NO_SUCH_SOP_CLASS = 0x0118
    CLASS_INSTANCE_CONFLICT = 0x0119
    MISSING_ATTRIBUTE = 0x0120
    SOP_CLASS_NOT_SUPPORTED = 0x0122
    NOT_AUTHORIZED = 0x0124
    DUPLICATE_INVOCATION = 0x0210
    UNRECOGNIZED_OPERATION = 0x0211
    MISTYPED_ARGUMENT = 0x0212
    RESOURCE_LIMITATION = 0x0213
    OUT_OF_RESOURCES = 0xA700
    OUT_OF_RESOURCES_MATCHES = 0xA701
    OUT_OF_RESOURCES_SUB_OPERATIONS = 0xA702
    MOVE_DESTINATION_UNKNOWN = 0xA801
    IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900
    WARNING_COERCION = 0xB000
    WARNING_DATASET_MISMATCH = 0xB007
    WARNING_ELEMENTS_DISCARDED = 0xB006
    CANNOT_UNDERSTAND = 0xC000
    CANCEL = 0xFE00
    PENDING = 0xFF00
    PENDING_WARNING = 0xFF01


class StatusCategory(enum.Enum):
    """Status class of a DIMSE status code (PS3.7 Annex C)."""

    SUCCESS = "success"
    PENDING = "pending"
    CANCEL = "cancel"
    WARNING = "warning"
    FAILURE = "failure"


_WARNING_CODES = frozenset({0x0001, 0x0107, 0x0116})


def status_category(code: int) -> StatusCategory:
    """Classify a status code (PS3.7 Annex C: C.1 success, C.2 pending, C.3 cancel, C.4 warning, C.5 failure)."""
    if code == 0x0000:
        return StatusCategory.SUCCESS
    if code in (0xFF00, 0xFF01):
        return StatusCategory.PENDING
    if code == 0xFE00:
        return StatusCategory.CANCEL
    if code in _WARNING_CODES or 0xB000 <= code <= 0xBFFF:
        return StatusCategory.WARNING
    return StatusCategory.FAILURE
