"""The gateway's decision addons, in the order they run: one list for the live server and for replay.

:func:`decision_addons` is what :class:`radguard.gateway.server.Gateway` puts in front of its
inspection addon, and what ``radguard policy replay`` runs recorded traffic through, so that a replay
decides with the very code that decides live (no second engine). The clock of the rate addons is a
parameter: live it is :func:`time.monotonic`, in a replay the capture's timestamps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from radguard.gateway.addons.allowlist import Allowlist
from radguard.gateway.addons.move_destinations import MoveDestinations
from radguard.gateway.addons.operations import Operations
from radguard.gateway.addons.peer_rate import PeerRate
from radguard.gateway.addons.rate_limit import RateLimit
from radguard.gateway.addons.sop_classes import SopClasses
from radguard.gateway.policy import Context


def decision_addons(ctx: Context, open_count: Callable[[], int],
                    clock: Callable[[], float] = time.monotonic) -> list[Any]:
    """Allowlist, rate limits (global and per peer), operations, SOP classes, move destinations.

    Parameters
    ----------
    ctx : Context
        The configuration and containment state the addons read.
    open_count : callable
        How many associations are open now (``[limits] max_associations``).
    clock : callable
        Seconds, monotonic (the rate windows).
    """
    return [Allowlist(ctx), RateLimit(ctx, open_count, clock), PeerRate(ctx, clock), Operations(ctx),
            SopClasses(ctx), MoveDestinations(ctx)]
