"""Hostile acts of a connection that never became an association (PS3.8 §9.1: before the A-ASSOCIATE-RQ).

The relay and the server tell them on the bus as :class:`~radguard.gateway.bus.HostileConnection`; the audit
addon writes them as Security Alerts folded per source (:mod:`radguard.audittrail.fold`).
"""

from __future__ import annotations

import enum
import struct

from radguard.dicom.enums import PDUType


class Hostility(enum.StrEnum):
    """What a connection did before (instead of) associating."""

    #: the first bytes are no PDU at all (an HTTP request, random bytes: PS3.8 §9.3.1 types 1 to 7 only)
    NOT_DICOM = "not-dicom"
    #: a PDU header announcing more bytes than the gateway accepts (refused before buffering)
    OVERSIZED_PDU = "oversized-pdu"
    #: a P-DATA-TF before any association (PS3.8 §9.2, state Sta2)
    PDATA_BEFORE_ASSOCIATION = "p-data-before-association"
    #: another PDU out of place or malformed before the association
    MALFORMED_PDU = "malformed-pdu"
    #: bytes then the connection closed, without a whole PDU
    INCOMPLETE_PDU = "incomplete-pdu"
    #: no A-ASSOCIATE-RQ within the ARTIM timeout (PS3.8 §9.1.5; a slowloris)
    ARTIM_TIMEOUT = "artim-timeout"
    #: dropped at once: too many connections from the host without an association
    PENDING_LIMIT = "pending-limit"
    # on the DICOM TLS port (PS3.15 B.1), before the TLS handshake is complete:
    #: the first bytes are no TLS handshake record and no PDU (RFC 8446 §5.1)
    NOT_TLS = "not-tls"
    #: a DICOM PDU in clear (an A-ASSOCIATE-RQ of a client without TLS) on the TLS port
    CLEARTEXT_ON_TLS = "cleartext-dicom-on-tls"
    #: mutual TLS required (``tls_client_ca``) and the client presented no certificate
    TLS_NO_CERTIFICATE = "tls-no-client-certificate"
    #: the client's certificate does not verify against ``tls_client_ca`` (unknown CA, expired, ...)
    TLS_UNTRUSTED_CERTIFICATE = "tls-untrusted-certificate"
    #: no common protocol version or cipher suite (an old or downgraded client, BCP 195)
    TLS_MISMATCH = "tls-version-or-cipher-mismatch"
    #: another failure of the handshake (an alert from the client, a close half-way)
    TLS_HANDSHAKE_FAILED = "tls-handshake-failed"
    #: no complete TLS handshake within the ARTIM timeout (PS3.8 §9.1.5), counted from the connection
    TLS_HANDSHAKE_TIMEOUT = "tls-handshake-timeout"


_HEADER = struct.Struct(">BxL")


def classify(head: bytes, length_guard: int) -> Hostility:
    """The kind of a protocol violation before association, from the first bytes the connection sent."""
    if len(head) < _HEADER.size:
        return Hostility.MALFORMED_PDU
    pdu_type, length = _HEADER.unpack_from(head)
    if pdu_type not in PDUType._value2member_map_:
        return Hostility.NOT_DICOM
    if length > length_guard:
        return Hostility.OVERSIZED_PDU
    if pdu_type == PDUType.P_DATA_TF:
        return Hostility.PDATA_BEFORE_ASSOCIATION
    return Hostility.MALFORMED_PDU
