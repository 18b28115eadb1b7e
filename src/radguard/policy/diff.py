"""``radguard policy diff``: entries of a running gateway policy wider than the use observed (45 CFR
164.308(a)(4)(ii)(C) access review; NIST CSF 2.0 PR.AA-05).

For every ``[[peer]]`` of the configuration, against the traffic toward its upstream (the associations
of the peer's AE, from any host): a peer never seen, hosts never seen (an address no association came
from; a network range, which is wider than any host), DIMSE services never used, SOP classes never used
or not restricted at all, C-MOVE destinations never named, and per-peer rates absent or far above the
observed maxima. A peer with a ``port`` that no sub-operation reached is reported too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from radguard.errors import UsageError
from radguard.gateway.addons.allowlist import host_allowed
from radguard.gateway.config import GatewayConfig, PeerConfig
from radguard.monitor.detections import windows
from radguard.policy.learn import RATE_WINDOW, margin
from radguard.policy.traffic import Association, Traffic


@dataclass(frozen=True, slots=True)
class Wider:
    """One entry wider than observed use."""

    peer: str
    kind: str  # peer-unused, host-unused, host-range, operation-unused, sop-class-unused, sop-classes-any, ...
    entry: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"peer": self.peer, "kind": self.kind, "entry": self.entry, "detail": self.detail}


def _is_range(entry: str) -> bool:
    try:
        net = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False  # a host name: one host
    return net.num_addresses > 1


def _peer(p: PeerConfig, seen: list[Association], reached: int) -> Iterator[Wider]:
    if p.port is not None and not reached:
        yield Wider(p.ae, "port-unused", str(p.port), "no C-MOVE sub-operation reached this peer's port")
    if not seen:
        if p.allow:
            yield Wider(p.ae, "peer-unused", p.ae, f"never called the upstream (allowed: {', '.join(sorted(p.allow))})")
        return
    for h in p.hosts:
        used = [a for a in seen if host_allowed(a.client, (h,))]
        if not used:
            yield Wider(p.ae, "host-unused", h, "no association came from it")
        elif _is_range(h):
            hosts = sorted({a.client for a in used})
            yield Wider(p.ae, "host-range", h, f"a range; only {len(hosts)} host(s) seen: {', '.join(hosts[:5])}")
    requests = [q for a in seen for q in a.requests]
    used_services = {str(q["command"]) for q in requests}
    for s in sorted(p.allow - used_services):
        yield Wider(p.ae, "operation-unused", s, "allowed, never requested")
    used_classes = {str(q["sop_class"]).strip("\0 ") for q in requests if q.get("sop_class")}
    if not p.sop_classes and used_classes:
        yield Wider(p.ae, "sop-classes-any", "*", f"any SOP class allowed; {len(used_classes)} used")
    for uid in sorted(p.sop_classes - used_classes):
        yield Wider(p.ae, "sop-class-unused", uid, "allowed, never used")
    named = {str(q.get("move_destination") or "").strip() for q in requests if q.get("command") == "C-MOVE"}
    for dest in sorted(set(p.move_destinations) - named):
        yield Wider(p.ae, "destination-unused", dest, "allowed C-MOVE destination, never named")
    peaks = {"associations_per_minute": windows(sorted(a.ts for a in seen), RATE_WINDOW),
             "requests_per_minute": windows(sorted(a.ts for a in seen for _ in a.requests), RATE_WINDOW)}
    for key, peak in peaks.items():
        limit = getattr(p, key)
        if limit is None:
            yield Wider(p.ae, "rate-unset", key, f"only [limits] apply; observed maximum {peak}, learned would be "
                                                 f"{margin(peak)}")
        elif limit > margin(peak):
            yield Wider(p.ae, "rate-wide", key, f"{limit} per minute; observed maximum {peak} (margin {margin(peak)})")


def diff(cfg: GatewayConfig, traffic: Traffic) -> list[Wider]:
    """Entries of ``cfg`` wider than the use ``traffic`` shows (see the module docstring)."""
    toward = [a for a in traffic.associations if a.server == cfg.upstream and a.record.get("result") == "accepted"]
    if not toward:
        host, port = cfg.upstream
        raise UsageError(f"no accepted association toward the upstream {host}:{port} in the traffic: "
                         "nothing to compare the policy with")
    out: list[Wider] = []
    for p in cfg.peers.values():
        seen = [a for a in toward if a.calling_ae == p.ae]
        reached = 0
        if p.port is not None:
            reached = sum(1 for a in traffic.associations if a.server == (p.hosts[0], p.port))
        out.extend(_peer(p, seen, reached))
    return out
