"""``radguard policy learn|replay|diff`` as library calls: read the traffic, learn/replay/compare, write.

The CLI module (:mod:`radguard.cli.policy_cmd`) only parses arguments and prints.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radguard.errors import ConfigError, UsageError
from radguard.gateway.config import GatewayConfig, load_config, parse_config
from radguard.hostport import parse_host_port
from radguard.policy import draft, nft
from radguard.policy.diff import Wider, diff
from radguard.policy.learn import LearnedPolicy, learn
from radguard.policy.replay import ReplayResult, replay
from radguard.policy.traffic import Traffic, from_captures, from_store


@dataclass
class Learned:
    """A learn run: the policy, its draft gateway.toml, the nftables ruleset, warnings."""

    policy: LearnedPolicy
    config_text: str
    nft_text: str
    endpoints: list[nft.Endpoint]
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {**self.policy.to_dict(), "nftables": [e.to_dict() for e in self.endpoints],
                "warnings": self.warnings}


def traffic_of(captures: Sequence[Path], use_store: bool) -> Traffic:
    """The traffic of capture files, or of the store's monitor records (exactly one of the two)."""
    if use_store and captures:
        raise UsageError("give capture files or --from-store, not both")
    if use_store:
        return from_store()
    if not captures:
        raise UsageError("give capture files (pcap/pcapng) or --from-store")
    return from_captures(captures)


def listen_address(text: str) -> tuple[str, int]:
    """``--listen HOST:PORT`` (an IP address: it also names the gateway in the nftables ruleset)."""
    import ipaddress

    address = parse_host_port(text)
    if address is not None:
        try:
            ipaddress.ip_address(address[0])
        except ValueError:
            address = None
    if address is None:
        raise UsageError(f"--listen must be IP:PORT, got {text!r}")
    return address


def check_learn_args(listen: str, min_associations: int) -> None:
    """``--listen`` and ``--min-associations``, checked before the traffic is read."""
    listen_address(listen)
    if min_associations < 1:
        raise UsageError("--min-associations must be at least 1")


def run_learn(traffic: Traffic, listen: str, min_associations: int) -> Learned:
    """Learn, draft the gateway.toml (validated by the gateway's own loader), draft the ruleset."""
    gateway = listen_address(listen)
    policy = learn(traffic, min_associations)
    text = draft.render(policy, listen)
    try:
        cfg = parse_config(tomllib.loads(text), Path.cwd())
    except (ConfigError, tomllib.TOMLDecodeError) as exc:  # a bug here must not hand out a broken policy
        raise UsageError(f"the learned policy does not load: {exc}") from None
    warnings = [w for w in cfg.warnings]
    if not policy.peers:
        warnings.append("no peer kept: every (AE, host) pair was held back or below --min-associations")
    if policy.held_back:
        warnings.append(f"{len(policy.held_back)} host(s) held back for review (named by detections): "
                        + ", ".join(h["host"] for h in policy.held_back))
    eps = nft.endpoints(policy, traffic, gateway)
    warnings += nft.lockout_warnings(policy, gateway[0])
    return Learned(policy, text, nft.render(eps), eps, warnings)


def load_gateway_config(path: Path) -> GatewayConfig:
    """``--config``: the gateway's loader; an undecodable file is a one-line error too."""
    try:
        return load_config(path)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (a TOML gateway configuration is expected)") from None


def run_replay(capture: Sequence[Path], config: Path) -> ReplayResult:
    cfg = load_gateway_config(config)
    return replay(from_captures(capture), cfg)


def run_diff(captures: Sequence[Path], config: Path) -> list[Wider]:
    cfg = load_gateway_config(config)
    return diff(cfg, from_captures(captures))
