"""``honeytoken-touched``: a honeytoken study's UID crossed the wire, in a query or retrieve identifier, a
C-FIND answer or a C-STORE (PS3.4 Annex B, C), or in the path of a DICOMweb/REST request (WADO-RS, QIDO-RS,
PS3.18 §10.4/§10.6: a web harvester downloading "everything" takes the honeytokens too). Honeytoken
studies are synthetic (``radguard decoy plant``/``radguard decoy``): nobody legitimate asks for them.
45 CFR 164.308(a)(1)(ii)(D), 164.312(b).

Records carry UIDs only as keyed hashes (``uids``, ``sop_instance``: :func:`radguard.phi.phi_hash`), so
the detection compares hashes: ``context["honeytokens"]`` holds the keyed hashes of the honeytoken UIDs
(:func:`token_hashes` of the honeytoken file, :mod:`radguard.store.honeytokens`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from radguard import rulebook
from radguard.models import Finding
from radguard.monitor.detections import Record, by_kind, endpoint
from radguard.phi import phi_hash

RULE = rulebook.rule("honeytoken-touched")


@dataclass(frozen=True)
class Thresholds:
    """A finding per (source, calling AE, server) after ``min_touches`` operations naming or returning a
    honeytoken."""

    min_touches: int = RULE.thresholds["min_touches"]


def token_hashes(uids: Iterable[str]) -> frozenset[str]:
    """The keyed hashes of honeytoken UIDs, as records carry them."""
    return frozenset(phi_hash(u) for u in uids)


def detect(records: Sequence[Record], thresholds: Thresholds,
           context: Mapping[str, Any] | None = None) -> Iterator[Finding]:
    tokens: frozenset[str] = (context or {}).get("honeytokens") or frozenset()
    if not tokens:
        return
    touched: dict[tuple[str, str, str], list[tuple[Record, int]]] = defaultdict(list)
    for r in (*by_kind(records, "dimse"), *by_kind(records, "http")):
        named = set(r.get("uids") or ())
        if r.get("sop_instance"):
            named.add(str(r["sop_instance"]))
        hits = len(named & tokens)
        if hits:  # a web request has no calling AE: its API (wado-rs, qido-rs, rest) stands in
            caller = r.get("calling_ae") if r.get("kind") == "dimse" else f"({r.get('api')})"
            touched[(str(r.get("client")), str(caller), endpoint(r))].append((r, hits))
    for (client, calling, target), ops in sorted(touched.items()):
        if len(ops) < thresholds.min_touches:
            continue
        commands = Counter(str(r.get("command") or f"{r.get('method')} {r.get('api')}") for r, _ in ops)
        yield RULE.finding(target, {
            "source": client, "calling_ae": calling, "touches": len(ops),
            "honeytoken_uids": sum(h for _, h in ops), "commands": dict(sorted(commands.items())),
            "move_destinations": sorted({str(r["move_destination"]) for r, _ in ops if r.get("move_destination")})})
