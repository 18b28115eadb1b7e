"""``radguard policy replay``: recorded traffic through the gateway's own policy engine — simulate before
enforcing (45 CFR 164.308(a)(8) evaluation; NIST CSF 2.0 PR.AA-05).

No second engine: each recorded association toward the configured upstream (or toward a ``[[peer]]``
``port``, C-MOVE sub-operations) is decided by the gateway's decision addons
(:func:`radguard.gateway.engine.decision_addons`) in a :class:`~radguard.gateway.policy.PolicyEngine`,
exactly as the live relay does on an A-ASSOCIATE-RQ; an accepted one gets the gateway's sans-io
:class:`~radguard.gateway.association.Association` with its two upper layers negotiated from the recorded
presentation contexts, and every recorded DIMSE request goes in as P-DATA-TF bytes through the gateway's
ACCEPTOR upper layer into :meth:`Association.from_client`; a ``RequestRefused`` it publishes is a refusal.
The rate addons' clock is the capture's time. The client called the upstream's AE title when it was
recorded; it is presented as calling the gateway's ``ae_title`` (clients are re-pointed at the gateway).
Records carry no data sets (no PHI): a request's data set goes in empty, and the ``on_store`` hooks
(inspection) are not replayed.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radguard.dicom import dimse, uids
from radguard.dicom.dimse import Command, fragment
from radguard.dicom.enums import NO_DATASET, CommandField, ContextResult
from radguard.dicom.pdu import AssociateAccept, AssociateRequest, PresentationContext
from radguard.dicom.ul import Role, UpperLayer
from radguard.errors import UsageError
from radguard.gateway import bus
from radguard.gateway import commands as do
from radguard.gateway.association import Association as GatewayAssociation
from radguard.gateway.config import GatewayConfig
from radguard.gateway.engine import decision_addons
from radguard.gateway.pieces import Outbox
from radguard.gateway.policy import AssociationInfo, Containment, Decision, PolicyEngine
from radguard.monitor.detections import epoch
from radguard.policy.traffic import Association, Traffic

MAX_PDU = 16384
_N_REQUESTED = frozenset({CommandField.N_GET_RQ, CommandField.N_SET_RQ, CommandField.N_ACTION_RQ,
                          CommandField.N_DELETE_RQ})
_WITH_DATASET = frozenset({CommandField.C_STORE_RQ, CommandField.C_FIND_RQ, CommandField.C_MOVE_RQ,
                           CommandField.C_GET_RQ, CommandField.N_SET_RQ, CommandField.N_CREATE_RQ,
                           CommandField.N_ACTION_RQ, CommandField.N_EVENT_REPORT_RQ})


@dataclass
class _Ctx:
    """The policy context the addons read (:class:`radguard.gateway.policy.Context`)."""

    config: GatewayConfig
    containment: Containment = field(default_factory=Containment)


@dataclass
class ReplayResult:
    """What replaying a capture through a configuration showed."""

    associations: int = 0
    requests: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def by_peer(self) -> list[dict[str, Any]]:
        """Refusals per (peer, host, operation, rule)."""
        counts = Counter((r["peer"], r["host"], r["operation"], r["rule"]) for r in self.refused)
        return [{"peer": p, "host": h, "operation": o, "rule": r, "count": n}
                for (p, h, o, r), n in sorted(counts.items())]

    def to_dict(self) -> dict[str, Any]:
        return {"associations": self.associations, "requests": self.requests, "refusals": len(self.refused),
                "refused": self.refused, "by_peer": self.by_peer(),
                "skipped": dict(sorted(self.skipped.items()))}


def _command(q: dict[str, Any]) -> Command | None:
    """The recorded request's command set (PS3.7 §E.1) from its record: command, message id, SOP class,
    priority, move destination (the instance UID's value is not recorded: PHI-adjacent, hashed)."""
    try:
        cf = CommandField[str(q["command"]).replace("-", "_") + "_RQ"]
    except KeyError:
        return None
    el: dict[int, Any] = {dimse.COMMAND_FIELD: int(cf), dimse.MESSAGE_ID: int(q.get("message_id") or 1),
                          dimse.COMMAND_DATA_SET_TYPE: dimse.DATASET_PRESENT if cf in _WITH_DATASET
                          else NO_DATASET}
    if q.get("sop_class"):
        el[dimse.REQUESTED_SOP_CLASS_UID if cf in _N_REQUESTED else dimse.AFFECTED_SOP_CLASS_UID] = str(q["sop_class"])
    if q.get("priority") is not None:
        el[dimse.PRIORITY] = int(q["priority"])
    if q.get("move_destination"):
        el[dimse.MOVE_DESTINATION] = str(q["move_destination"])
    return Command(el)


class _Engine(PolicyEngine):
    """The gateway's engine, remembering its last request decision (the relay publishes only the reason)."""

    last: Decision | None = None

    def on_request(self, assoc: AssociationInfo, command: Command) -> Decision:
        self.last = super().on_request(assoc, command)
        return self.last


class _Session:
    """One accepted association inside the gateway: the client's upper layers and the sans-io association."""

    def __init__(self, info: AssociationInfo, rec: Association, engine: _Engine, spool: Path) -> None:
        contexts = rec.record.get("contexts") or []
        proposed = [PresentationContext(int(c["id"]), str(c["abstract_syntax"]),
                                        [str(c.get("transfer_syntax") or uids.IMPLICIT_VR_LITTLE_ENDIAN)])
                    for c in contexts if c.get("abstract_syntax")]
        rq = AssociateRequest(info.called_ae, info.calling_ae, proposed, max_pdu_length=MAX_PDU)
        ac = AssociateAccept(info.called_ae, info.calling_ae,
                             [PresentationContext(c.id, None, c.transfer_syntaxes, ContextResult.ACCEPTANCE)
                              for c in proposed], max_pdu_length=MAX_PDU)
        self.scu, scp = UpperLayer(Role.REQUESTOR), UpperLayer(Role.ACCEPTOR)  # the recorded client; the upstream
        client = UpperLayer(Role.ACCEPTOR, max_pdu_receive=MAX_PDU, keep_wire=True)
        up = UpperLayer(Role.REQUESTOR, max_pdu_receive=MAX_PDU, keep_wire=True)
        client.receive(self.scu.send(rq))
        scp.receive(up.send(rq))
        up.receive(scp.send(ac))
        self.scu.receive(client.send(ac))
        self.client = client
        self.outboxes = (Outbox(), Outbox())
        self.assoc = GatewayAssociation(info, client, up, self.outboxes, engine, spool)
        self.contexts = {c.abstract_syntax: c.id for c in proposed}
        self.engine = engine

    def request(self, cmd: Command) -> tuple[str, str] | None:
        """Feed one request (and an empty data set when one follows); (addon, reason) if refused."""
        ctx = self.contexts.get(cmd.sop_class_uid or "") or next(iter(self.contexts.values()), 1)
        wire = fragment(ctx, cmd.encode(), b"" if cmd.has_dataset else None, MAX_PDU)
        refused = None
        for ev in self.client.receive(b"".join(wire)):
            for c in self.assoc.from_client(ev):
                if isinstance(c, do.Publish) and isinstance(c.event, bus.RequestRefused):
                    refused = (self.engine.last.addon if self.engine.last else "", c.event.reason)
        for box in self.outboxes:
            box.pdus.clear()
        return refused


def _through_gateway(a: Association, cfg: GatewayConfig) -> bool:
    if a.server == cfg.upstream:
        return True
    return any(p.port is not None and a.server == (p.hosts[0], p.port) for p in cfg.peers.values())


def replay(traffic: Traffic, cfg: GatewayConfig) -> ReplayResult:
    """Replay ``traffic`` through the policy of ``cfg`` (see the module docstring)."""
    now = [0.0]
    open_until: list[float] = []
    engine = _Engine(decision_addons(_Ctx(cfg), lambda: sum(1 for t in open_until if t > now[0]),
                                          clock=lambda: now[0]))
    result = ReplayResult()
    timeline: list[tuple[float, int, int, Association, dict[str, Any] | None]] = []
    for i, a in enumerate(traffic.associations):
        if not _through_gateway(a, cfg):
            result.skipped["not toward the gateway's upstream or a peer port"] += 1
            continue
        timeline.append((a.ts, 0, i, a, None))
        timeline += [(epoch(str(q["ts"])), 1, i, a, q) for q in a.requests]
    if not timeline:
        host, port = cfg.upstream
        raise UsageError(f"no association in the capture goes to the upstream {host}:{port} or a peer port of "
                         "the configuration: nothing to replay")
    timeline.sort(key=lambda t: (t[0], t[1], t[2]))
    sessions: dict[int, _Session | None] = {}
    with tempfile.TemporaryDirectory(prefix="radguard-replay-") as spool:
        for ts, phase, i, a, q in timeline:
            now[0] = ts
            if phase == 0:
                sessions[i] = _associate(a, i, cfg, engine, Path(spool), result)
                if sessions[i] is not None:
                    open_until.append(epoch(str(a.record.get("ts_end") or a.record["ts"])))
                continue
            session = sessions.get(i)
            assert q is not None
            cmd = _command(q)
            if session is None or cmd is None:
                result.skipped["request of a refused association" if session is None else "unknown command"] += 1
                continue
            result.requests += 1
            refused = session.request(cmd)
            if refused is not None:
                result.refused.append(_refusal(a, str(q["command"]), refused[1], q, refused[0]))
        for s in sessions.values():
            if s is not None:
                s.assoc.close()
    return result


def _associate(a: Association, i: int, cfg: GatewayConfig, engine: _Engine, spool: Path,
               result: ReplayResult) -> _Session | None:
    result.associations += 1
    called = cfg.ae_title if a.server == cfg.upstream and a.called_ae == cfg.upstream_ae else a.called_ae
    info = AssociationInfo(id=i + 1, calling_ae=a.calling_ae, called_ae=called, client_host=a.client,
                           client_port=int(a.record.get("client_port") or 0))
    decision = engine.on_associate(info)
    if not decision.allowed:
        result.refused.append(_refusal(a, "A-ASSOCIATE", decision.reason, None, decision.addon))
        return None
    return _Session(info, a, engine, spool)


def _refusal(a: Association, operation: str, reason: str, q: dict[str, Any] | None, rule: str) -> dict[str, Any]:
    """One refusal: ``rule`` is the gateway addon that refused (docs/gateway.md)."""
    return {"peer": a.calling_ae, "host": a.client, "called_ae": a.called_ae, "operation": operation,
            "rule": rule, "reason": reason, "ts": str((q or a.record)["ts"]),
            "sop_class": (q or {}).get("sop_class"), "move_destination": (q or {}).get("move_destination")}
