"""Operations addon: each peer only the DIMSE services of its ``allow`` list; read-only containment refuses
C-STORE; sub-operation associations carry C-STORE and C-ECHO only (status 0x0124, PS3.7 Annex C)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from radguard.dicom.dimse import (
    COMMAND_FIELD,
    MESSAGE_ID,
    Command,
    c_cancel_rq,
    c_echo_rq,
    c_find_rq,
    c_get_rq,
    c_store_rq,
)
from radguard.dicom.enums import Status
from radguard.gateway.addons.allowlist import Allowlist
from radguard.gateway.addons.operations import Operations
from radguard.gateway.policy import AssociationInfo
from tests.support.gateway_addons import CT, FIND, GET, Ctx, assoc, gateway_config


def _bound(ctx: Ctx, calling: str, host: str = "127.0.0.1", called: str = "RADGUARD") -> AssociationInfo:
    a = assoc(calling, host, called)
    assert Allowlist(ctx).on_associate(a).allowed
    return a


def test_only_the_services_a_peer_may_use(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    ops, ct = Operations(ctx), _bound(ctx, "CT01")
    assert ops.on_request(ct, c_echo_rq(1)).allowed
    assert ops.on_request(ct, c_store_rq(2, CT, "1.2.3")).allowed
    refused = ops.on_request(ct, c_find_rq(3, FIND))
    assert not refused.allowed and refused.status == Status.NOT_AUTHORIZED and "C-FIND" in refused.reason
    ws = _bound(ctx, "WS01", host="10.1.0.7")
    assert ops.on_request(ws, c_get_rq(4, GET)).allowed
    assert not ops.on_request(ws, c_store_rq(5, CT, "1.2.3")).allowed


def test_read_only_containment_refuses_stores_only(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    ops, ct = Operations(ctx), _bound(ctx, "CT01")
    ctx.containment.apply("read-only", "CT01", "tester")
    d = ops.on_request(ct, c_store_rq(4, CT, "1.2.3"))
    assert not d.allowed and d.status == Status.NOT_AUTHORIZED and "read-only" in d.reason
    assert ops.on_request(ct, c_echo_rq(5)).allowed
    ctx.containment.apply("release", "CT01", "tester")
    ctx.containment.apply("read-only", None, "tester")  # every peer
    assert not ops.on_request(ct, c_store_rq(6, CT, "1.2.3")).allowed


def test_suboperations_carry_store_and_echo_only(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    ops, sub = Operations(ctx), _bound(ctx, "ORTHANC", called="WS01")
    assert ops.on_request(sub, c_store_rq(1, CT, "1.2.3")).allowed
    assert ops.on_request(sub, c_echo_rq(2)).allowed
    assert not ops.on_request(sub, c_find_rq(3, FIND)).allowed


def test_cancel_unknown_command_and_unbound_association(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    ops, ct = Operations(ctx), _bound(ctx, "CT01")
    assert ops.on_request(ct, c_cancel_rq(3)).allowed  # C-CANCEL is never refused: it only stops what was allowed
    unknown = Command({COMMAND_FIELD: 0x0ABC, MESSAGE_ID: 9})
    assert ops.on_request(ct, unknown).status == Status.UNRECOGNIZED_OPERATION
    assert not ops.on_request(assoc("CT01"), c_echo_rq(1)).allowed  # no peer bound: fail closed


def test_follows_the_live_configuration(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path))
    ops, ct = Operations(ctx), _bound(ctx, "CT01")
    assert ops.on_request(ct, c_store_rq(1, CT, "1.2.3")).allowed
    ctx.config.peers["CT01"] = dataclasses.replace(ctx.config.peers["CT01"], allow=frozenset({"C-ECHO"}))
    assert not ops.on_request(ct, c_store_rq(2, CT, "1.2.3")).allowed
