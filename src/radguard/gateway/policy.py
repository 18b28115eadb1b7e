"""Gateway policy: the association/request facts addons see, their decisions, and the engine.

Three decision hooks, each optional in an addon: ``on_associate`` (A-ASSOCIATE-RQ, PS3.8 §9.3.2),
``on_request`` (a DIMSE command set, PS3.7 §9.1) and ``on_store`` (a C-STORE data set held before it goes
upstream, PS3.4 Annex B). Decision hooks fail closed (an exception in a hook is a deny, logged as a policy
error); observers (audit, metrics: :mod:`radguard.gateway.bus`) never break the flow (their exceptions are
logged and swallowed). This mirrors pynetdicom's intervention vs notification events and mitmproxy's addons.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from radguard.gateway.config import GatewayConfig, InspectAction, PeerConfig
from radguard.gateway.containment import Containment as Containment  # re-exported: what addons read
from radguard.models import Finding

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


#: strength of a store action: the strongest one among the hooks and findings wins
STORE_RANK = {InspectAction.PASS: 0, InspectAction.ALERT: 1, InspectAction.QUARANTINE: 2, InspectAction.REJECT: 3}


@dataclass(frozen=True, slots=True)
class StoreData:
    """What an ``on_store`` hook sees: one C-STORE request's bare data set (PS3.7 §9.1.1) and its command."""

    data: bytes
    transfer_syntax: str  # of the accepted presentation context (PS3.8 §9.3.2.2)
    target: str  # "AE@host:SOPInstanceUID", names the data set in findings and logs
    command: Command


@dataclass(frozen=True, slots=True)
class StoreVerdict:
    """An ``on_store`` answer: what to do with the data set, the findings behind it.

    ``identifiers``: (Patient ID, Study Instance UID) read from the parse the hook already made, so that
    the relay does not parse the data set again for its audit record; None when the hook did not parse.
    """

    action: InspectAction
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    addon: str = ""
    identifiers: tuple[str, str] | None = None

    @property
    def forward(self) -> bool:
        return self.action in (InspectAction.PASS, InspectAction.ALERT)


STORE_PASS = StoreVerdict(InspectAction.PASS)


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
        self._store_hooks = [a for a in self.addons if getattr(a, "on_store", None) is not None]
        #: per hook name, the addons that have it and the bound method (looked up once, not per request)
        self._hooks: dict[str, list[tuple[Any, Callable[..., Any]]]] = {}

    def _bound(self, hook: str) -> list[tuple[Any, Callable[..., Any]]]:
        found = self._hooks[hook] = [(addon, fn) for addon in self.addons
                                     if (fn := getattr(addon, hook, None)) is not None]
        return found

    def _run(self, hook: str, *args: Any) -> Decision:
        hooks = self._hooks.get(hook)
        for addon, fn in hooks if hooks is not None else self._bound(hook):
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

    def holds_stores(self) -> bool:
        """Whether C-STORE data sets must be held for an ``on_store`` hook before they go upstream."""
        return any(getattr(addon, "active", True) for addon in self._store_hooks)

    def on_store(self, assoc: AssociationInfo, store: StoreData) -> StoreVerdict:
        """Decide on a held C-STORE data set: the strongest action of the hooks wins, their findings add up.

        Fails closed: a hook that raises or answers something else than a :class:`StoreVerdict` rejects.
        """
        verdict = STORE_PASS
        for addon in self._store_hooks:
            try:
                answer = addon.on_store(assoc, store)
            except Exception as exc:  # fail closed
                log.error("inspection error in %s on %s: %s: %s (rejected)", addon.name, store.target,
                          type(exc).__name__, exc)
                return StoreVerdict(InspectAction.REJECT, verdict.findings, error=type(exc).__name__,
                                    addon=addon.name, identifiers=verdict.identifiers)
            if not isinstance(answer, StoreVerdict):
                log.error("policy error in %s.on_store: returned %r (rejected)", addon.name, answer)
                return StoreVerdict(InspectAction.REJECT, verdict.findings, error=f"policy error in {addon.name}",
                                    addon=addon.name, identifiers=verdict.identifiers)
            if answer is STORE_PASS:
                continue
            stronger = STORE_RANK[answer.action] > STORE_RANK[verdict.action]
            verdict = StoreVerdict(answer.action if stronger else verdict.action, verdict.findings + answer.findings,
                                   answer.error or verdict.error, addon.name if stronger else verdict.addon,
                                   verdict.identifiers or answer.identifiers)
            if not verdict.forward:
                break
        return verdict
