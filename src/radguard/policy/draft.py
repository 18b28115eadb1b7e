"""The learned policy as a draft ``gateway.toml`` (docs/gateway.md), every entry annotated with its evidence.

The draft loads as it is (``radguard gateway --config FILE --check``): ``[gateway]`` takes the upstream's
address and AE title from the observed called peer and ``listen`` from ``--listen``; the gateway answers as
the upstream's AE title, so clients change only the address they call. Evidence (counts, first and last
seen) is written as TOML comments next to each value; held-back hosts and pairs below the threshold are
listed as comments for review.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from radguard.policy.learn import RATE_FACTOR, RATE_HEADROOM, LearnedPolicy, PeerDraft, Seen, margin


def _q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=True)


def _ev(seen: Seen) -> str:
    if not seen.count:
        return "not seen"
    return f"{seen.count}x, first {seen.first}, last {seen.last}"


def _sop_name(uid: str) -> str:
    from pydicom.uid import UID

    name = UID(uid).name
    return name if name and name != uid else "unknown SOP class"


def _array(key: str, items: Mapping[str, Seen], describe: bool = False) -> list[str]:
    if not items:
        return [f"{key} = []"]
    lines = [f"{key} = ["]
    for value, seen in sorted(items.items()):
        label = f"{_sop_name(value)}; " if describe else ""
        lines.append(f"  {_q(value)},  # {label}{_ev(seen)}")
    lines.append("]")
    return lines


def _peer(p: PeerDraft) -> list[str]:
    out = ["", "[[peer]]"]
    if p.note:
        out.append(f"# {p.note}")
    out.append(f"ae = {_q(p.ae)}" + (f"  # {p.associations} released association(s)" if p.calls else ""))
    out += _array("hosts", p.hosts)
    if p.port is not None:
        out.append(f"port = {p.port}  # C-MOVE sub-operations: {_ev(p.suboperations)}")
    out += _array("allow", p.services)
    if p.sop_classes:
        out += _array("sop_classes", p.sop_classes, describe=True)
    if p.move_destinations:
        out += _array("move_destinations", p.move_destinations)
    if p.calls:
        out.append(f"associations_per_minute = {margin(p.association_peak)}  # observed maximum "
                   f"{p.association_peak} per minute")
        out.append(f"requests_per_minute = {margin(p.request_peak)}  # observed maximum {p.request_peak} per minute")
    return out


def render(policy: LearnedPolicy, listen: str) -> str:
    """The draft ``gateway.toml`` text."""
    host, port = policy.upstream
    upstream = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [
        "# gateway.toml drafted by `radguard policy learn` from: " + ", ".join(policy.sources),
        f"# {policy.entries} entries learned; a peer (AE + host) is kept after {policy.min_associations} released "
        "association(s).",
        f"# rates: observed per-minute maximum x {RATE_FACTOR:g} + {RATE_HEADROOM}. Review, then "
        "`radguard policy replay CAPTURE --config THIS` before enforcing.",
        "",
        "[gateway]",
        f"listen = {_q(listen)}",
        f"upstream = {_q(upstream)}  # {_ev(policy.upstream_seen)}",
        f"upstream_ae = {_q(policy.upstream_ae)}",
        f"ae_title = {_q(policy.upstream_ae)}  # clients keep calling the upstream's AE title",
    ]
    for p in policy.peers.values():
        lines += _peer(p)
    if policy.held_back:
        lines += ["", "# HELD BACK for review: (AE, host) pairs a monitor detection implicates (not in this policy)"]
        for h in policy.held_back:
            aes = ", ".join(f"{ae} ({n} association(s))" for ae, n in sorted(h["calling_aes"].items()))
            whole = "seen only in detected attacks; " if h["whole_host"] else ""
            lines.append(f"#   {h['host']}: {whole}{', '.join(h['rules'])}; calling as {aes}")
    if policy.not_kept:
        lines += ["", f"# not kept (fewer than {policy.min_associations} released association(s)):"]
        lines += [f"#   {n['ae']} from {n['host']}: {n['associations']} association(s), {n['released']} released"
                  for n in policy.not_kept]
    if policy.other_servers:
        lines += ["", "# other DICOM servers seen (not behind this gateway):"]
        lines += [f"#   {s['server']}: {s['count']} association(s)" for s in policy.other_servers]
    return "\n".join(lines) + "\n"
