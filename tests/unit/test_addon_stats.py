"""Statistics addon: gateway events counted by kind (the ``stats`` of ``contain --status`` and of the run)."""

from __future__ import annotations

from radguard.gateway import bus as ev
from radguard.gateway.addons.stats import Stats
from radguard.gateway.pieces import End
from tests.support.gateway_addons import CT, assoc


def test_counts_by_kind() -> None:
    bus = ev.EventBus()
    stats = Stats()
    stats.subscribe(bus)
    a = assoc("CT01")
    for event in (ev.Connection("127.0.0.1"), ev.Connection("127.0.0.1"), ev.Connection("127.0.0.1", dropped=True),
                  ev.AssociationAccepted(a), ev.AssociationRejected(a, "no"),
                  ev.AssociationRejected(a, "down", unavailable=True), ev.StoreForwarded(a), ev.StoreForwarded(a),
                  ev.StoreAnswered(a, "", "", CT, 0), ev.StoreAnswered(a, "", "", CT, None, "aborted"),
                  ev.StoreAnswered(a, "", "", CT, 0, stored_by=End.CLIENT),  # C-GET sub-operation: not counted
                  ev.StoreRefused(a, "", "", CT, "reject", False, 0x0124),
                  ev.StoreRefused(a, "", "", CT, "quarantine", True, 0x0124),
                  ev.ConfigReloaded(2), ev.ConfigReloaded(2, error="bad"),
                  ev.Contained("peer", {}, "CT01"), ev.GatewayState(running=True)):
        bus.publish(event)
    assert dict(stats.counts) == {"connections": 2, "connections_dropped": 1, "associations_accepted": 1,
                                  "associations_rejected": 1, "upstream_unavailable": 1, "stores_forwarded": 2,
                                  "stores_acknowledged": 1, "stores_unacknowledged": 1, "stores_rejected": 1,
                                  "stores_quarantined": 1, "reloads": 1, "contain_peer": 1}


def test_a_failing_observer_does_not_stop_the_others() -> None:
    bus = ev.EventBus()
    seen: list[object] = []

    def broken(event: object) -> None:
        raise RuntimeError("bug")

    bus.subscribe(ev.GatewayState, broken)
    bus.subscribe(ev.GatewayState, seen.append)
    stats = Stats()
    stats.subscribe(bus)
    bus.publish(ev.GatewayState(running=True))
    bus.publish(ev.Connection("h"))
    assert len(seen) == 1 and stats.counts["connections"] == 1


def test_counts_per_calling_ae_title() -> None:
    bus = ev.EventBus()
    stats = Stats()
    stats.subscribe(bus)
    ct, ws = assoc("CT01"), assoc("WS01")
    for event in (ev.AssociationAccepted(ct), ev.StoreForwarded(ct), ev.StoreForwarded(ct),
                  ev.StoreRefused(ct, "", "", CT, "reject", False, 0x0124), ev.AssociationAccepted(ws),
                  ev.AssociationRejected(assoc("EVIL"), "calling AE not recognized")):
        bus.publish(event)
    assert stats.peer_counts() == {"CT01": {"associations": 1, "stores": 2, "stores_refused": 1},
                                   "EVIL": {"rejected": 1}, "WS01": {"associations": 1}}


def test_a_flood_of_guessed_titles_cannot_grow_the_table() -> None:
    from radguard.gateway.addons.stats import MAX_PEERS, OTHER

    bus = ev.EventBus()
    stats = Stats()
    stats.subscribe(bus)
    for i in range(MAX_PEERS + 500):
        bus.publish(ev.AssociationRejected(assoc(f"GUESS{i}"), "calling AE not recognized"))
    peers = stats.peer_counts()
    assert len(peers) == MAX_PEERS + 1 and peers[OTHER] == {"rejected": 500}
