"""Rate-limit addon: a sliding one-minute window of associations per peer (reject reason 2, local limit
exceeded) and a cap on open associations (reason 1, temporary congestion), PS3.8 §9.3.4."""

from __future__ import annotations

from pathlib import Path

from radguard.dicom.enums import RejectReasonPresentation, RejectResult, RejectSource
from radguard.gateway.addons.allowlist import Allowlist
from radguard.gateway.addons.rate_limit import WINDOW_SECONDS, RateLimit
from radguard.gateway.policy import AssociationInfo
from tests.support.gateway_addons import Ctx, assoc, gateway_config, reject

LIMIT = (RejectResult.REJECTED_TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION,
         RejectReasonPresentation.LOCAL_LIMIT_EXCEEDED)
CONGESTION = (RejectResult.REJECTED_TRANSIENT, RejectSource.SERVICE_PROVIDER_PRESENTATION,
              RejectReasonPresentation.TEMPORARY_CONGESTION)


def _bound(ctx: Ctx, calling: str, host: str = "127.0.0.1", called: str = "RADGUARD") -> AssociationInfo:
    a = assoc(calling, host, called)
    assert Allowlist(ctx).on_associate(a).allowed
    return a


def test_per_peer_sliding_window(tmp_path: Path) -> None:
    now = [1000.0]
    ctx = Ctx(gateway_config(tmp_path, per_minute=2))
    rl = RateLimit(ctx, lambda: 0, clock=lambda: now[0])
    ct = _bound(ctx, "CT01")
    assert rl.on_associate(ct).allowed and rl.on_associate(ct).allowed
    assert reject(rl.on_associate(ct)) == LIMIT
    assert rl.on_associate(_bound(ctx, "WS01", host="10.1.0.7")).allowed  # another peer has its own window
    now[0] += WINDOW_SECONDS - 0.1
    assert reject(rl.on_associate(ct)) == LIMIT  # a refused attempt does not count, the window still holds 2
    now[0] += 0.1
    assert rl.on_associate(ct).allowed


def test_suboperations_count_per_source_host(tmp_path: Path) -> None:
    ctx = Ctx(gateway_config(tmp_path, per_minute=1))
    rl = RateLimit(ctx, lambda: 0, clock=lambda: 5.0)
    unbound = assoc("WHOEVER", host="10.9.9.9")  # not bound to a peer: keyed by its address
    assert rl.on_associate(unbound).allowed
    assert reject(rl.on_associate(assoc("OTHER", host="10.9.9.9"))) == LIMIT
    assert rl.on_associate(assoc("OTHER", host="10.9.9.8")).allowed


def test_cap_on_open_associations(tmp_path: Path) -> None:
    open_now = [3]
    ctx = Ctx(gateway_config(tmp_path, max_associations=3))
    rl = RateLimit(ctx, lambda: open_now[0], clock=lambda: 0.0)
    ct = _bound(ctx, "CT01")
    assert rl.on_associate(ct).allowed  # 3 open, the cap is 3: the association being decided is not counted
    open_now[0] = 4
    d = rl.on_associate(ct)
    assert reject(d) == CONGESTION and "3 associations open" in d.reason
