"""Closed vocabularies of DICOM audit messages (DICOM PS3.15 A.5.1.2, A.5.3; PS3.16 CID 400-405).

Every coded value is a ``(code, codeSystemName, originalText)`` triple, rendered as the
``CodedValueType`` of the A.5.1.1 schema.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    """A coded value: ``csd-code``, ``codeSystemName`` and ``originalText`` (PS3.15 A.5.1.1)."""

    code: str
    scheme: str
    meaning: str


class EventID(enum.Enum):
    """Audit event identifiers (PS3.16 CID 400 "Audit Event ID", PS3.15 A.5.3)."""

    APPLICATION_ACTIVITY = Code("110100", "DCM", "Application Activity")
    AUDIT_LOG_USED = Code("110101", "DCM", "Audit Log Used")
    BEGIN_TRANSFERRING = Code("110102", "DCM", "Begin Transferring DICOM Instances")
    INSTANCES_ACCESSED = Code("110103", "DCM", "DICOM Instances Accessed")
    INSTANCES_TRANSFERRED = Code("110104", "DCM", "DICOM Instances Transferred")
    STUDY_DELETED = Code("110105", "DCM", "DICOM Study Deleted")
    EXPORT = Code("110106", "DCM", "Export")
    IMPORT = Code("110107", "DCM", "Import")
    NETWORK_ENTRY = Code("110108", "DCM", "Network Entry")
    QUERY = Code("110112", "DCM", "Query")
    SECURITY_ALERT = Code("110113", "DCM", "Security Alert")
    USER_AUTHENTICATION = Code("110114", "DCM", "User Authentication")


class EventTypeCode(enum.Enum):
    """Audit event type codes (PS3.16 CID 401 "Audit Event Type Code")."""

    APPLICATION_START = Code("110120", "DCM", "Application Start")
    APPLICATION_STOP = Code("110121", "DCM", "Application Stop")
    LOGIN = Code("110122", "DCM", "Login")
    LOGOUT = Code("110123", "DCM", "Logout")
    ATTACH = Code("110124", "DCM", "Attach")
    DETACH = Code("110125", "DCM", "Detach")
    NODE_AUTHENTICATION = Code("110126", "DCM", "Node Authentication")
    EMERGENCY_OVERRIDE_STARTED = Code("110127", "DCM", "Emergency Override Started")
    NETWORK_CONFIGURATION = Code("110128", "DCM", "Network Configuration")
    SECURITY_CONFIGURATION = Code("110129", "DCM", "Security Configuration")
    SOFTWARE_CONFIGURATION = Code("110131", "DCM", "Software Configuration")
    USE_OF_RESTRICTED_FUNCTION = Code("110132", "DCM", "Use of Restricted Function")
    AUDIT_RECORDING_STOPPED = Code("110133", "DCM", "Audit Recording Stopped")
    AUDIT_RECORDING_STARTED = Code("110134", "DCM", "Audit Recording Started")
    OBJECT_SECURITY_ATTRIBUTES_CHANGED = Code("110135", "DCM", "Object Security Attributes Changed")
    SECURITY_ROLES_CHANGED = Code("110136", "DCM", "Security Roles Changed")
    USER_SECURITY_ATTRIBUTES_CHANGED = Code("110137", "DCM", "User security Attributes Changed")
    EMERGENCY_OVERRIDE_STOPPED = Code("110138", "DCM", "Emergency Override Stopped")


class RoleID(enum.Enum):
    """Active participant roles (PS3.16 CID 402 "Audit Active Participant Role ID Code")."""

    APPLICATION = Code("110150", "DCM", "Application")
    APPLICATION_LAUNCHER = Code("110151", "DCM", "Application Launcher")
    DESTINATION = Code("110152", "DCM", "Destination Role ID")
    SOURCE = Code("110153", "DCM", "Source Role ID")


class ObjectIDType(enum.Enum):
    """Participant object ID type codes (PS3.16 CID 404; RFC 3881 §5.5.4)."""

    PATIENT_NUMBER = Code("2", "RFC-3881", "Patient Number")
    STUDY_INSTANCE_UID = Code("110180", "DCM", "Study Instance UID")
    SOP_CLASS_UID = Code("110181", "DCM", "SOP Class UID")
    NODE_ID = Code("110182", "DCM", "Node ID")
    URI = Code("12", "RFC-3881", "URI")


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
