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
