"""SOP-classes addon: a peer's requests may name only the SOP classes of its ``sop_classes`` list (status 0x0124,
PS3.7 Annex C); without the key any SOP class passes; the key is validated when the configuration loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from radguard.dicom.dimse import c_cancel_rq, c_echo_rq, c_find_rq, c_store_rq
from radguard.dicom.enums import Status
from radguard.errors import ConfigError
from radguard.gateway.addons.allowlist import Allowlist
from radguard.gateway.addons.sop_classes import SopClasses
from radguard.gateway.config import parse_config
from radguard.gateway.policy import AssociationInfo, Direction
from tests.support.gateway_addons import CT, FIND, Ctx, assoc


def _ctx(tmp: Path, **peer: object) -> Ctx:
    return Ctx(parse_config({
        "gateway": {"listen": "127.0.0.1:0", "upstream": "127.0.0.1:4242", "upstream_ae": "PACS",
                    "ae_title": "RADGUARD", "control": str(tmp / "c.sock")},
        "peer": [{"ae": "CT01", "hosts": ["127.0.0.1"], "allow": ["C-ECHO", "C-STORE", "C-FIND"], **peer}],
    }, tmp))


def _bound(ctx: Ctx) -> AssociationInfo:
    a = assoc("CT01")
    assert Allowlist(ctx).on_associate(a).allowed
    return a


def test_only_listed_sop_classes_pass(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, sop_classes=[CT, "1.2.840.10008.1.1"])
    addon, a = SopClasses(ctx), _bound(ctx)
    assert addon.on_request(a, c_store_rq(1, CT, "1.2.3")).allowed
    assert addon.on_request(a, c_echo_rq(2)).allowed
    d = addon.on_request(a, c_find_rq(3, FIND))
    assert not d.allowed and d.status == Status.NOT_AUTHORIZED and FIND in d.reason
    assert addon.on_request(a, c_cancel_rq(3)).allowed  # names no SOP class


def test_without_the_key_any_sop_class_passes(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    assert ctx.config.peers["CT01"].sop_classes == frozenset()
    assert SopClasses(ctx).on_request(_bound(ctx), c_find_rq(1, FIND)).allowed


def test_suboperations_are_not_checked(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, sop_classes=[CT])
    a = _bound(ctx)
    a.direction = Direction.SUBOPERATION
    assert SopClasses(ctx).on_request(a, c_store_rq(1, "1.2.840.10008.5.1.4.1.1.4", "1.2.3")).allowed


@pytest.mark.parametrize("bad", [["not-a-uid"], ["1.2.03"], ["1." + "2" * 70], [""], "1.2.3"])
def test_bad_sop_classes_do_not_load(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ConfigError, match="sop_classes"):
        _ctx(tmp_path, sop_classes=bad)
