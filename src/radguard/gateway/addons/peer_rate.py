"""Per-peer rates: associations and DIMSE requests per minute of one ``[[peer]]`` (45 CFR 164.312(a)(1),
164.308(a)(1)(ii)(D)).

``associations_per_minute`` (a sliding one-minute window per peer AE): over it, A-ASSOCIATE-RJ
rejected-transient, source service-provider (presentation), reason 2 "local limit exceeded" (PS3.8
§9.3.4). ``requests_per_minute`` (all DIMSE requests of the peer, every association together): over it,
the request is refused with status 0xA700 (Refused: out of resources, PS3.7 Annex C) and the
association is kept. A peer without these keys is bound only by ``[limits]`` (the ``rate_limit``
addon). ``radguard policy learn`` sets both from the observed per-minute maxima with a margin
(:data:`radguard.policy.learn.RATE_FACTOR`, ``RATE_HEADROOM``). A refused attempt does not count.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from radguard.dicom.dimse import Command
from radguard.dicom.enums import CommandField, Status
from radguard.gateway.policy import (
    REJECT_LIMIT,
    AssociationInfo,
    Context,
    Decision,
    Direction,
    deny_association,
    deny_request,
)

WINDOW_SECONDS = 60.0


def _admit(window: deque[float], now: float, limit: int) -> bool:
    """Slide ``window`` to ``now``; True (and count ``now``) if it holds fewer than ``limit`` entries."""
    while window and now - window[0] >= WINDOW_SECONDS:
        window.popleft()
    if len(window) >= limit:
        return False
    window.append(now)
    return True


class PeerRate:
    """Per-peer sliding-window limits on associations and on DIMSE requests."""

    name = "peer_rate"

    def __init__(self, ctx: Context, clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx = ctx
        self.clock = clock
        self._associations: dict[str, deque[float]] = {}
        self._requests: dict[str, deque[float]] = {}

    def on_associate(self, assoc: AssociationInfo) -> Decision:
        peer = assoc.peer
        if peer is None or assoc.direction is Direction.SUBOPERATION:
            return Decision.allow()
        limit = self.ctx.config.peers.get(peer.ae, peer).associations_per_minute
        if limit is None or _admit(self._associations.setdefault(peer.ae, deque()), self.clock(), limit):
            return Decision.allow()
        return deny_association(f"{peer.ae}: more than {limit} associations per minute", REJECT_LIMIT)

    def on_request(self, assoc: AssociationInfo, command: Command) -> Decision:
        peer = assoc.peer
        if peer is None or assoc.direction is Direction.SUBOPERATION:
            return Decision.allow()
        if command.command_field is CommandField.C_CANCEL_RQ:
            return Decision.allow()
        limit = self.ctx.config.peers.get(peer.ae, peer).requests_per_minute
        if limit is None or _admit(self._requests.setdefault(peer.ae, deque()), self.clock(), limit):
            return Decision.allow()
        return deny_request(f"{peer.ae}: more than {limit} requests per minute", Status.OUT_OF_RESOURCES)
