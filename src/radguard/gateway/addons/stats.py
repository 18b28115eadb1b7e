"""Statistics addon: counters of what the gateway did, an observer of its event bus (:mod:`radguard.gateway.bus`).

The counters are ``radguard contain --status``'s ``stats`` and the summary of the gateway's run in the store.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

from radguard.gateway import bus as ev

#: one counter per event kind
COUNTERS: dict[type, str] = {
    ev.ConnectionOpened: "connections",
    ev.ConnectionDropped: "connections_dropped",
    ev.ConfigReloaded: "reloads",
    ev.ProtocolViolated: "violations",
    ev.AssociationAccepted: "associations_accepted",
    ev.AssociationRejected: "associations_rejected",
    ev.UpstreamUnavailable: "upstream_unavailable",
    ev.RequestRefused: "requests_refused",
    ev.StoreForwarded: "stores_forwarded",
    ev.StoreAlerted: "stores_alerted",
    ev.StoreAcknowledged: "stores_acknowledged",
    ev.StoreUnacknowledged: "stores_unacknowledged",
}


class Stats:
    """Count gateway events (:data:`COUNTERS`; refused stores as rejected or quarantined; containment per action)."""

    name = "stats"

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    def _count(self, key: str) -> Callable[[object], None]:
        counts = self.counts

        def count(_event: object) -> None:
            counts[key] += 1

        return count

    def subscribe(self, events: ev.EventBus) -> None:
        """Count every event of :data:`COUNTERS`, refused stores and containment actions."""
        for kind, key in COUNTERS.items():
            events.subscribe(kind, self._count(key))
        events.subscribe(ev.StoreRefused, self._refused)
        events.subscribe(ev.Contained, self._contained)

    def _refused(self, e: ev.StoreRefused) -> None:
        self.counts["stores_quarantined" if e.quarantined else "stores_rejected"] += 1

    def _contained(self, e: ev.Contained) -> None:
        self.counts[f"contain_{e.action}"] += 1
