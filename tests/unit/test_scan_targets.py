"""Target and port specifications of ``radguard scan`` (nmap-style)."""

from __future__ import annotations

from pathlib import Path

import pytest

from radguard.assess.targets import DEFAULT_PORTS, expand_targets, format_target, parse_ports
from radguard.errors import UsageError


def test_ports_default_and_lists() -> None:
    assert parse_ports(None) == list(DEFAULT_PORTS) == [104, 11112, 4242, 2762, 2761, 8042, 8080, 80, 443]
    assert parse_ports("104,4242,8000-8003, 104") == [104, 4242, 8000, 8001, 8002, 8003]


@pytest.mark.parametrize("bad", ["0", "65536", "10-5", "abc", "1-x", ",,"])
def test_ports_invalid(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_ports(bad)


def test_targets_cidr_range_names_file(tmp_path: Path) -> None:
    assert expand_targets(["10.0.0.0/30"]) == ["10.0.0.1", "10.0.0.2"]
    assert expand_targets(["10.0.0.1/32"]) == ["10.0.0.1"]
    assert expand_targets(["127.0.0.1-3"]) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert expand_targets(["127.0.0.254-127.0.1.1"]) == ["127.0.0.254", "127.0.0.255", "127.0.1.0", "127.0.1.1"]
    assert expand_targets(["PACS.example.org.", "::1"]) == ["pacs.example.org", "::1"]
    f = tmp_path / "targets.txt"
    f.write_text("# site A\n127.0.0.1 127.0.0.2, localhost\n\n127.0.0.1  # duplicate\n")
    assert expand_targets([f"@{f}", "127.0.0.9"]) == ["127.0.0.1", "127.0.0.2", "localhost", "127.0.0.9"]
    assert len(expand_targets(["10.1.0.0/27"])) == 30


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "10.0.0.5-1", "10.0.0.1-300", "-bad-", "a..b", "10.0.0.0/8", "@/nope"])
def test_targets_invalid(bad: str) -> None:
    with pytest.raises(UsageError):
        expand_targets([bad])


def test_format_target() -> None:
    assert format_target("127.0.0.1", 104) == "127.0.0.1:104"
    assert format_target("::1", 104) == "[::1]:104"
