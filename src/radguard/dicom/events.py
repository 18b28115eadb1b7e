"""Events produced by :class:`radguard.dicom.ul.UpperLayer` (PS3.8 §7 service primitives, as seen by one side).

Every event carries ``from_requestor``: for an OBSERVER, which side sent the PDU; for a
REQUESTOR or ACCEPTOR, whether the peer that sent it is the requestor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from radguard.dicom.dimse import Command
from radguard.dicom.pdu import Abort, AssociateAccept, AssociateReject, AssociateRequest


@dataclass(kw_only=True)
class UpperLayerEvent:
    """Base of every upper-layer event."""

    from_requestor: bool | None = None


@dataclass
class AssociateRequested(UpperLayerEvent):
    """An A-ASSOCIATE-RQ arrived (A-ASSOCIATE indication, PS3.8 §7.1)."""

    pdu: AssociateRequest


@dataclass
class AssociateAccepted(UpperLayerEvent):
    """An A-ASSOCIATE-AC arrived (A-ASSOCIATE confirmation, accepted)."""

    pdu: AssociateAccept


@dataclass
class AssociateRejected(UpperLayerEvent):
    """An A-ASSOCIATE-RJ arrived (A-ASSOCIATE confirmation, rejected)."""

    pdu: AssociateReject


@dataclass
class CommandReceived(UpperLayerEvent):
    """A DIMSE command set is complete (its last fragment arrived; PS3.8 Annex E.2)."""

    context_id: int
    command: Command
    raw: bytes = field(repr=False)
    #: the whole P-DATA-TF PDU (header included) when the command set came in one PDU holding only
    #: it and the UpperLayer keeps wire bytes (``keep_wire``): a relay may forward it untouched
    wire: bytes | None = field(default=None, repr=False)


@dataclass
class DataChunk(UpperLayerEvent):
    """A fragment of the data set that follows the last command (stream it; PS3.8 Annex E.2)."""

    context_id: int
    data: bytes = field(repr=False)
    last: bool
    #: the whole P-DATA-TF PDU (header included) when this fragment was its only PDV and the
    #: UpperLayer keeps wire bytes (``keep_wire``): a relay may forward it untouched
    wire: bytes | None = field(default=None, repr=False)


@dataclass
class ReleaseRequested(UpperLayerEvent):
    """An A-RELEASE-RQ arrived (PS3.8 §7.2)."""


@dataclass
class ReleaseConfirmed(UpperLayerEvent):
    """An A-RELEASE-RP arrived (PS3.8 §7.2)."""


@dataclass
class Aborted(UpperLayerEvent):
    """An A-ABORT arrived (PS3.8 §7.3, §7.4)."""

    pdu: Abort


@dataclass
class ProtocolViolation(UpperLayerEvent):
    """Malformed or unexpected input (PS3.8 §9.2 state table "AA" actions); the machine is now closed.

    ``offset`` is the byte offset, in the sender's stream, of the PDU at fault.
    """

    message: str
    offset: int


Event = (AssociateRequested | AssociateAccepted | AssociateRejected | CommandReceived | DataChunk
         | ReleaseRequested | ReleaseConfirmed | Aborted | ProtocolViolation)
