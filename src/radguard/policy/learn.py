"""``radguard policy learn``: a least-privilege gateway policy from observed traffic (45 CFR 164.312(a)(1),
164.308(a)(4); NIST CSF 2.0 PR.AA-05).

The **upstream** is the DICOM server that most calling AE titles used (then: most associations). A
**peer** is a calling AE title bound to the source hosts it was seen on: an (AE, host) pair is kept once it
made ``min_associations`` released associations (PS3.8 §7.2) toward the upstream; its ``allow`` list holds
the DIMSE services its requests used (PS3.7 §9, §10), ``sop_classes`` their SOP class UIDs,
``move_destinations`` the C-MOVE destinations it named. Associations from the upstream's host, calling as
the upstream's AE, toward another DICOM server are C-MOVE sub-operations (PS3.4 C.4.2): that server
becomes a ``[[peer]]`` with a ``port``. Rates: ``associations_per_minute`` and ``requests_per_minute`` are
the observed per-minute maxima times :data:`RATE_FACTOR` plus :data:`RATE_HEADROOM`.

**Held back for review**: an (AE, host) pair that a monitor detection implicates (brute force, sweep,
flood, harvesting, malicious object, ...: the detection names the host as its source and either names that
calling AE or none) is left out of the draft and listed. A host all of whose pairs are implicated was seen
only in detected attacks: it is held back as a whole (``whole_host``), also as a C-MOVE destination.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from radguard.errors import UsageError
from radguard.monitor.detections import windows
from radguard.policy.traffic import Association, Traffic

#: learned rate = ceil(observed per-minute maximum x RATE_FACTOR) + RATE_HEADROOM
RATE_FACTOR = 2.0
RATE_HEADROOM = 10
#: the window of the observed maxima (the ``peer_rate`` addon's window)
RATE_WINDOW = 60.0


def margin(observed: int) -> int:
    """The learned per-minute limit for an observed per-minute maximum (documented margin)."""
    return math.ceil(observed * RATE_FACTOR) + RATE_HEADROOM


@dataclass
class Seen:
    """Evidence of one entry: how often, first and last time (ISO 8601 UTC, from the records)."""

    count: int = 0
    first: str = ""
    last: str = ""

    def add(self, ts: str, n: int = 1) -> None:
        self.count += n
        self.first = min(self.first, ts) if self.first else ts
        self.last = max(self.last, ts)

    def merge(self, other: Seen) -> None:
        if other.count:
            self.add(other.first, other.count)
            self.last = max(self.last, other.last)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "first_seen": self.first, "last_seen": self.last}


@dataclass
class PeerDraft:
    """One learned ``[[peer]]`` with the evidence behind each value."""

    ae: str
    hosts: dict[str, Seen] = field(default_factory=dict)
    services: dict[str, Seen] = field(default_factory=dict)
    sop_classes: dict[str, Seen] = field(default_factory=dict)
    move_destinations: dict[str, Seen] = field(default_factory=dict)
    port: int | None = None
    suboperations: Seen = field(default_factory=Seen)  # associations the upstream made toward its port
    association_peak: int = 0
    request_peak: int = 0
    note: str = ""

    @property
    def associations(self) -> int:
        return sum(s.count for s in self.hosts.values())

    @property
    def calls(self) -> bool:
        """It calls the upstream (not only a C-MOVE destination)."""
        return bool(self.hosts) and self.association_peak > 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ae": self.ae, "hosts": {h: s.to_dict() for h, s in self.hosts.items()},
            "allow": {k: s.to_dict() for k, s in sorted(self.services.items())},
            "sop_classes": {k: s.to_dict() for k, s in sorted(self.sop_classes.items())},
            "move_destinations": {k: s.to_dict() for k, s in sorted(self.move_destinations.items())},
            "port": self.port, "note": self.note or None}
        if self.calls:
            out.update(association_peak_per_minute=self.association_peak,
                       request_peak_per_minute=self.request_peak,
                       associations_per_minute=margin(self.association_peak),
                       requests_per_minute=margin(self.request_peak))
        if self.port is not None:
            out["suboperations"] = self.suboperations.to_dict()
        return out


@dataclass
class LearnedPolicy:
    """The learned policy: upstream, peers, held-back hosts, pairs below the threshold."""

    upstream: tuple[str, int]
    upstream_ae: str
    upstream_seen: Seen
    peers: dict[str, PeerDraft]
    held_back: list[dict[str, Any]]
    not_kept: list[dict[str, Any]]
    other_servers: list[dict[str, Any]]
    sources: list[str]
    min_associations: int

    @property
    def entries(self) -> int:
        """Entries learned: one per peer host, service, SOP class and move destination (and port)."""
        return sum(len(p.hosts) + len(p.services) + len(p.sop_classes) + len(p.move_destinations)
                   + (p.port is not None) for p in self.peers.values())

    def to_dict(self) -> dict[str, Any]:
        return {"upstream": {"address": f"{self.upstream[0]}:{self.upstream[1]}", "ae": self.upstream_ae,
                             **self.upstream_seen.to_dict()},
                "peers": [p.to_dict() for p in self.peers.values()], "entries": self.entries,
                "held_back": self.held_back, "not_kept": self.not_kept, "other_servers": self.other_servers,
                "sources": self.sources, "min_associations": self.min_associations,
                "rate_margin": {"factor": RATE_FACTOR, "headroom": RATE_HEADROOM, "window_seconds": RATE_WINDOW}}


def _pick_upstream(assocs: list[Association]) -> tuple[tuple[str, int], str]:
    callers: dict[tuple[str, int, str], set[str]] = {}
    counts: Counter[tuple[str, int, str]] = Counter()
    for a in assocs:
        if a.record.get("result") != "accepted" or not a.called_ae:
            continue
        key = (*a.server, a.called_ae)
        callers.setdefault(key, set()).add(a.calling_ae)
        counts[key] += 1
    if not counts:
        raise UsageError("no accepted DICOM association in the traffic: nothing to learn an upstream from")
    host, port, ae = max(counts, key=lambda k: (len(callers[k]), counts[k], k))
    return (host, port), ae


def _peak(times: list[float]) -> int:
    return windows(sorted(times), RATE_WINDOW) if times else 0


def learn(traffic: Traffic, min_associations: int = 1) -> LearnedPolicy:
    """Learn the policy from ``traffic`` (see the module docstring for the rules)."""
    if min_associations < 1:
        raise UsageError("--min-associations must be at least 1")
    assocs = traffic.associations
    upstream, up_ae = _pick_upstream(assocs)
    implicated = traffic.implicated()
    up_seen = Seen()
    pairs: dict[tuple[str, str], list[Association]] = {}
    sub: dict[tuple[str, int, str], list[Association]] = {}
    others: dict[tuple[str, int], Seen] = {}
    for a in assocs:
        if a.server == upstream:
            up_seen.add(str(a.record["ts"]))
            pairs.setdefault((a.calling_ae, a.client), []).append(a)
        elif a.client == upstream[0] and a.calling_ae == up_ae and a.called_ae:
            sub.setdefault((*a.server, a.called_ae), []).append(a)
        else:
            others.setdefault(a.server, Seen()).add(str(a.record["ts"]))
    held = _held_back(pairs, implicated)
    peers: dict[str, PeerDraft] = {}
    not_kept = []
    kept: dict[str, list[Association]] = {}
    for (ae, host), items in sorted(pairs.items()):
        released = [a for a in items if a.released]
        if host in held and ae in held[host]["calling_aes"]:
            continue
        if len(released) < min_associations:
            not_kept.append({"ae": ae, "host": host, "associations": len(items), "released": len(released)})
            continue
        p = peers.setdefault(ae, PeerDraft(ae))
        for a in released:
            p.hosts.setdefault(host, Seen()).add(str(a.record["ts"]))
        kept.setdefault(ae, []).extend(released)
    for ae, items in kept.items():
        p = peers[ae]
        for a in items:
            for q in a.requests:
                ts = str(q["ts"])
                p.services.setdefault(str(q["command"]), Seen()).add(ts)
                if q.get("sop_class"):
                    p.sop_classes.setdefault(str(q["sop_class"]).strip("\0 "), Seen()).add(ts)
                if q.get("command") == "C-MOVE" and q.get("move_destination"):
                    p.move_destinations.setdefault(str(q["move_destination"]).strip(), Seen()).add(ts)
        p.association_peak = _peak([a.ts for a in items])
        p.request_peak = _peak([a.ts for a in items for _ in a.requests])
    _destinations(peers, sub, {h for h, e in held.items() if e["whole_host"]})
    other_servers = [{"server": f"{h}:{p}", **s.to_dict()} for (h, p), s in sorted(others.items())]
    return LearnedPolicy(upstream, up_ae, up_seen, peers, list(held.values()), not_kept, other_servers,
                         traffic.sources, min_associations)


def _held_back(pairs: dict[tuple[str, str], list[Association]],
               implicated: dict[str, dict[str, frozenset[str] | None]]) -> dict[str, dict[str, Any]]:
    """Host -> {host, rules, calling_aes (implicated pairs: associations), whole_host}."""
    held: dict[str, dict[str, Any]] = {}
    for (ae, host), items in sorted(pairs.items()):
        rules = sorted(r for r, aes in implicated.get(host, {}).items() if aes is None or ae in aes)
        if rules:
            entry = held.setdefault(host, {"host": host, "rules": [], "calling_aes": {}, "whole_host": True})
            entry["rules"] = sorted(set(entry["rules"]) | set(rules))
            entry["calling_aes"][ae] = len(items)
    for host, entry in held.items():
        entry["whole_host"] = all(ae in entry["calling_aes"] for (ae, h) in pairs if h == host)
    return held


def _destinations(peers: dict[str, PeerDraft], sub: dict[tuple[str, int, str], list[Association]],
                  attackers: set[str]) -> None:
    """C-MOVE destinations: the servers the upstream's sub-operations reached get a ``port``; a named
    destination never reached is bound to the hosts of the peers that named it, with no service."""
    for (host, port, ae), items in sorted(sub.items()):
        if host in attackers:
            continue
        p = peers.setdefault(ae, PeerDraft(ae))
        if p.port is not None:
            continue  # one port per AE: the first server seen (sorted) wins
        p.port = port
        for a in items:
            p.suboperations.add(str(a.record["ts"]))
        p.hosts = {host: p.hosts.get(host, Seen()), **{h: s for h, s in p.hosts.items() if h != host}}
        if not p.calls:
            p.note = "C-MOVE destination: the upstream's sub-operations reach it here; it never called the upstream"
    for src in list(peers.values()):
        for dest in src.move_destinations:
            if dest in peers:
                continue
            d = peers[dest] = PeerDraft(dest, note=f"C-MOVE destination named by {src.ae}, never seen receiving: "
                                                   "bound to its hosts, no service")
            d.hosts = {h: Seen() for h in src.hosts}
