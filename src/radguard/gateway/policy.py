"""Gateway policy: the association/request facts addons see, their decisions, and the engine.

Decision hooks fail closed (an exception in a hook is a deny, logged as a policy error);
observers (audit, metrics) never break the flow (their exceptions are logged and swallowed).
This mirrors pynetdicom's intervention vs notification events and mitmproxy's addons.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from radguard.dicom.dimse import Command
from radguard.dicom.enums import (
    RejectReason,
    RejectReasonPresentation,
    RejectResult,
    RejectSource,
    Status,
)
from radguard.dicom.pdu import AssociateReject
from radguard.gateway.config import GatewayConfig, PeerConfig

log = logging.getLogger("radguard.gateway")


class Direction(enum.Enum):
    """Which way an association goes through the gateway."""

    INBOUND = "inbound"  # a [[peer]] toward the upstream PACS
    SUBOPERATION = "suboperation"  # the upstream toward a [[peer]] with a port (C-MOVE sub-operations)


@dataclass
class AssociationInfo:
    """What the policy knows about one association (mutable: filled in as it proceeds)."""

    id: int
    calling_ae: str
    called_ae: str
    client_host: str
    client_port: int
    tls: bool = False
    peer: PeerConfig | None = None
    direction: Direction = Direction.INBOUND
    target: tuple[str, int] | None = None
    target_ae: str = ""

    @property
    def label(self) -> str:
        return f"#{self.id} {self.calling_ae}@{self.client_host}->{self.called_ae}"


@dataclass(frozen=True, slots=True)
class Decision:
    """An allow/deny answer. A deny carries the wire answer: an A-ASSOCIATE-RJ or a DIMSE status."""

    allowed: bool
    reason: str = ""
    reject: AssociateReject | None = None
    status: int | None = None
    addon: str = ""

    @classmethod
    def allow(cls) -> Decision:
        return _ALLOW


_ALLOW = Decision(allowed=True)

#: PS3.8 §9.3.4 answers used by the addons
REJECT_CALLING_AE = AssociateReject(RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER,
                                    RejectReason.CALLING_AE_NOT_RECOGNIZED)
REJECT_CALLED_AE = AssociateReject(RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER,
                                   RejectReason.CALLED_AE_NOT_RECOGNIZED)
REJECT_LIMIT = AssociateReject(RejectResult.REJECTED_TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION,
                               RejectReasonPresentation.LOCAL_LIMIT_EXCEEDED)
REJECT_CONGESTION = AssociateReject(RejectResult.REJECTED_TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION,
                                    RejectReasonPresentation.TEMPORARY_CONGESTION)
REJECT_NO_REASON = AssociateReject(RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER,
                                   RejectReason.NO_REASON)


def deny_association(reason: str, reject: AssociateReject) -> Decision:
    return Decision(allowed=False, reason=reason, reject=reject)


def deny_request(reason: str, status: int = Status.NOT_AUTHORIZED) -> Decision:
    return Decision(allowed=False, reason=reason, status=status)


@dataclass
class Containment:
    """Live containment state, changed by ``radguard contain`` (control socket) and read by the addons."""

    peers: set[str] = field(default_factory=set)
    read_only: bool = False
    read_only_peers: set[str] = field(default_factory=set)
    downtime: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"peers": sorted(self.peers), "read_only": self.read_only,
                "read_only_peers": sorted(self.read_only_peers), "downtime": self.downtime}

    def is_read_only(self, ae: str) -> bool:
        return self.read_only or ae in self.read_only_peers


class Context(Protocol):
    """What addons may read: the current configuration and containment state."""

    @property
    def config(self) -> GatewayConfig: ...

    @property
    def containment(self) -> Containment: ...


class Addon(Protocol):
    """A policy piece. Decision hooks are optional; an addon implements the ones it needs."""

    name: str


class PolicyEngine:
    """Runs the decision hooks of the addons in order; the first deny wins; exceptions deny."""

    def __init__(self, addons: Sequence[Any]) -> None:
        self.addons = list(addons)

    def _run(self, hook: str, *args: Any) -> Decision:
        for addon in self.addons:
            fn = getattr(addon, hook, None)
            if fn is None:
                continue
            try:
                decision = fn(*args)
            except Exception as exc:  # fail closed
                log.error("policy error in %s.%s: %s: %s (denied)", addon.name, hook, type(exc).__name__, exc)
                return Decision(allowed=False, reason=f"policy error in {addon.name}", reject=REJECT_NO_REASON,
                                status=Status.PROCESSING_FAILURE, addon=addon.name)
            if not isinstance(decision, Decision):
                log.error("policy error in %s.%s: returned %r (denied)", addon.name, hook, decision)
                return Decision(allowed=False, reason=f"policy error in {addon.name}", reject=REJECT_NO_REASON,
                                status=Status.PROCESSING_FAILURE, addon=addon.name)
            if not decision.allowed:
                return Decision(allowed=False, reason=decision.reason, reject=decision.reject or REJECT_NO_REASON,
                                status=decision.status if decision.status is not None else Status.NOT_AUTHORIZED,
                                addon=addon.name)
        return Decision.allow()

    def on_associate(self, assoc: AssociationInfo) -> Decision:
        """Decide on an A-ASSOCIATE-RQ (after ``assoc`` is filled from it)."""
        return self._run("on_associate", assoc)

    def on_request(self, assoc: AssociationInfo, command: Command) -> Decision:
        """Decide on a DIMSE request (command set only; data sets are inspected separately)."""
        return self._run("on_request", assoc, command)
