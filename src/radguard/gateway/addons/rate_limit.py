"""Rate limit: associations per minute per peer, and a global cap on open associations.

Over the per-peer rate: A-ASSOCIATE-RJ rejected-transient, source service-provider (presentation),
reason 2 "local limit exceeded" (PS3.8 §9.3.4); over ``max_associations`` open at once: same with
reason 1 "temporary congestion". Sliding one-minute window per calling AE (or source address for
sub-operations).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from radguard.gateway.policy import (
    REJECT_CONGESTION,
    REJECT_LIMIT,
    AssociationInfo,
    Context,
    Decision,
    deny_association,
)

WINDOW_SECONDS = 60.0


class RateLimit:
    """Per-peer sliding-window association rate limit (``[limits] associations_per_minute``)."""

    name = "rate_limit"

    def __init__(self, ctx: Context, open_count: Callable[[], int], clock: Callable[[], float] = time.monotonic):
        self.ctx = ctx
        self.open_count = open_count
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def on_associate(self, assoc: AssociationInfo) -> Decision:
        limits = self.ctx.config.limits
        if self.open_count() > limits.max_associations:
            return deny_association(f"{limits.max_associations} associations open", REJECT_CONGESTION)
        key = assoc.calling_ae if assoc.peer is not None else assoc.client_host
        now = self.clock()
        q = self._seen.setdefault(key, deque())
        while q and now - q[0] >= WINDOW_SECONDS:
            q.popleft()
        if len(q) >= limits.associations_per_minute:
            return deny_association(f"{key}: more than {limits.associations_per_minute} associations per minute",
                                    REJECT_LIMIT)
        q.append(now)
        return Decision.allow()
