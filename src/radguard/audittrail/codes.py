"""Closed vocabularies of DICOM audit messages (DICOM PS3.15 A.5.1.2, A.5.3; PS3.16 CID 400-405).

Every coded value is a ``(code, codeSystemName, originalText)`` triple, rendered as the
``CodedValueType`` of the A.5.1.1 schema. The PS3.16 tables are data (``codes.json``, with
their edition and source); the enums below name the codes radguard uses, each member's value
being its code, and :attr:`CodedEnum.coded` gives the whole triple.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Code:
    """A coded value: ``csd-code``, ``codeSystemName`` and ``originalText`` (PS3.15 A.5.1.1)."""

    code: str
    scheme: str
    meaning: str


def _load() -> dict[str, Code]:
    raw = json.loads(resources.files(__package__ or __name__).joinpath("codes.json").read_text("utf-8"))
    return {code: Code(code, scheme, meaning)
            for table in raw["tables"].values() for code, (scheme, meaning) in table["codes"].items()}


#: every code of the PS3.16 audit tables in ``codes.json``, by its value (unique across the tables)
CODES: Mapping[str, Code] = _load()


class CodedEnum(enum.Enum):
    """An enum of coded values: the member's value is the code, :attr:`coded` the whole triple."""

    _value_: str

    @property
    def coded(self) -> Code:
        """The ``(code, codeSystemName, originalText)`` of this member, from ``codes.json``."""
        return CODES[self._value_]


class EventID(CodedEnum):
    """Audit event identifiers (PS3.16 CID 400 "Audit Event ID", PS3.15 A.5.3)."""

    APPLICATION_ACTIVITY = "110100"
    AUDIT_LOG_USED = "110101"
    BEGIN_TRANSFERRING = "110102"
    INSTANCES_ACCESSED = "110103"
    INSTANCES_TRANSFERRED = "110104"
    STUDY_DELETED = "110105"
    EXPORT = "110106"
    IMPORT = "110107"
    NETWORK_ENTRY = "110108"
    QUERY = "110112"
    SECURITY_ALERT = "110113"
    USER_AUTHENTICATION = "110114"


class EventTypeCode(CodedEnum):
    """Audit event type codes (PS3.16 CID 401 "Audit Event Type Code")."""

    APPLICATION_START = "110120"
    APPLICATION_STOP = "110121"
    LOGIN = "110122"
    LOGOUT = "110123"
    ATTACH = "110124"
    DETACH = "110125"
    NODE_AUTHENTICATION = "110126"
    EMERGENCY_OVERRIDE_STARTED = "110127"
    NETWORK_CONFIGURATION = "110128"
    SECURITY_CONFIGURATION = "110129"
    SOFTWARE_CONFIGURATION = "110131"
    USE_OF_RESTRICTED_FUNCTION = "110132"
    AUDIT_RECORDING_STOPPED = "110133"
    AUDIT_RECORDING_STARTED = "110134"
    OBJECT_SECURITY_ATTRIBUTES_CHANGED = "110135"
    SECURITY_ROLES_CHANGED = "110136"
    USER_SECURITY_ATTRIBUTES_CHANGED = "110137"
    EMERGENCY_OVERRIDE_STOPPED = "110138"


class RoleID(CodedEnum):
    """Active participant roles (PS3.16 CID 402 "Audit Active Participant Role ID Code")."""

    APPLICATION = "110150"
    APPLICATION_LAUNCHER = "110151"
    DESTINATION = "110152"
    SOURCE = "110153"


class ObjectIDType(CodedEnum):
    """Participant object ID type codes (PS3.16 CID 404; RFC 3881 §5.5.4)."""

    PATIENT_NUMBER = "2"
    STUDY_INSTANCE_UID = "110180"
    SOP_CLASS_UID = "110181"
    NODE_ID = "110182"
    URI = "12"


class EventAction(enum.StrEnum):
    """``EventActionCode`` (PS3.15 A.5.1.1)."""

    CREATE = "C"
    READ = "R"
    UPDATE = "U"
    DELETE = "D"
    EXECUTE = "E"


class Outcome(enum.StrEnum):
    """``EventOutcomeIndicator`` (PS3.15 A.5.1.1)."""

    SUCCESS = "0"
    MINOR_FAILURE = "4"
    SERIOUS_FAILURE = "8"
    MAJOR_FAILURE = "12"


class AccessPointType(enum.StrEnum):
    """``NetworkAccessPointTypeCode`` (PS3.15 A.5.1.1)."""

    MACHINE_NAME = "1"
    IP_ADDRESS = "2"


class ObjectType(enum.StrEnum):
    """``ParticipantObjectTypeCode`` (PS3.15 A.5.1.1)."""

    PERSON = "1"
    SYSTEM_OBJECT = "2"
    ORGANIZATION = "3"
    OTHER = "4"


class ObjectRole(enum.StrEnum):
    """``ParticipantObjectTypeCodeRole`` (PS3.15 A.5.1.2.2), the values radguard uses."""

    PATIENT = "1"
    REPORT = "3"
    RESOURCE = "4"
    USER = "6"
    SECURITY_RESOURCE = "13"
    QUERY = "24"


class AuditSourceType(enum.StrEnum):
    """``AuditSourceTypeCode`` (PS3.15 A.5.1.2.1)."""

    APPLICATION_SERVER = "4"
    SECURITY_SERVER = "6"
    NETWORK_COMPONENT = "7"
