"""radguard's exception tree.

Library errors (pydicom, SQLAlchemy, OSError, ...) are translated into these at
module boundaries. The CLI turns a :class:`UsageError` or any other
:class:`RadguardError` that escapes a command into exit code 2 with a one-line
message; nothing else reaches the user as a traceback.
"""


class RadguardError(Exception):
    """Base of every error radguard raises on purpose."""


class UsageError(RadguardError):
    """The command as a whole cannot run: bad arguments, unreadable config (exit 2)."""


class ConfigError(UsageError):
    """A configuration file is missing, unreadable or invalid."""


class StoreError(RadguardError):
    """The store (database) is unreachable or its schema cannot be brought up to date."""


class ProtocolError(RadguardError):
    """A peer sent bytes that violate the DICOM upper layer or DIMSE protocol."""


class DicomFileError(RadguardError):
    """A file is not readable as DICOM (used per file: it becomes a finding, not an exit)."""
