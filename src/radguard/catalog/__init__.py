"""Control catalogs as versioned data (HIPAA Security Rule, NIST CSF 2.0, HICP 405(d), DICOM PS3.15).

Each framework is one JSON file in this package, with its edition and source
named in the file and in ``README.md``. Findings cite controls as
``"<framework>:<id>"``, e.g. ``"hipaa:164.312(e)(1)"``, ``"csf:PR.DS-02"``,
``"hicp:6.M.B"`` or ``"dicom:PS3.15-B.9"``.

File format::

    {"framework": "hipaa", "name": "...", "edition": "...", "source": "...",
     "controls": [{"id": "164.312(e)(1)", "title": "...", "kind": "standard",
                   "required": null, "parent": null, "text": "..."}, ...]}

``text`` is optional (a category's statement, a note); ``parent`` names another
id of the same file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True, kw_only=True, slots=True)
class Control:
    framework: str
    id: str
    title: str
    kind: str = "control"
    required: bool | None = None  # HIPAA: True required, False addressable, None standard
    parent: str | None = None
    text: str = ""

    @property
    def ref(self) -> str:
        return f"{self.framework}:{self.id}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Catalog:
    framework: str
    name: str
    edition: str
    source: str
    controls: dict[str, Control]
    notes: str = ""


def _framework_files() -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in resources.files(__name__).iterdir():
        if entry.name.endswith(".json"):
            out[entry.name.removesuffix(".json")] = entry.name
    return out


@cache
def load(framework: str) -> Catalog:
    """Load one framework's catalog (cached)."""
    files = _framework_files()
    if framework not in files:
        raise KeyError(f"unknown control framework {framework!r} (have: {', '.join(sorted(files))})")
    raw: dict[str, Any] = json.loads(resources.files(__name__).joinpath(files[framework]).read_text("utf-8"))
    controls = {
        c["id"]: Control(
            framework=framework,
            id=c["id"],
            title=c.get("title", ""),
            kind=c.get("kind", "control"),
            required=c.get("required"),
            parent=c.get("parent"),
            text=c.get("text", ""),
        )
        for c in raw["controls"]
    }
    return Catalog(
        framework=framework,
        name=raw.get("name", framework),
        edition=raw.get("edition", ""),
        source=raw.get("source", ""),
        controls=controls,
        notes=raw.get("notes", ""),
    )


def frameworks() -> list[str]:
    return sorted(_framework_files())


def resolve(ref: str) -> Control:
    """Look up ``"framework:id"``; raises KeyError if the framework or id is unknown."""
    framework, sep, cid = ref.partition(":")
    if not sep:
        raise KeyError(f"control reference must look like 'framework:id', got {ref!r}")
    cat = load(framework)
    try:
        return cat.controls[cid]
    except KeyError:
        raise KeyError(f"{ref!r} is not in the {cat.name} catalog ({cat.edition})") from None


def is_known(ref: str) -> bool:
    try:
        resolve(ref)
    except KeyError:
        return False
    return True


#: how a control reference looks in source code and findings: ``framework:id``
CONTROL_REF_RE = re.compile(r"^(?P<framework>[a-z][a-z0-9_]*):(?P<id>\S+)$")


def controls_for(framework: str, kind: str | None = None) -> list[Control]:
    """List one framework's controls in catalog order, optionally only one ``kind``.

    Parameters
    ----------
    framework
        Catalog name, e.g. ``"csf"`` (see :func:`frameworks`).
    kind
        Keep only this kind, e.g. ``"subcategory"`` (CSF 2.0), ``"standard"`` (HIPAA),
        ``"sub-practice"`` (HICP), ``"profile"`` (DICOM PS3.15).

    Raises
    ------
    KeyError
        If the framework is unknown.
    """
    cat = load(framework)
    return [c for c in cat.controls.values() if kind is None or c.kind == kind]


def children(ref: str) -> list[Control]:
    """The controls whose ``parent`` is ``ref`` (e.g. the subcategories of ``csf:PR.DS``)."""
    parent = resolve(ref)
    return [c for c in load(parent.framework).controls.values() if c.parent == parent.id]


def unknown_refs(refs: Iterable[str]) -> list[str]:
    """Return the references in ``refs`` that no catalog knows, in order, without duplicates."""
    out: list[str] = []
    for ref in refs:
        if ref not in out and not is_known(ref):
            out.append(ref)
    return out
