"""The gateway's event bus: what happened, told to whoever listens (audit records, statistics).

The relay, the association and the server publish small immutable events; observers subscribe to the
kinds they care about. An observer is a notification, not a decision (pynetdicom's notification vs
intervention events): its exception is logged and the flow goes on. Decisions are the policy engine's
hooks (:mod:`radguard.gateway.policy`), which fail closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from radguard.gateway.hostile import Hostility
from radguard.gateway.pieces import End
from radguard.gateway.policy import AssociationInfo

log = logging.getLogger("radguard.gateway")

E = TypeVar("E")


class EventBus:
    """Deliver each published event to the handlers subscribed to its type, in subscription order."""

    __slots__ = ("_handlers",)

    def __init__(self) -> None:
        self._handlers: dict[type, list[Callable[[Any], None]]] = {}

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        """Call ``handler`` with every event of type ``kind`` (exactly that type, not subclasses)."""
        self._handlers.setdefault(kind, []).append(handler)

    def publish(self, event: object) -> None:
        """Tell the subscribers; an observer's error is logged, never raised (observers never break the flow)."""
        for handler in self._handlers.get(type(event), ()):
            try:
                handler(event)
            except Exception:
                log.exception("observer %s failed on %s (flow continues)",
                              getattr(handler, "__qualname__", handler), type(event).__name__)




# ---------------------------------------------------------------- the gateway process


@dataclass(frozen=True, slots=True)
class GatewayState:
    """The gateway started (its listeners are open) or is shutting down."""

    running: bool


@dataclass(frozen=True, slots=True)
class ConfigReloaded:
    """SIGHUP: the configuration file was read again (``peers``: how many it names), or could not be
    (``error``; the running configuration stays)."""

    peers: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ControlRefused:
    """A control-socket request was refused (bad token, longer than the limit)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Contained:
    """A containment action was applied (``radguard contain``)."""

    action: str
    detail: Mapping[str, Any]
    peer: str | None


@dataclass(frozen=True, slots=True)
class Connection:
    """A TCP connection reached a DICOM listener (``dropped``: at once, too many from its host without an
    association)."""

    host: str
    dropped: bool = False


@dataclass(frozen=True, slots=True)
class HostileConnection:
    """A connection from ``host`` misbehaved before it became an association (``kind``; ``detail``: protocol
    facts, never data the peer sent; ``subject``: of the certificate a TLS client presented, if any, e.g. one
    that failed verification). The audit writes it as a Security Alert folded per source."""

    host: str
    kind: Hostility
    detail: str
    subject: str | None = None


# ---------------------------------------------------------------- associations


@dataclass(frozen=True, slots=True)
class AssociationEvent:
    """Something that happened on one association."""

    assoc: AssociationInfo


class AssociationAccepted(AssociationEvent):
    """The upstream accepted the relayed A-ASSOCIATE-RQ and the client got the A-ASSOCIATE-AC."""

    __slots__ = ()


class StoreForwarded(AssociationEvent):
    """A C-STORE data set went upstream (as it came, or after the ``on_store`` hooks)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ProtocolViolated(AssociationEvent):
    """An end broke PS3.8 (the association is aborted). ``negotiating``: during the A-ASSOCIATE phase."""

    by: End
    message: str
    negotiating: bool = False


@dataclass(frozen=True, slots=True)
class AssociationRejected(AssociationEvent):
    """The client got an A-ASSOCIATE-RJ: by policy, relayed from the upstream, or (``unavailable``) a
    transient one because the upstream could not be reached or did not answer."""

    reason: str
    unavailable: bool = False


@dataclass(frozen=True, slots=True)
class AssociationClosed(AssociationEvent):
    """An established association ended (``how``: "released", or why it was aborted)."""

    how: str


@dataclass(frozen=True, slots=True)
class RequestRefused(AssociationEvent):
    """A DIMSE request was refused by policy (the client got a refusal status)."""

    service: str
    reason: str


@dataclass(frozen=True, slots=True)
class StoreAlerted(AssociationEvent):
    """The ``on_store`` hooks found something whose action is ``alert``: forwarded, with an alert."""

    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueryAnswered(AssociationEvent):
    """A relayed C-FIND got its final response (``identifier``: the captured query, for the audit record)."""

    sop_class: str
    identifier: bytes
    transfer_syntax: str
    status: int | None


@dataclass(frozen=True, slots=True)
class RetrieveStarted(AssociationEvent):
    """A C-MOVE or C-GET was relayed with its identifier."""

    service: str
    destination: str
    study_uid: str
    patient_id: str


# ---------------------------------------------------------------- instances


@dataclass(frozen=True, slots=True)
class InstanceEvent(AssociationEvent):
    """Something that happened to one relayed instance, with what its audit record names (PS3.15 A.5.3.2)."""

    patient_id: str
    study_uid: str
    sop_class: str


@dataclass(frozen=True, slots=True)
class StoreAnswered(InstanceEvent):
    """A relayed C-STORE was answered by the end that stored it (``stored_by``: the upstream, or the client
    for a C-GET sub-operation) with ``status``, its answer relayed; ``status`` None: no answer came before
    the association ended (``how``)."""

    status: int | None
    how: str = ""
    stored_by: End = End.UPSTREAM


@dataclass(frozen=True, slots=True)
class StoreRefused(InstanceEvent):
    """The ``on_store`` hooks refused a C-STORE data set (``quarantined``: kept in the quarantine folder)."""

    detail: str
    quarantined: bool
    status: int
