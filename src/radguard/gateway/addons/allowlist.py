"""Allowlist: only known AE titles, from their bound addresses, calling the right AE (45 CFR 164.312(a)(1), (d)).

Unknown calling AE, a known one from another address, or a contained peer: A-ASSOCIATE-RJ
rejected-permanent, service-user, reason 3 (calling AE not recognized); wrong called AE: reason 7
(PS3.8 §9.3.4). During ``--downtime`` every association is rejected-transient (temporary congestion).
C-MOVE sub-operation associations (upstream toward a ``[[peer]]`` with a ``port``) are accepted
only from the upstream's address.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from radguard.gateway.policy import (
    REJECT_CALLED_AE,
    REJECT_CALLING_AE,
    REJECT_CONGESTION,
    AssociationInfo,
    Context,
    Decision,
    Direction,
    deny_association,
)


@lru_cache(maxsize=256)
def _addresses(entry: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """An allowlist entry as networks: an IP, a CIDR, or a host name (resolved once)."""
    try:
        return (ipaddress.ip_network(entry, strict=False),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(entry, None)
    except OSError:
        return ()
    return tuple({ipaddress.ip_network(str(i[4][0]).split("%")[0]) for i in infos})


def host_allowed(host: str, entries: tuple[str, ...]) -> bool:
    """True if ``host`` (an IP address) matches one of ``entries``."""
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for entry in entries for net in _addresses(entry))


class Allowlist:
    """Calling AE + source address + called AE checks, and containment of peers."""

    name = "allowlist"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def on_associate(self, assoc: AssociationInfo) -> Decision:
        cfg, cont = self.ctx.config, self.ctx.containment
        if cont.downtime:
            return deny_association("downtime: the gateway accepts no association", REJECT_CONGESTION)
        if assoc.called_ae != cfg.ae_title:
            dest = cfg.peer_for_port_ae(assoc.called_ae)
            if dest is None:
                return deny_association(f"called AE {assoc.called_ae!r} not recognized", REJECT_CALLED_AE)
            # C-MOVE sub-operations: only the upstream may call a peer's AE through the gateway
            if assoc.calling_ae != cfg.upstream_ae or not host_allowed(assoc.client_host, (cfg.upstream[0],)):
                return deny_association(f"{assoc.calling_ae}@{assoc.client_host} may not call {assoc.called_ae}",
                                        REJECT_CALLING_AE)
            if dest.ae in cont.peers:
                return deny_association(f"peer {dest.ae} is contained", REJECT_CALLED_AE)
            assert dest.port is not None
            assoc.direction = Direction.SUBOPERATION
            assoc.peer = dest
            assoc.target = (dest.hosts[0], dest.port)
            assoc.target_ae = dest.ae
            return Decision.allow()
        peer = cfg.peers.get(assoc.calling_ae)
        if peer is None:
            return deny_association(f"calling AE {assoc.calling_ae!r} not recognized", REJECT_CALLING_AE)
        if not host_allowed(assoc.client_host, peer.hosts):
            return deny_association(f"calling AE {peer.ae} from {assoc.client_host}, not from its hosts",
                                    REJECT_CALLING_AE)
        if peer.ae in cont.peers:
            return deny_association(f"peer {peer.ae} is contained", REJECT_CALLING_AE)
        assoc.peer = peer
        assoc.target = cfg.upstream
        assoc.target_ae = cfg.upstream_ae
        return Decision.allow()
