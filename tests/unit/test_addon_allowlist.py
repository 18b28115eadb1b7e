"""Allowlist addon: known calling AEs from their hosts, the right called AE, C-MOVE sub-operations only
from the upstream, containment and downtime (PS3.8 §9.3.4 reject reasons)."""

from __future__ import annotations

from pathlib import Path

from radguard.dicom.enums import RejectReasonPresentation, RejectResult, RejectSource
from radguard.gateway.addons.allowlist import Allowlist, host_allowed
from radguard.gateway.policy import Direction
from tests.support.gateway_addons import PERM_USER_3, PERM_USER_7, Ctx, assoc, gateway_config, reject

TRANSIENT_CONGESTION = (RejectResult.REJECTED_TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION,
                        RejectReasonPresentation.TEMPORARY_CONGESTION)


def test_known_peer_from_its_host_is_bound_to_the_upstream(tmp_path: Path) -> None:
    a = Allowlist(Ctx(gateway_config(tmp_path)))
    ok = assoc("CT01")
    assert a.on_associate(ok).allowed
    assert ok.target == ("127.0.0.1", 4242) and ok.target_ae == "ORTHANC"
    assert ok.peer is not None and ok.peer.ae == "CT01" and ok.direction is Direction.INBOUND
    assert a.on_associate(assoc("WS01", host="10.1.2.3")).allowed  # CIDR


def test_unknown_or_misplaced_callers_are_rejected(tmp_path: Path) -> None:
    a = Allowlist(Ctx(gateway_config(tmp_path)))
    assert reject(a.on_associate(assoc("EVIL"))) == PERM_USER_3
    assert reject(a.on_associate(assoc("CT01", host="10.0.0.9"))) == PERM_USER_3
    assert reject(a.on_associate(assoc("CT01", called="PACS"))) == PERM_USER_7
    refused = assoc("EVIL")
    a.on_associate(refused)
    assert refused.peer is None and refused.target is None  # nothing bound on a reject


def test_suboperations_only_from_the_upstream_toward_a_peer_with_a_port(tmp_path: Path) -> None:
    a = Allowlist(Ctx(gateway_config(tmp_path)))
    sub = assoc("ORTHANC", called="WS01")
    assert a.on_associate(sub).allowed
    assert sub.direction is Direction.SUBOPERATION and sub.target == ("10.1.0.7", 11113) and sub.target_ae == "WS01"
    assert reject(a.on_associate(assoc("CT01", called="WS01"))) == PERM_USER_3  # not the upstream
    assert reject(a.on_associate(assoc("ORTHANC", host="10.9.9.9", called="WS01"))) == PERM_USER_3  # not its host
    assert reject(a.on_associate(assoc("ORTHANC", called="CT01"))) == PERM_USER_7  # CT01 has no port


def test_containment_and_downtime(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    a = Allowlist(ctx)
    ctx.containment.apply("peer", "CT01", "tester")
    assert reject(a.on_associate(assoc("CT01"))) == PERM_USER_3
    ctx.containment.apply("peer", "WS01", "tester")
    assert reject(a.on_associate(assoc("ORTHANC", called="WS01"))) == PERM_USER_7  # contained destination
    ctx.containment.apply("release", None, "tester")
    ctx.containment.apply("downtime", None, "tester")
    assert reject(a.on_associate(assoc("WS01", host="10.1.0.1"))) == TRANSIENT_CONGESTION


def test_follows_the_live_configuration(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    a = Allowlist(ctx)
    assert a.on_associate(assoc("CT01")).allowed
    del ctx.config.peers["CT01"]  # as after a SIGHUP reload without CT01
    assert reject(a.on_associate(assoc("CT01"))) == PERM_USER_3


def test_host_allowed() -> None:
    assert host_allowed("127.0.0.1", ("127.0.0.1",))
    assert host_allowed("::ffff:10.0.0.1", ("10.0.0.0/8",))  # IPv4-mapped IPv6
    assert host_allowed("fe80::1%eth0", ("fe80::/64",))  # scope id ignored
    assert host_allowed("127.0.0.1", ("localhost",))  # host names resolve
    assert not host_allowed("10.0.0.1", ("10.0.0.2",))
    assert not host_allowed("not-an-ip", ("127.0.0.1",))
    assert not host_allowed("10.0.0.1", ("no-such-host.invalid",))
