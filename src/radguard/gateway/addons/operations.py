"""Operations: a peer may use only the DIMSE services in its ``allow`` list (45 CFR 164.312(a)(1)).

A request for another service is refused with status 0x0124 (Refused: not authorized, PS3.7
Annex C) and the association is kept. ``contain --read-only`` refuses C-STORE the same way.
Sub-operation associations (upstream toward a peer) may only carry C-STORE and C-ECHO.
"""

from __future__ import annotations

from radguard.dicom.dimse import Command
from radguard.dicom.enums import CommandField, Status
from radguard.gateway.policy import AssociationInfo, Context, Decision, Direction, deny_request

SUBOPERATION_SERVICES = frozenset({"C-STORE", "C-ECHO"})


class Operations:
    """Per-peer DIMSE service allowlist and read-only containment."""

    name = "operations"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def on_request(self, assoc: AssociationInfo, command: Command) -> Decision:
        field_ = command.command_field
        if field_ is None:
            return deny_request("unknown DIMSE command", Status.UNRECOGNIZED_OPERATION)
        if field_ is CommandField.C_CANCEL_RQ:
            return Decision.allow()
        service = field_.service
        peer = assoc.peer
        if peer is None:
            return deny_request("no peer bound to the association")
        if assoc.direction is Direction.SUBOPERATION:
            allowed = service in SUBOPERATION_SERVICES
        else:
            live = self.ctx.config.peers.get(peer.ae, peer)  # follow SIGHUP reloads
            allowed = service in live.allow
        if not allowed:
            return deny_request(f"{service} not allowed for {peer.ae}")
        if service == "C-STORE" and self.ctx.containment.is_read_only(peer.ae):
            return deny_request(f"read-only containment: C-STORE refused for {peer.ae}")
        return Decision.allow()
