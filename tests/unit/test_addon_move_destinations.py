"""Move-destinations addon: C-MOVE only toward destinations the peer may use, never toward a contained one
(status 0xA801 Refused: move destination unknown, PS3.4 C.4.2.1.5)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from radguard.dicom.dimse import c_echo_rq, c_find_rq, c_move_rq
from radguard.dicom.enums import Status
from radguard.gateway.addons.allowlist import Allowlist
from radguard.gateway.addons.move_destinations import MoveDestinations
from radguard.gateway.policy import AssociationInfo
from tests.support.gateway_addons import FIND, MOVE, Ctx, assoc, gateway_config


def _ws01(ctx: Ctx) -> AssociationInfo:
    ws = assoc("WS01", host="10.1.0.5")
    assert Allowlist(ctx).on_associate(ws).allowed
    return ws


def test_only_allowed_destinations(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    md, ws = MoveDestinations(ctx), _ws01(ctx)
    assert md.on_request(ws, c_move_rq(1, MOVE, "WS01")).allowed
    assert md.on_request(ws, c_move_rq(2, MOVE, "WS01  ")).allowed  # AE titles are space padded
    bad = md.on_request(ws, c_move_rq(3, MOVE, "EVIL"))
    assert not bad.allowed and bad.status == Status.MOVE_DESTINATION_UNKNOWN and "EVIL" in bad.reason


def test_other_requests_are_not_its_business(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    md = MoveDestinations(ctx)
    assert md.on_request(_ws01(ctx), c_echo_rq(1)).allowed
    assert md.on_request(assoc("ANY"), c_find_rq(2, FIND)).allowed  # even unbound: C-FIND is not a move


def test_contained_destination_and_unbound_association(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    md, ws = MoveDestinations(ctx), _ws01(ctx)
    ctx.containment.apply("peer", "WS01", "tester")
    assert md.on_request(ws, c_move_rq(1, MOVE, "WS01")).status == Status.MOVE_DESTINATION_UNKNOWN
    assert md.on_request(assoc("WS01"), c_move_rq(2, MOVE, "WS01")).status == Status.MOVE_DESTINATION_UNKNOWN


def test_follows_the_live_configuration(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    md, ws = MoveDestinations(ctx), _ws01(ctx)
    ctx.config.peers["WS01"] = dataclasses.replace(ctx.config.peers["WS01"], move_destinations=("WS02",))
    assert not md.on_request(ws, c_move_rq(1, MOVE, "WS01")).allowed
    assert md.on_request(ws, c_move_rq(2, MOVE, "WS02")).allowed
