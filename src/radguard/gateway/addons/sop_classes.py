"""SOP classes: a peer may name only the SOP classes in its ``sop_classes`` list (45 CFR 164.312(a)(1)).

A request whose Affected (or Requested) SOP Class UID is not listed is refused with status 0x0124
(Refused: not authorized, PS3.7 Annex C) and the association is kept. A peer without ``sop_classes``
may use any SOP class its ``allow`` services carry. ``radguard policy learn`` fills the list from the
SOP classes each peer was seen to use. C-CANCEL names none and is not checked; sub-operation
associations (the upstream's C-STOREs toward a peer) carry what the peer asked to retrieve.
"""

from __future__ import annotations

from radguard.dicom.dimse import Command
from radguard.dicom.enums import CommandField
from radguard.gateway.policy import AssociationInfo, Context, Decision, Direction, deny_request


class SopClasses:
    """Per-peer SOP class allowlist on DIMSE requests."""

    name = "sop_classes"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def on_request(self, assoc: AssociationInfo, command: Command) -> Decision:
        peer = assoc.peer
        if peer is None or assoc.direction is Direction.SUBOPERATION:
            return Decision.allow()  # unbound associations never get this far (allowlist, operations)
        if command.command_field is CommandField.C_CANCEL_RQ:
            return Decision.allow()
        allowed = self.ctx.config.peers.get(peer.ae, peer).sop_classes  # follow SIGHUP reloads
        if not allowed:
            return Decision.allow()
        sop_class = (command.sop_class_uid or "").strip("\0 ")
        if sop_class not in allowed:
            return deny_request(f"SOP class {sop_class or '(none)'} not allowed for {peer.ae}")
        return Decision.allow()
