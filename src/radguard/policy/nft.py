"""An nftables ruleset for the imaging segment: which host may reach which DICOM / DICOMweb port
(45 CFR 164.312(e)(1), NIST CSF 2.0 PR.IR-01: network segmentation).

One table of its own (``inet radguard_imaging``), replaced as a whole when loaded (``nft -f FILE``), so
it never touches other tables. A regular chain ``imaging`` holds, per server port, an ``accept`` for the
sources observed and a counted ``drop`` for every other source; the ``input`` and ``forward`` base chains
(policy accept: traffic to other ports is not this table's business) jump to it, so the same file serves
on the PACS host itself and on a router of the segment. Established connections pass.

The gateway's own address must stay allowed toward its upstream: :func:`lockout_warnings` says when it is
not (an unspecified ``--listen`` address, or one the ruleset does not allow).

Check without loading: ``nft -c -f FILE`` (needs CAP_NET_ADMIN for netlink; unprivileged:
``unshare -rn nft -c -f FILE``, in a user and network namespace of its own).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from radguard.policy.learn import LearnedPolicy, Seen
from radguard.policy.traffic import Traffic

TABLE = "radguard_imaging"


@dataclass
class Endpoint:
    """A server port of the segment and the sources allowed to reach it."""

    host: str
    port: int
    service: str  # "DICOM" or "DICOMweb"
    label: str
    sources: dict[str, Seen] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"server": f"{self.host}:{self.port}", "service": self.service, "label": self.label,
                "sources": {h: s.to_dict() for h, s in sorted(self.sources.items())}}


def _family(addr: str) -> str:
    return "ip6" if ipaddress.ip_address(addr).version == 6 else "ip"


def endpoints(policy: LearnedPolicy, traffic: Traffic, gateway: tuple[str, int] | None) -> list[Endpoint]:
    """The upstream (sources: the kept peers' hosts and the gateway), the gateway's own port (sources: the
    peers' hosts), the peers' ports (source: the upstream's host, for C-MOVE sub-operations), and DICOMweb
    ports seen on those servers' hosts."""
    up_host, up_port = policy.upstream
    up = Endpoint(up_host, up_port, "DICOM", f"upstream {policy.upstream_ae}")
    for p in policy.peers.values():
        if p.calls:
            for h, s in p.hosts.items():
                up.sources.setdefault(h, Seen()).merge(s)
    out = [up]
    if gateway is not None and not ipaddress.ip_address(gateway[0]).is_unspecified:
        up.sources.setdefault(gateway[0], Seen())
        front = Endpoint(gateway[0], gateway[1], "DICOM", "the gateway (radguard)")
        front.sources = {h: Seen() for h in up.sources if h != gateway[0]}
        if any(p.port is not None for p in policy.peers.values()):
            front.sources.setdefault(up_host, Seen())  # C-MOVE sub-operations come through the gateway
        if gateway != policy.upstream:
            out.append(front)
    for p in policy.peers.values():
        if p.port is not None:
            e = Endpoint(next(iter(p.hosts)), p.port, "DICOM", f"C-MOVE destination {p.ae}")
            e.sources[up_host] = p.suboperations
            out.append(e)
    hosts = {e.host for e in out}
    web: dict[tuple[str, int], Endpoint] = {}
    for r in (r for r in traffic.web if r.get("server") in hosts):
        key = (str(r["server"]), int(r["server_port"]))
        e = web.setdefault(key, Endpoint(key[0], key[1], "DICOMweb", "web front end"))
        e.sources.setdefault(str(r["client"]), Seen()).add(str(r["ts"]))
    return out + [web[k] for k in sorted(web)]


def lockout_warnings(policy: LearnedPolicy, gateway_host: str | None) -> list[str]:
    """Warnings when the ruleset would lock the gateway out of its own upstream."""
    host, port = policy.upstream
    if not gateway_host:
        return [f"the gateway's address is unknown: add it to the rule for {host}:{port} or the gateway is "
                "locked out of its upstream"]
    if ipaddress.ip_address(gateway_host).is_unspecified:
        return [f"--listen {gateway_host} names no address of the gateway: the rule for the upstream {host}:{port} "
                "does not allow the gateway; add its address (or pass --listen ADDRESS:PORT) or the gateway is "
                "locked out of its upstream"]
    if _family(gateway_host) != _family(host):
        return [f"the gateway {gateway_host} and its upstream {host}:{port} are of different address families: "
                "the ruleset cannot allow the gateway, which is locked out of its upstream"]
    return []


def render(eps: list[Endpoint]) -> str:
    """The ruleset text (``nft -f``)."""
    lines = [
        "#!/usr/sbin/nft -f",
        "# imaging segment ruleset drafted by `radguard policy learn`: which host may reach which DICOM /",
        "# DICOMweb port. Loading it replaces the table radguard_imaging only. Check: nft -c -f THIS",
        f"table inet {TABLE}",
        f"delete table inet {TABLE}",
        f"table inet {TABLE} {{",
        "  chain imaging {",
        "    ct state established,related accept",
    ]
    for e in eps:
        fam = _family(e.host)
        lines.append(f"    # {e.service} {e.label} at {e.host}:{e.port}: {len(e.sources)} source(s)")
        by_family: dict[str, list[str]] = {}
        for src, seen in sorted(e.sources.items()):
            lines.append(f"    #   {src}: " + (f"{seen.count} connection(s), first {seen.first}, last {seen.last}"
                                               if seen.count else "allowed, not seen on this port"))
            by_family.setdefault(_family(src), []).append(src)
        for sfam, srcs in sorted(by_family.items()):
            if sfam == fam:
                lines.append(f"    {fam} daddr {e.host} tcp dport {e.port} {sfam} saddr {{ {', '.join(srcs)} }} accept")
        lines.append(f"    {fam} daddr {e.host} tcp dport {e.port} counter drop")
    lines += [
        "  }",
        "  chain input {",
        "    type filter hook input priority filter; policy accept;",
        "    jump imaging",
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        "    jump imaging",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"
