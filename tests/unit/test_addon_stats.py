"""Statistics addon: gateway events counted by kind (the ``stats`` of ``contain --status`` and of the run)."""

from __future__ import annotations

from radguard.gateway import bus as ev
from radguard.gateway.addons.stats import Stats
from tests.support.gateway_addons import CT, assoc


def test_counts_by_kind() -> None:
    bus = ev.EventBus()
    stats = Stats()
    stats.subscribe(bus)
    a = assoc("CT01")
    for event in (ev.ConnectionOpened("127.0.0.1"), ev.AssociationAccepted(a), ev.StoreForwarded(a),
                  ev.StoreForwarded(a), ev.StoreAcknowledged(a, "", "", CT, 0),
                  ev.StoreRefused(a, "reject", False, "", "", CT, 0x0124),
                  ev.StoreRefused(a, "quarantine", True, "", "", CT, 0x0124),
                  ev.Contained("peer", {}, "CT01"), ev.GatewayStarted()):
        bus.publish(event)
    assert dict(stats.counts) == {"connections": 1, "associations_accepted": 1, "stores_forwarded": 2,
                                  "stores_acknowledged": 1, "stores_rejected": 1, "stores_quarantined": 1,
                                  "contain_peer": 1}


def test_a_failing_observer_does_not_stop_the_others() -> None:
    bus = ev.EventBus()
    seen: list[object] = []

    def broken(event: object) -> None:
        raise RuntimeError("bug")

    bus.subscribe(ev.GatewayStarted, broken)
    bus.subscribe(ev.GatewayStarted, seen.append)
    stats = Stats()
    stats.subscribe(bus)
    bus.publish(ev.GatewayStarted())
    bus.publish(ev.ConnectionOpened("h"))
    assert len(seen) == 1 and stats.counts["connections"] == 1
