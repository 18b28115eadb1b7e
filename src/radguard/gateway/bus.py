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
class GatewayStarted:
    """The listeners are open."""


@dataclass(frozen=True, slots=True)
class GatewayStopped:
    """The gateway is shutting down."""


@dataclass(frozen=True, slots=True)
class ConfigReloaded:
    """SIGHUP: the configuration file was read again (``peers``: how many peers it names)."""

    peers: int


@dataclass(frozen=True, slots=True)
class ConfigReloadFailed:
    """SIGHUP: the configuration file could not be read; the running one stays."""

    error: str


@dataclass(frozen=True, slots=True)
class ControlRefused:
    """A control-socket request was refused (bad token)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Contained:
    """A containment action was applied (``radguard contain``)."""

    action: str
    detail: Mapping[str, Any]
    peer: str | None


@dataclass(frozen=True, slots=True)
class ConnectionOpened:
    """A TCP connection reached a DICOM listener."""

    host: str


@dataclass(frozen=True, slots=True)
class ConnectionDropped:
    """A connection was dropped at once: too many from its host without an association."""

    host: str


# ---------------------------------------------------------------- associations


@dataclass(frozen=True, slots=True)
class ProtocolViolated:
    """An end broke PS3.8 (the association is aborted). ``negotiating``: during the A-ASSOCIATE phase."""

    assoc: AssociationInfo
    by: End
    message: str
    negotiating: bool = False


@dataclass(frozen=True, slots=True)
class AssociationAccepted:
    """The upstream accepted the relayed A-ASSOCIATE-RQ and the client got the A-ASSOCIATE-AC."""

    assoc: AssociationInfo


@dataclass(frozen=True, slots=True)
class AssociationRejected:
    """The client got an A-ASSOCIATE-RJ: by policy, or relayed from the upstream."""

    assoc: AssociationInfo
    reason: str


@dataclass(frozen=True, slots=True)
class UpstreamUnavailable:
    """The upstream could not be reached or did not answer; the client got a transient reject."""

    assoc: AssociationInfo
    reason: str


@dataclass(frozen=True, slots=True)
class AssociationClosed:
    """An established association ended (``how``: "released", or why it was aborted)."""

    assoc: AssociationInfo
    how: str


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """A DIMSE request was refused by policy (the client got a refusal status)."""

    assoc: AssociationInfo
    service: str
    reason: str


# ---------------------------------------------------------------- C-STORE and retrieval


@dataclass(frozen=True, slots=True)
class StoreForwarded:
    """A C-STORE data set went upstream (as it came, or after inspection)."""

    assoc: AssociationInfo


@dataclass(frozen=True, slots=True)
class StoreAlerted:
    """Inspection found something whose action is ``alert``: forwarded, with an alert."""

    assoc: AssociationInfo
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoreRefused:
    """Inspection refused a C-STORE data set (``quarantined``: kept in the quarantine folder)."""

    assoc: AssociationInfo
    detail: str
    quarantined: bool
    patient_id: str
    study_uid: str
    sop_class: str
    status: int


@dataclass(frozen=True, slots=True)
class StoreAcknowledged:
    """The upstream answered a relayed C-STORE; the client has the answer."""

    assoc: AssociationInfo
    patient_id: str
    study_uid: str
    sop_class: str
    status: int | None


@dataclass(frozen=True, slots=True)
class StoreUnacknowledged:
    """A relayed C-STORE got no answer before the association ended (``how``)."""

    assoc: AssociationInfo
    patient_id: str
    study_uid: str
    sop_class: str
    how: str


@dataclass(frozen=True, slots=True)
class InstanceRetrieved:
    """The client answered a C-GET sub-operation C-STORE relayed from the upstream."""

    assoc: AssociationInfo
    patient_id: str
    study_uid: str
    sop_class: str
    status: int | None


@dataclass(frozen=True, slots=True)
class QueryAnswered:
    """A relayed C-FIND got its final response (``identifier``: the captured query, for the audit record)."""

    assoc: AssociationInfo
    sop_class: str
    identifier: bytes
    transfer_syntax: str
    status: int | None


@dataclass(frozen=True, slots=True)
class RetrieveStarted:
    """A C-MOVE or C-GET was relayed with its identifier."""

    assoc: AssociationInfo
    service: str
    destination: str
    study_uid: str
    patient_id: str
