"""Audit trail: DICOM PS3.15 A.5 audit messages, RFC 5424 syslog (UDP/TCP/TLS), JSON Lines, FHIR.

- :mod:`.codes`: the coded vocabularies (event ids, event types, roles, object types).
- :mod:`.messages`: :class:`AuditRecord` and one builder per A.5.3 message; XML and JSON renderings.
- :mod:`.syslog`: RFC 5424 formatting and the UDP (RFC 5426), TCP (RFC 6587), TLS (RFC 5425) senders.
- :mod:`.trail`: :class:`AuditTrail`, the never-blocking observer with its disk spool.
- :mod:`.fhir`: FHIR R4 AuditEvent (IHE BALP) export.
"""

from pathlib import Path

#: the vendored PS3.15 A.5.1 schema (RELAX NG XML syntax), see schema/README.md
SCHEMA_PATH = Path(__file__).parent / "schema" / "audit-message.rng"
