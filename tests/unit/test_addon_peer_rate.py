"""Per-peer rate addon: a peer's own ``associations_per_minute`` (A-ASSOCIATE-RJ transient, reason 2, PS3.8
§9.3.4) and ``requests_per_minute`` (status 0xA700, PS3.7 Annex C), sliding one-minute windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from radguard.dicom.dimse import c_cancel_rq, c_echo_rq
from radguard.dicom.enums import RejectReasonPresentation, RejectResult, RejectSource, Status
from radguard.errors import ConfigError
from radguard.gateway.addons.allowlist import Allowlist
from radguard.gateway.addons.peer_rate import WINDOW_SECONDS, PeerRate
from radguard.gateway.config import parse_config
from radguard.gateway.policy import AssociationInfo, Direction
from tests.support.gateway_addons import Ctx, assoc, reject

LIMIT = (RejectResult.REJECTED_TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION,
         RejectReasonPresentation.LOCAL_LIMIT_EXCEEDED)


def _ctx(tmp: Path, **ct01: object) -> Ctx:
    return Ctx(parse_config({
        "gateway": {"listen": "127.0.0.1:0", "upstream": "127.0.0.1:4242", "upstream_ae": "PACS",
                    "ae_title": "RADGUARD", "control": str(tmp / "c.sock")},
        "peer": [{"ae": "CT01", "hosts": ["127.0.0.1"], "allow": ["C-ECHO"], **ct01},
                 {"ae": "MR01", "hosts": ["127.0.0.1"], "allow": ["C-ECHO"]}],
    }, tmp))


def _bound(ctx: Ctx, calling: str = "CT01") -> AssociationInfo:
    a = assoc(calling)
    assert Allowlist(ctx).on_associate(a).allowed
    return a


def test_associations_per_minute_of_one_peer(tmp_path: Path) -> None:
    now = [100.0]
    ctx = _ctx(tmp_path, associations_per_minute=2)
    rate = PeerRate(ctx, clock=lambda: now[0])
    ct = _bound(ctx)
    assert rate.on_associate(ct).allowed and rate.on_associate(ct).allowed
    assert reject(rate.on_associate(ct)) == LIMIT
    mr = _bound(ctx, "MR01")
    assert all(rate.on_associate(mr).allowed for _ in range(10))  # no key: only [limits] apply
    now[0] += WINDOW_SECONDS
    assert rate.on_associate(ct).allowed


def test_requests_per_minute_of_one_peer(tmp_path: Path) -> None:
    now = [100.0]
    ctx = _ctx(tmp_path, requests_per_minute=3)
    rate = PeerRate(ctx, clock=lambda: now[0])
    ct = _bound(ctx)
    assert all(rate.on_request(ct, c_echo_rq(i)).allowed for i in range(3))
    d = rate.on_request(ct, c_echo_rq(4))
    assert not d.allowed and d.status == Status.OUT_OF_RESOURCES and "3 requests per minute" in d.reason
    assert rate.on_request(ct, c_cancel_rq(4)).allowed  # a cancel is never held back
    now[0] += 30
    assert not rate.on_request(ct, c_echo_rq(5)).allowed  # refused attempts do not count, the window still holds 3
    now[0] += 30
    assert rate.on_request(ct, c_echo_rq(6)).allowed


def test_suboperations_are_not_limited(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, associations_per_minute=1, requests_per_minute=1)
    rate = PeerRate(ctx, clock=lambda: 1.0)
    a = _bound(ctx)
    a.direction = Direction.SUBOPERATION
    assert all(rate.on_associate(a).allowed and rate.on_request(a, c_echo_rq(1)).allowed for _ in range(5))


@pytest.mark.parametrize("key", ["associations_per_minute", "requests_per_minute"])
def test_rates_must_be_positive_integers(tmp_path: Path, key: str) -> None:
    for bad in (0, -1, "10", 1.5):
        with pytest.raises(ConfigError, match=key):
            _ctx(tmp_path, **{key: bad})
