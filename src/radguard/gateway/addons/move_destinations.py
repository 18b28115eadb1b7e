"""Move destinations: C-MOVE only toward the destinations a peer may use (45 CFR 164.312(a)(1), (e)(1)).

Refused with status 0xA801 (Refused: move destination unknown, PS3.4 C.4.2.1.5).
"""

from __future__ import annotations

from radguard.dicom.dimse import Command
from radguard.dicom.enums import CommandField, Status
from radguard.gateway.policy import AssociationInfo, Context, Decision, deny_request


class MoveDestinations:
    """Refuse C-MOVE to destinations the peer may not use."""

    name = "move_destinations"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def on_request(self, assoc: AssociationInfo, command: Command) -> Decision:
        if command.command_field is not CommandField.C_MOVE_RQ:
            return Decision.allow()
        peer = assoc.peer
        dest = (command.move_destination or "").strip()
        if peer is None:
            return deny_request("no peer bound to the association", Status.MOVE_DESTINATION_UNKNOWN)
        live = self.ctx.config.peers.get(peer.ae, peer)
        if dest not in live.move_destinations:
            return deny_request(f"C-MOVE destination {dest!r} not allowed for {peer.ae}",
                                Status.MOVE_DESTINATION_UNKNOWN)
        if dest in self.ctx.containment.peers:
            return deny_request(f"C-MOVE destination {dest} is contained", Status.MOVE_DESTINATION_UNKNOWN)
        return Decision.allow()
