"""Crosswalks between the control catalogs (HIPAA Security Rule, NIST CSF 2.0, HICP, HPH CPGs), as data.

Each file in ``crosswalks/`` maps the controls of one framework (``"from"``) to controls of the others;
its edition and source are stated in the file and in ``README.md``. A crosswalk is read both ways:
:func:`related` of ``csf:PR.DS-02`` lists the HIPAA specifications and CPG goals that map to it.

File format::

    {"name": "...", "from": "cpg", "edition": "...", "source": "...",
     "maps": {"ESS-05": {"hipaa": ["164.312(e)(2)(ii)"], "csf": ["PR.DS-02"], "hicp": ["4.M.C"]}},
     "basis": {"published_by": "...", "published": {"ESS-05": ["csf:PR.DS-02"]}}}

``basis`` says where each pair comes from: a target listed under ``basis.published[<id>]`` is in the
published crosswalk named by ``basis.published_by``; every other target of ``maps`` is radguard's own
judgement (:func:`basis_of`). A file without ``basis`` is judgement throughout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True, kw_only=True, slots=True)
class Crosswalk:
    """One crosswalk file: ``maps[ref]`` is the tuple of refs (``framework:id``) a control maps to."""

    name: str
    source_framework: str
    edition: str
    source: str
    maps: dict[str, tuple[str, ...]]
    #: ``published[ref]``: the targets of ``maps[ref]`` taken from ``published_by``; the rest are judgement
    published: dict[str, frozenset[str]]
    published_by: str


@cache
def crosswalks() -> tuple[Crosswalk, ...]:
    """Every shipped crosswalk, in file-name order (cached)."""
    folder = resources.files(__package__ or "radguard.catalog").joinpath("crosswalks")
    out: list[Crosswalk] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        raw: dict[str, Any] = json.loads(entry.read_text("utf-8"))
        src = str(raw["from"])
        maps = {
            f"{src}:{cid}": tuple(f"{fw}:{tid}" for fw, ids in targets.items() for tid in ids)
            for cid, targets in raw["maps"].items()
        }
        basis: dict[str, Any] = raw.get("basis") or {}
        published = {f"{src}:{cid}": frozenset(refs) for cid, refs in (basis.get("published") or {}).items()}
        out.append(Crosswalk(name=str(raw["name"]), source_framework=src, edition=str(raw.get("edition", "")),
                             source=str(raw.get("source", "")), maps=maps, published=published,
                             published_by=str(basis.get("published_by", ""))))
    return tuple(out)


@cache
def _graph() -> dict[str, frozenset[str]]:
    edges: dict[str, set[str]] = {}
    for cw in crosswalks():
        for ref, targets in cw.maps.items():
            for t in targets:
                edges.setdefault(ref, set()).add(t)
                edges.setdefault(t, set()).add(ref)
    return {k: frozenset(v) for k, v in edges.items()}


def related(ref: str, framework: str | None = None) -> tuple[str, ...]:
    """Controls one crosswalk hop from ``ref`` (either direction), optionally of one framework, sorted."""
    out = _graph().get(ref, frozenset())
    if framework is not None:
        out = frozenset(r for r in out if r.startswith(framework + ":"))
    return tuple(sorted(out))


def all_refs() -> list[tuple[str, str]]:
    """Every (crosswalk name, ref) named in a crosswalk, sources and targets: for validation."""
    out: list[tuple[str, str]] = []
    for cw in crosswalks():
        for ref, targets in cw.maps.items():
            out.append((cw.name, ref))
            out.extend((cw.name, t) for t in targets)
    return out


def basis_of(ref: str, target: str) -> str:
    """``"published"`` when a crosswalk maps ``ref`` to ``target`` on a published crosswalk's word,
    ``"judgement"`` when the pair is radguard's own, ``""`` when no crosswalk maps ``ref`` to ``target``."""
    for cw in crosswalks():
        if target in cw.maps.get(ref, ()):
            return "published" if target in cw.published.get(ref, frozenset()) else "judgement"
    return ""
