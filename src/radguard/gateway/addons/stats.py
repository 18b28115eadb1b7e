"""Statistics addon: counters of what the gateway did, an observer of its event bus (:mod:`radguard.gateway.bus`).

The counters are ``radguard contain --status``'s ``stats`` and the summary of the gateway's run in the store.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

from radguard.gateway import bus as ev
from radguard.gateway.pieces import End

#: one counter per event kind (the others: :meth:`Stats.subscribe`)
COUNTERS: dict[type, str] = {
    ev.ProtocolViolated: "violations",
    ev.AssociationAccepted: "associations_accepted",
    ev.RequestRefused: "requests_refused",
    ev.StoreForwarded: "stores_forwarded",
    ev.StoreAlerted: "stores_alerted",
}


#: per calling AE title: association event kind -> counter (``contain --status``'s ``peers``)
PEER_COUNTERS: dict[type, str] = {
    ev.AssociationAccepted: "associations",
    ev.AssociationRejected: "rejected",
    ev.RequestRefused: "requests_refused",
    ev.StoreForwarded: "stores",
    ev.StoreRefused: "stores_refused",
    ev.StoreAlerted: "stores_alerted",
}
#: distinct calling AE titles counted one by one; beyond it (an AE-title brute force) they share :data:`OTHER`
MAX_PEERS = 256
OTHER = "(other)"


class Stats:
    """Count gateway events (:data:`COUNTERS`; refused stores as rejected or quarantined; containment per action),
    and per calling AE title (:data:`PEER_COUNTERS`, at most :data:`MAX_PEERS` titles: a flood of guessed titles
    cannot grow it without bound)."""

    name = "stats"

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.peers: dict[str, collections.Counter[str]] = {}

    def _per_peer(self, key: str) -> Callable[[ev.AssociationEvent], None]:
        peers = self.peers

        def count(event: ev.AssociationEvent) -> None:
            ae = event.assoc.calling_ae
            counter = peers.get(ae)
            if counter is None:
                if len(peers) >= MAX_PEERS:
                    ae = OTHER
                counter = peers.setdefault(ae, collections.Counter())
            counter[key] += 1

        return count

    def peer_counts(self) -> dict[str, dict[str, int]]:
        """Per calling AE title: its counters (a copy, for the control socket's ``status``)."""
        return {ae: dict(c) for ae, c in sorted(self.peers.items())}

    def _count(self, key: str) -> Callable[[object], None]:
        counts = self.counts

        def count(_event: object) -> None:
            counts[key] += 1

        return count

    def subscribe(self, events: ev.EventBus) -> None:
        """Count every event of :data:`COUNTERS`, and the others by what they say."""
        for kind, key in COUNTERS.items():
            events.subscribe(kind, self._count(key))
        for kind, key in PEER_COUNTERS.items():
            events.subscribe(kind, self._per_peer(key))
        counts = self.counts
        on = events.subscribe
        on(ev.Connection, lambda e: counts.update(("connections_dropped" if e.dropped else "connections",)))
        on(ev.ConfigReloaded, lambda e: counts.update(("reloads",) if e.error is None else ()))
        on(ev.AssociationRejected, lambda e: counts.update(("upstream_unavailable" if e.unavailable
                                                            else "associations_rejected",)))
        on(ev.StoreAnswered, self._answered)
        on(ev.StoreRefused, lambda e: counts.update(("stores_quarantined" if e.quarantined else "stores_rejected",)))
        on(ev.Contained, lambda e: counts.update((f"contain_{e.action}",)))

    def _answered(self, e: ev.StoreAnswered) -> None:
        if e.stored_by is End.UPSTREAM:  # C-GET sub-operations are not counted (as before the event bus)
            self.counts["stores_acknowledged" if e.status is not None else "stores_unacknowledged"] += 1
