"""Control catalogs as versioned data (HIPAA Security Rule, NIST CSF 2.0, HICP 405(d), ...).

Each framework is one JSON file in this package, with its edition and source
named in the file and in ``README.md``. Findings cite controls as
``"<framework>:<id>"``, e.g. ``"hipaa:164.312(e)(1)"`` or ``"csf:PR.DS-02"``.

File format::

    {"framework": "hipaa", "name": "...", "edition": "...", "source": "...",
     "controls": [{"id": "164.312(e)(1)", "title": "...", "kind": "standard",
                   "required": null, "parent": null}, ...]}
"""

from __future__ import annotations

import json
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
        )
        for c in raw["controls"]
    }
    return Catalog(
        framework=framework,
        name=raw.get("name", framework),
        edition=raw.get("edition", ""),
        source=raw.get("source", ""),
        controls=controls,
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
