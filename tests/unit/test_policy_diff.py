"""``policy diff``: the entries of a running policy wider than observed use."""

from __future__ import annotations

from pathlib import Path

import pytest

from radguard.errors import UsageError
from radguard.gateway.config import parse_config
from radguard.policy.diff import diff
from radguard.policy.learn import margin
from tests.support.policy_records import CT, ECHO, PACS, T0, association, traffic


def test_wider_entries_are_listed(tmp_path: Path) -> None:
    cfg = parse_config({
        "gateway": {"listen": "10.0.0.5:104", "upstream": f"{PACS[0]}:{PACS[1]}", "upstream_ae": "PACS",
                    "ae_title": "RADGUARD", "control": str(tmp_path / "c.sock")},
        "peer": [{"ae": "CT01", "hosts": ["10.0.0.21", "10.0.1.0/24", "10.0.0.99"],
                  "allow": ["C-ECHO", "C-STORE", "C-MOVE"], "move_destinations": ["WS01"],
                  "requests_per_minute": 500},
                 {"ae": "WS01", "hosts": ["10.0.0.30"], "port": 11113, "allow": ["C-FIND"]},
                 {"ae": "CT02", "hosts": ["10.0.0.22"], "allow": ["C-STORE"], "sop_classes": [CT, ECHO],
                  "associations_per_minute": margin(1), "requests_per_minute": margin(1)}],
    }, tmp_path)
    t = traffic(association("CT01", "10.0.0.21", T0, [("C-STORE", CT, None)]),
                association("CT01", "10.0.1.7", T0 + 1, [("C-STORE", CT, None)]),
                association("CT02", "10.0.0.22", T0 + 2, [("C-STORE", CT, None)]))
    got = {(w.peer, w.kind, w.entry) for w in diff(cfg, t)}
    assert got == {
        ("CT01", "host-range", "10.0.1.0/24"), ("CT01", "host-unused", "10.0.0.99"),
        ("CT01", "operation-unused", "C-ECHO"), ("CT01", "operation-unused", "C-MOVE"),
        ("CT01", "sop-classes-any", "*"), ("CT01", "destination-unused", "WS01"),
        ("CT01", "rate-unset", "associations_per_minute"), ("CT01", "rate-wide", "requests_per_minute"),
        ("WS01", "port-unused", "11113"), ("WS01", "peer-unused", "WS01"),
        ("CT02", "sop-class-unused", ECHO),
    }


def test_no_traffic_toward_the_upstream_is_an_error(tmp_path: Path) -> None:
    cfg = parse_config({"gateway": {"listen": "10.0.0.5:104", "upstream": "10.0.0.10:104", "upstream_ae": "PACS",
                                    "ae_title": "RADGUARD", "control": str(tmp_path / "c.sock")}}, tmp_path)
    with pytest.raises(UsageError, match="nothing to compare"):
        diff(cfg, traffic(association("CT01", "10.0.0.21", T0, server=("10.9.9.9", 104))))
