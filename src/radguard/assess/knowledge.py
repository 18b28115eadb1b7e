"""Fingerprints and the vulnerability knowledge base (versioned data files in ``assess/data``).

- ``fingerprints.json``: Implementation Class UID prefix + Implementation Version Name pattern
  (PS3.7 D.3.3.2, D.3.3.2.1-2) → product and version.
- ``vulnkb.json``: product, affected version ranges, CVE ids, severity (see ``data/README.md``).

Distributions backport security fixes without changing the upstream version, so every
version match is reported with an explicit confidence and that caveat.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from radguard.models import Severity


class Confidence(enum.StrEnum):
    """How sure a version-based finding is."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, kw_only=True, slots=True)
class Fingerprint:
    product: str
    version: str | None
    source: str  # "dicom-implementation", "http-orthanc-system", ...
    implementation_class_uid: str | None = None
    implementation_version_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "version": self.version,
            "source": self.source,
            "implementation_class_uid": self.implementation_class_uid,
            "implementation_version_name": self.implementation_version_name,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class VulnEntry:
    id: str
    product: str
    cves: tuple[str, ...]
    ranges: tuple[tuple[str | None, str | None], ...]  # (from inclusive, below exclusive)
    severity: Severity
    summary: str
    fixed_in: str | None


def _load_json(name: str) -> dict[str, Any]:
    text = resources.files("radguard.assess.data").joinpath(name).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{name}: top level must be an object")
    return data


@cache
def fingerprint_data() -> dict[str, Any]:
    return _load_json("fingerprints.json")


@cache
def kb_data() -> dict[str, Any]:
    return _load_json("vulnkb.json")


@cache
def default_credentials() -> tuple[dict[str, str], ...]:
    """The vendor default web credentials tried with ``--intrusive`` (``web_default_credentials.json``)."""
    return tuple(dict(e) for e in _load_json("web_default_credentials.json")["entries"])


def called_ae_guesses() -> tuple[str, ...]:
    return tuple(fingerprint_data().get("called_ae_guesses", ()))


def version_key(version: str) -> tuple[int, ...]:
    """Numeric comparison key: ``"3.6.7"`` → ``(3, 6, 7)``; non-numeric tails are ignored."""
    parts: list[int] = []
    for piece in re.split(r"[.\-+~_]", version.strip()):
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group()))
    return tuple(parts)


def identify_implementation(class_uid: str | None, version_name: str | None) -> Fingerprint | None:
    """Product/version from an A-ASSOCIATE-AC's implementation items (PS3.7 D.3.3.2)."""
    if not class_uid and not version_name:
        return None
    for entry in fingerprint_data()["entries"]:
        uid_ok = bool(class_uid) and (
            class_uid == entry["uid_prefix"] or str(class_uid).startswith(entry["uid_prefix"] + ".")
        )
        pattern = entry.get("version_name")
        m = re.match(pattern, version_name or "") if pattern else None
        if not uid_ok and m is None:
            continue
        version = None
        if m is not None and entry.get("version_format"):
            version = str(entry["version_format"]).format(*m.groups())
        return Fingerprint(
            product=entry["product"],
            version=version,
            source="dicom-implementation",
            implementation_class_uid=class_uid,
            implementation_version_name=version_name,
        )
    return Fingerprint(
        product="unknown",
        version=None,
        source="dicom-implementation",
        implementation_class_uid=class_uid,
        implementation_version_name=version_name,
    )


@cache
def vuln_entries() -> tuple[VulnEntry, ...]:
    out = []
    for e in kb_data()["entries"]:
        out.append(
            VulnEntry(
                id=e["id"],
                product=e["product"],
                cves=tuple(e["cves"]),
                ranges=tuple((r.get("from"), r.get("below")) for r in e["affected"]),
                severity=Severity.parse(e["severity"]),
                summary=e["summary"],
                fixed_in=e.get("fixed_in"),
            )
        )
    return tuple(out)


def _in_range(version: tuple[int, ...], lo: str | None, hi: str | None) -> bool:
    if lo is not None and version < version_key(lo):
        return False
    return not (hi is not None and version >= version_key(hi))


def lookup(product: str, version: str | None) -> list[VulnEntry]:
    """Knowledge-base entries whose affected ranges contain ``product`` ``version``."""
    if not version:
        return []
    key = version_key(version)
    if not key:
        return []
    return [
        e
        for e in vuln_entries()
        if e.product == product and any(_in_range(key, lo, hi) for lo, hi in e.ranges)
    ]


def kb_version() -> str:
    return str(kb_data()["version"])
