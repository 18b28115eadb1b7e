"""Shared result types: every producer emits these, every consumer reads them.

Findings, events and assets never carry PHI values (patient names, IDs, birth
dates): producers count, hash (see :func:`radguard.phi.phi_hash`) or redact them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class Severity(enum.Enum):
    """Closed severity vocabulary; ordering follows :attr:`rank`."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: info=0 ... critical=4."""
        return _RANK[self]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a case-insensitive severity name ('high', 'CRITICAL', ...)."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None


_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC: the default timestamp of events and records."""
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class ControlRef:
    """A reference into a control catalog, e.g. ``hipaa:164.312(e)(1)`` or ``csf:PR.DS-02``."""

    framework: str
    control: str

    @property
    def id(self) -> str:
        return f"{self.framework}:{self.control}"

    @classmethod
    def parse(cls, ref: str) -> ControlRef:
        framework, sep, control = ref.partition(":")
        if not sep or not framework or not control:
            raise ValueError(f"control reference must look like 'framework:id', got {ref!r}")
        return cls(framework=framework, control=control)


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One result of a check, with everything a user needs to act on it.

    ``target`` is ``host:port`` for network targets or a path for files.
    ``evidence`` holds facts (counts, hashes, offsets, keywords), never PHI values.
    """

    rule: str
    severity: Severity
    title: str
    target: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remediation: str = ""
    controls: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "title": self.title,
            "target": self.target,
            "evidence": dict(self.evidence),
            "remediation": self.remediation,
            "controls": list(self.controls),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            rule=str(data["rule"]),
            severity=Severity.parse(str(data["severity"])),
            title=str(data.get("title", "")),
            target=str(data["target"]),
            evidence=dict(data.get("evidence") or {}),
            remediation=str(data.get("remediation", "")),
            controls=tuple(data.get("controls") or ()),
        )

    @property
    def key(self) -> tuple[str, str]:
        """Identity used to compare runs (``findings diff``): rule and target."""
        return (self.rule, self.target)


@dataclass(frozen=True, kw_only=True, slots=True)
class Rule:
    """What a finding of one rule id reports, read from its producer's rule table (a data file).

    Every producer declares its rules as rows of a table beside its code (``assess/rules.toml``,
    ``inspect/rules.toml``, ``archive/rules.toml``, ``monitor/detections/rules.toml``), loaded once by
    :mod:`radguard.rulebook`; a check gets its rule with ``RULE = rulebook.rule("executable-preamble")``
    and builds findings with :meth:`finding`, so every finding of a rule carries the same remediation
    and controls.

    ``when`` is prose (when the rule fires, docs/rules.md); ``controls`` are catalog ids
    (``hipaa:164.312(c)(1)``, ``csf:PR.DS-01``); ``attack`` holds MITRE ATT&CK (Enterprise/ICS)
    technique ids; ``thresholds`` the documented defaults of the rule's tunable values (name -> value).
    """

    id: str
    severity: Severity
    title: str
    when: str = ""
    remediation: str
    controls: tuple[str, ...]
    attack: tuple[str, ...] = ()
    thresholds: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def finding(
        self,
        target: str,
        evidence: Mapping[str, Any],
        *,
        severity: Severity | None = None,
        title: str | None = None,
    ) -> Finding:
        """A finding of this rule on ``target`` (evidence: facts, never PHI values).

        ``severity`` and ``title`` override the rule's defaults for this finding. A rule with ATT&CK
        ids adds them to the evidence as ``mitre``.
        """
        facts = {**evidence, "mitre": list(self.attack)} if self.attack else dict(evidence)
        return Finding(
            rule=self.id,
            severity=severity or self.severity,
            title=title or self.title,
            target=target,
            evidence=facts,
            remediation=self.remediation,
            controls=self.controls,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Asset:
    """Something on the network or disk that radguard saw (a DICOM endpoint, a web service, an archive)."""

    kind: str  # "dicom", "dicom-tls", "http", "https", "archive", ...
    target: str  # "host:port" or a path
    product: str | None = None
    version: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "product": self.product,
            "version": self.version,
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """Something that happened at a point in time (an alert, a containment action, an audit record)."""

    kind: str  # "alert", "containment", "association", ...
    source: str  # producer: "gateway", "monitor", "archive", ...
    summary: str
    severity: Severity = Severity.INFO
    time: datetime = field(default_factory=utc_now)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "summary": self.summary,
            "severity": self.severity.value,
            "time": self.time.isoformat(),
            "attributes": dict(self.attributes),
        }
