"""``radguard.hostport``: the one HOST:PORT parser of the CLI options and the gateway configuration."""

from __future__ import annotations

import pytest

from radguard.hostport import parse_host_port


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:11112", ("127.0.0.1", 11112)),
        ("pacs.example.org:104", ("pacs.example.org", 104)),
        ("[::1]:4242", ("::1", 4242)),
        ("::1:4242", ("::1", 4242)),  # the port is after the last colon
        ("h:65535", ("h", 65535)),
    ],
)
def test_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected
    assert parse_host_port(text, port_zero=True) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", ":104", "h:", "h:65536", "h:-1", "h:1e3", "h: 104", "h:port", ""])
def test_not_an_address(text: str) -> None:
    assert parse_host_port(text) is None
    assert parse_host_port(text, port_zero=True) is None


def test_port_zero_only_for_a_listener() -> None:
    assert parse_host_port("0.0.0.0:0") is None
    assert parse_host_port("0.0.0.0:0", port_zero=True) == ("0.0.0.0", 0)
