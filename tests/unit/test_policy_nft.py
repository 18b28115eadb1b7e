"""The nftables ruleset of ``policy learn``: its own table, per server port an accept of the allowed sources and a
counted drop, the gateway allowed toward its upstream, and a warning when it cannot be (lock-out)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from radguard.policy import nft
from radguard.policy.learn import learn
from tests.support.policy_records import CT, PACS, T0, association, traffic


def _policy_and_traffic() -> tuple[object, object]:
    t = traffic(association("CT01", "10.0.0.21", T0, [("C-STORE", CT, None)]),
                association("CT02", "10.0.0.22", T0 + 1, [("C-STORE", CT, None)]),
                association("PACS", PACS[0], T0 + 2, [("C-STORE", CT, None)], server=("10.0.0.30", 11113),
                            called="WS01"))
    t.web.append({"kind": "connection", "ts": "2027-01-15T08:00:00Z", "client": "10.0.0.21", "server": PACS[0],
                  "server_port": 443, "bytes_server": 100, "state": "closed"})
    return learn(t), t


def test_ruleset_allows_the_observed_and_the_gateway(tmp_path: Path) -> None:
    policy, t = _policy_and_traffic()
    eps = nft.endpoints(policy, t, ("10.0.0.5", 104))  # type: ignore[arg-type]
    text = nft.render(eps)
    assert text.count("table inet radguard_imaging") == 3  # create, delete, define: loading replaces it
    assert "ip daddr 10.0.0.10 tcp dport 104 ip saddr { 10.0.0.21, 10.0.0.22, 10.0.0.5 } accept" in text
    assert "ip daddr 10.0.0.5 tcp dport 104 ip saddr { 10.0.0.10, 10.0.0.21, 10.0.0.22 } accept" in text
    assert "ip daddr 10.0.0.30 tcp dport 11113 ip saddr { 10.0.0.10 } accept" in text
    assert "ip daddr 10.0.0.10 tcp dport 443 ip saddr { 10.0.0.21 } accept" in text  # DICOMweb seen answering
    assert text.count("counter drop") == 4
    assert nft.lockout_warnings(policy, "10.0.0.5") == []  # type: ignore[arg-type]
    binary = shutil.which("nft") or "/usr/sbin/nft"
    path = tmp_path / "r.nft"
    path.write_text(text)
    proc = subprocess.run(["unshare", "-rn", binary, "-c", "-f", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(("listen", "warning"), [
    ("0.0.0.0", "locked out"), ("::", "locked out"), ("fd00::5", "different address families"), (None, "unknown")])
def test_lockout_of_the_upstream_is_warned(listen: str | None, warning: str) -> None:
    policy, _ = _policy_and_traffic()
    [w] = nft.lockout_warnings(policy, listen)  # type: ignore[arg-type]
    assert warning in w and "10.0.0.10:104" in w


def test_ipv6_sources_get_their_own_family() -> None:
    t = traffic(association("CT01", "fd00::21", T0, [("C-STORE", CT, None)], server=("fd00::10", 104)))
    text = nft.render(nft.endpoints(learn(t), t, ("fd00::5", 104)))
    assert "ip6 daddr fd00::10 tcp dport 104 ip6 saddr { fd00::21, fd00::5 } accept" in text
