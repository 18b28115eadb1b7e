"""``policy replay``: recorded associations and requests through the gateway's own addons and sans-io association;
each refusal names the peer, host, operation and the addon that refused; rates run on the capture's clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from radguard.errors import UsageError
from radguard.gateway.config import GatewayConfig, parse_config
from radguard.policy.replay import replay
from tests.support.policy_records import CT, ECHO, FIND, MOVE, MR, PACS, T0, association, traffic


def _config(tmp: Path, **ct01: object) -> GatewayConfig:
    return parse_config({
        "gateway": {"listen": "10.0.0.5:104", "upstream": f"{PACS[0]}:{PACS[1]}", "upstream_ae": "PACS",
                    "ae_title": "PACS", "control": str(tmp / "c.sock")},
        "peer": [{"ae": "CT01", "hosts": ["10.0.0.21"], "allow": ["C-ECHO", "C-STORE"], "sop_classes": [ECHO, CT],
                  **ct01},
                 {"ae": "WS01", "hosts": ["10.0.0.30"], "port": 11113, "allow": ["C-FIND", "C-MOVE"],
                  "move_destinations": ["WS01"]}],
    }, tmp)


def _rows(result: object) -> set[tuple[str, str, str, str]]:
    return {(r["peer"], r["host"], r["operation"], r["rule"]) for r in result.refused}  # type: ignore[attr-defined]


def test_allowed_traffic_passes(tmp_path: Path) -> None:
    r = replay(traffic(association("CT01", "10.0.0.21", T0, [("C-ECHO", ECHO, None), ("C-STORE", CT, None)]),
                       association("WS01", "10.0.0.30", T0 + 5, [("C-FIND", FIND, None), ("C-MOVE", MOVE, "WS01")]),
                       association("PACS", PACS[0], T0 + 6, [("C-STORE", CT, None)], server=("10.0.0.30", 11113),
                                   called="WS01")), _config(tmp_path))
    assert (r.associations, r.requests, r.refused) == (3, 5, [])


def test_each_refusal_names_the_addon(tmp_path: Path) -> None:
    r = replay(traffic(
        association("EVIL", "10.0.0.21", T0),
        association("CT01", "10.0.0.99", T0 + 1, [("C-ECHO", ECHO, None)]),
        association("CT01", "10.0.0.21", T0 + 2, [("C-FIND", FIND, None), ("C-STORE", MR, None),
                                                  ("C-STORE", CT, None)]),
        association("WS01", "10.0.0.30", T0 + 3, [("C-MOVE", MOVE, "ROGUE")]),
        association("PACS", "10.0.0.77", T0 + 4, [("C-STORE", CT, None)], server=("10.0.0.30", 11113), called="WS01"),
    ), _config(tmp_path))
    assert _rows(r) == {("EVIL", "10.0.0.21", "A-ASSOCIATE", "allowlist"),
                        ("CT01", "10.0.0.99", "A-ASSOCIATE", "allowlist"),
                        ("CT01", "10.0.0.21", "C-FIND", "operations"),
                        ("CT01", "10.0.0.21", "C-STORE", "sop_classes"),
                        ("WS01", "10.0.0.30", "C-MOVE", "move_destinations"),
                        ("PACS", "10.0.0.77", "A-ASSOCIATE", "allowlist")}  # a sub-operation not from the upstream
    assert r.requests == 4 and r.skipped["request of a refused association"] == 2
    assert {(b["operation"], b["count"]) for b in r.by_peer()} >= {("A-ASSOCIATE", 1), ("C-MOVE", 1)}
    assert "ROGUE" in next(x["reason"] for x in r.refused if x["operation"] == "C-MOVE")


def test_per_peer_rates_run_on_the_capture_clock(tmp_path: Path) -> None:
    cfg = _config(tmp_path, associations_per_minute=2, requests_per_minute=3)
    burst = [association("CT01", "10.0.0.21", T0 + i, [("C-STORE", CT, None), ("C-STORE", CT, None)])
             for i in range(3)]
    r = replay(traffic(*burst), cfg)
    assert [(x["operation"], x["rule"]) for x in r.refused] == [("C-STORE", "peer_rate"), ("A-ASSOCIATE", "peer_rate")]
    spread = [association("CT01", "10.0.0.21", T0 + 61 * i, [("C-STORE", CT, None)]) for i in range(5)]
    assert replay(traffic(*spread), cfg).refused == []  # one a minute: never over


def test_nothing_toward_the_gateway_is_an_error(tmp_path: Path) -> None:
    elsewhere = traffic(association("CT01", "10.0.0.21", T0, [("C-ECHO", ECHO, None)], server=("10.9.9.9", 104)))
    with pytest.raises(UsageError, match="nothing to replay"):
        replay(elsewhere, _config(tmp_path))
