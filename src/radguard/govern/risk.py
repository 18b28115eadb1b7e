"""The risk register (NIST SP 800-30 Rev. 1): threat x asset scenarios seeded from findings and answers.

Reading the register needs no other command first: scenarios are seeded from the latest run of each
kind and the latest self-assessment answers every time (``data/threats.yaml`` says which findings and
answers make each threat event likely). What people decide (treatment, owner, due date, status,
overridden levels) is kept per scenario in ``govern_risks`` and laid over the seed.

Scales are the five qualitative levels of SP 800-30 (Appendix G likelihood, Appendix H impact);
the risk level is Table I-2 of Appendix I. Inherent likelihood comes from the worst finding (critical
very high, high high, medium moderate, low low) or answer (no high, partial moderate); residual
likelihood and impact follow the treatment unless set by hand: *mitigate* lowers likelihood one level
in progress and two when done, *avoid* done makes it very low, *transfer* done lowers impact one level,
*accept* changes nothing.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select

from radguard.errors import UsageError
from radguard.govern.answers import latest_answers
from radguard.govern.questions import State, template
from radguard.govern.status import latest_runs
from radguard.govern.tables import RiskEditRow, RiskSnapshotRow
from radguard.models import Severity
from radguard.store import Store


class Level(enum.IntEnum):
    """SP 800-30 Rev. 1 qualitative scale (Tables G-2, G-3, H-3, I-2)."""

    VERY_LOW = 0
    LOW = 1
    MODERATE = 2
    HIGH = 3
    VERY_HIGH = 4

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return cls[text.strip().upper().replace("-", "_").replace(" ", "_")]
        except KeyError:
            raise ValueError(f"expected one of {', '.join(lv.label for lv in cls)}, got {text!r}") from None

    def shift(self, by: int) -> Level:
        return Level(min(max(self + by, 0), 4))


#: SP 800-30 Rev. 1 Table I-2: risk level by likelihood (row) and impact (column)
RISK_MATRIX: tuple[tuple[Level, ...], ...] = (
    (Level.VERY_LOW, Level.VERY_LOW, Level.VERY_LOW, Level.LOW, Level.LOW),  # likelihood very low
    (Level.VERY_LOW, Level.LOW, Level.LOW, Level.LOW, Level.MODERATE),  # low
    (Level.VERY_LOW, Level.LOW, Level.MODERATE, Level.MODERATE, Level.HIGH),  # moderate
    (Level.VERY_LOW, Level.LOW, Level.MODERATE, Level.HIGH, Level.VERY_HIGH),  # high
    (Level.VERY_LOW, Level.LOW, Level.MODERATE, Level.HIGH, Level.VERY_HIGH),  # very high
)


def risk_level(likelihood: Level, impact: Level) -> Level:
    return RISK_MATRIX[likelihood][impact]


class Treatment(enum.StrEnum):
    NONE = "none"
    ACCEPT = "accept"
    AVOID = "avoid"
    MITIGATE = "mitigate"
    TRANSFER = "transfer"


class TreatmentStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    DONE = "done"


SEVERITY_LIKELIHOOD: Mapping[Severity, Level] = {
    Severity.CRITICAL: Level.VERY_HIGH, Severity.HIGH: Level.HIGH, Severity.MEDIUM: Level.MODERATE,
    Severity.LOW: Level.LOW, Severity.INFO: Level.VERY_LOW,
}
ANSWER_LIKELIHOOD: Mapping[State, Level] = {State.NOT_MET: Level.HIGH, State.PARTIAL: Level.MODERATE}


@dataclass(frozen=True, kw_only=True, slots=True)
class Threat:
    id: str
    title: str
    source: str
    impact: Level
    why: str
    rules: tuple[str, ...]
    questions: tuple[str, ...]
    scope: str


@cache
def threats() -> tuple[Threat, ...]:
    raw: dict[str, Any] = yaml.safe_load(
        resources.files("radguard.govern.data").joinpath("threats.yaml").read_text("utf-8"))
    return tuple(Threat(id=t["id"], title=t["title"], source=t["source"], impact=Level.parse(t["impact"]),
                        why=t["why"], rules=tuple(t["rules"]), questions=tuple(t["questions"]), scope=t["scope"])
                 for t in raw["threats"])


def risk_id(key: str) -> str:
    """Short stable id of a scenario key (``R-`` and 6 hex digits of its SHA-256)."""
    return "R-" + hashlib.sha256(key.encode()).hexdigest()[:6]


@dataclass(frozen=True, kw_only=True, slots=True)
class Risk:
    id: str
    key: str
    threat: Threat
    asset: str
    evidence: tuple[str, ...]
    likelihood: Level
    impact: Level
    residual_likelihood: Level
    residual_impact: Level
    treatment: Treatment
    owner: str
    due: date | None
    status: TreatmentStatus
    note: str
    current: bool = True
    edited_by: str | None = None

    @property
    def inherent(self) -> Level:
        return risk_level(self.likelihood, self.impact)

    @property
    def residual(self) -> Level:
        return risk_level(self.residual_likelihood, self.residual_impact)

    @property
    def overdue(self) -> bool:
        return (self.due is not None and self.status is not TreatmentStatus.DONE
                and self.due < datetime.now(UTC).date())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "threat": self.threat.id, "title": self.threat.title,
                "source": self.threat.source, "asset": self.asset, "evidence": list(self.evidence),
                "likelihood": self.likelihood.label, "impact": self.impact.label, "inherent": self.inherent.label,
                "residual_likelihood": self.residual_likelihood.label, "residual_impact": self.residual_impact.label,
                "residual": self.residual.label, "treatment": self.treatment.value, "owner": self.owner,
                "due": self.due.isoformat() if self.due else None, "status": self.status.value,
                "overdue": self.overdue, "note": self.note, "current": self.current, "edited_by": self.edited_by}


@dataclass(frozen=True, kw_only=True, slots=True)
class Seed:
    threat: Threat
    asset: str
    likelihood: Level
    evidence: list[str] = field(default_factory=list)


def _asset_of(target: str, kind: str) -> str:
    """The asset a finding is about: its host (without port), or the image archive for files."""
    if kind in ("seal", "audit", "recover") or target.startswith("/"):
        return "image archive"
    host, _, port = target.rpartition(":")
    return host if host and port.isdigit() else target


def seed(store: Store) -> dict[str, Seed]:
    """Scenarios (key ``threat:asset``) from the latest runs' findings and the latest answers."""
    out: dict[str, Seed] = {}

    def add(threat: Threat, asset: str, likelihood: Level, why: str) -> None:
        key = f"{threat.id}:{asset}"
        s = out.setdefault(key, Seed(threat=threat, asset=asset, likelihood=likelihood))
        if likelihood > s.likelihood:
            out[key] = s = Seed(threat=threat, asset=asset, likelihood=likelihood, evidence=s.evidence)
        if why not in s.evidence:
            s.evidence.append(why)

    for run in latest_runs(store):
        for f in store.findings(run.id):
            for t in threats():
                if f.rule in t.rules:
                    add(t, _asset_of(f.target, run.kind), SEVERITY_LIKELIHOOD[f.severity],
                        f"run #{run.id} ({run.kind}): {f.severity.value} {f.rule}")
    answers = latest_answers(store)
    questions = template().questions
    for t in threats():
        for qid in t.questions:
            ans = answers.get(qid)
            state = questions[qid].state(ans.value) if ans else None
            if ans is not None and state is not None and state in ANSWER_LIKELIHOOD:
                add(t, t.scope, ANSWER_LIKELIHOOD[state], f"answer {qid} = {ans.value}")
    return out


def _edits(store: Store) -> dict[str, tuple[dict[str, Any], str]]:
    with store.session() as s:
        return {r.key: (dict(r.fields), r.who) for r in s.scalars(select(RiskEditRow))}


def _residual(likelihood: Level, impact: Level, treatment: Treatment,
              status: TreatmentStatus) -> tuple[Level, Level]:
    done = status is TreatmentStatus.DONE
    if treatment is Treatment.MITIGATE:
        return likelihood.shift(-2 if done else -1 if status is TreatmentStatus.IN_PROGRESS else 0), impact
    if treatment is Treatment.AVOID and done:
        return Level.VERY_LOW, impact
    if treatment is Treatment.TRANSFER and done:
        return likelihood, impact.shift(-1)
    return likelihood, impact


def _risk(key: str, threat: Threat, asset: str, likelihood: Level, evidence: Sequence[str],
          edit: tuple[dict[str, Any], str] | None, current: bool) -> Risk:
    fields, who = edit if edit else ({}, None)
    lk = Level.parse(fields["likelihood"]) if "likelihood" in fields else likelihood
    im = Level.parse(fields["impact"]) if "impact" in fields else threat.impact
    treatment = Treatment(fields.get("treatment", "none"))
    status = TreatmentStatus(fields.get("status", "open"))
    rl, ri = _residual(lk, im, treatment, status)
    rl = Level.parse(fields["residual_likelihood"]) if "residual_likelihood" in fields else rl
    ri = Level.parse(fields["residual_impact"]) if "residual_impact" in fields else ri
    due = date.fromisoformat(fields["due"]) if fields.get("due") else None
    return Risk(id=risk_id(key), key=key, threat=threat, asset=asset, evidence=tuple(evidence), likelihood=lk,
                impact=im, residual_likelihood=rl, residual_impact=ri, treatment=treatment,
                owner=str(fields.get("owner", "")), due=due, status=status, note=str(fields.get("note", "")),
                current=current, edited_by=who)


def register(store: Store) -> list[Risk]:
    """The register: seeded scenarios with people's decisions laid over, worst residual risk first.

    A scenario that was edited but whose evidence is gone (the finding was fixed) stays listed with
    ``current`` false and very low likelihood, so a decision is never lost.
    """
    seeds = seed(store)
    edits = _edits(store)
    by_id = {t.id: t for t in threats()}
    out = [_risk(k, s.threat, s.asset, s.likelihood, s.evidence, edits.get(k), True) for k, s in seeds.items()]
    for key, edit in edits.items():
        threat_id, _, asset = key.partition(":")
        if key not in seeds and threat_id in by_id:
            out.append(_risk(key, by_id[threat_id], asset, Level.VERY_LOW, (), edit, False))
    return sorted(out, key=lambda r: (-r.residual, -r.inherent, r.threat.id, r.asset))


def edit(store: Store, ident: str, who: str, **changes: str | None) -> Risk:
    """Change a scenario's treatment, owner, due date, status, note or levels; returns the new risk.

    ``ident`` is a risk id (``R-1a2b3c``) or a scenario key (``ransomware:10.0.0.5``).

    Raises
    ------
    UsageError
        For an unknown risk or a value outside its vocabulary.
    """
    risks = register(store)
    match = [r for r in risks if ident in (r.id, r.key)]
    if not match:
        raise UsageError(f"no risk {ident!r} in the register (see `radguard risk`)")
    risk = match[0]
    fields = dict(_edits(store).get(risk.key, ({}, ""))[0])
    for name, value in changes.items():
        if value is None:
            continue
        try:
            if name == "treatment":
                value = Treatment(value.strip().lower()).value
            elif name == "status":
                value = TreatmentStatus(value.strip().lower()).value
            elif name == "due":
                value = date.fromisoformat(value).isoformat()
            elif name in ("likelihood", "impact", "residual_likelihood", "residual_impact"):
                value = Level.parse(value).label
        except ValueError:
            allowed = {"treatment": [t.value for t in Treatment], "status": [s.value for s in TreatmentStatus],
                       "due": ["YYYY-MM-DD"]}.get(name, [lv.label for lv in Level])
            raise UsageError(f"--{name.replace('_', '-')} {value!r}: expected {', '.join(allowed)}") from None
        fields[name] = value
    with store.session() as s:
        row = s.scalars(select(RiskEditRow).where(RiskEditRow.key == risk.key)).first()
        if row is None:
            row = RiskEditRow(key=risk.key, fields=fields, who=who, updated=datetime.now(UTC))
            s.add(row)
        else:
            row.fields, row.who, row.updated = fields, who, datetime.now(UTC)
        s.commit()
    return next(r for r in register(store) if r.key == risk.key)


def level_counts(risks: Sequence[Risk], residual: bool = False) -> dict[str, int]:
    out = {lv.label: 0 for lv in reversed(Level)}
    for r in risks:
        if r.current:
            out[(r.residual if residual else r.inherent).label] += 1
    return out


def heat_cells(risks: Sequence[Risk], residual: bool = False) -> dict[tuple[int, int], int]:
    """(likelihood, impact) -> number of current risks, for the heat map."""
    out: dict[tuple[int, int], int] = {}
    for r in risks:
        if r.current:
            cell = (int(r.residual_likelihood), int(r.residual_impact)) if residual else (int(r.likelihood),
                                                                                          int(r.impact))
            out[cell] = out.get(cell, 0) + 1
    return out


def snapshot(store: Store, risks: Sequence[Risk], reason: str) -> None:
    """Keep the register's levels now, for the trend between assessments."""
    doc = {"inherent": level_counts(risks), "residual": level_counts(risks, residual=True),
           "risks": {r.key: r.residual.label for r in risks if r.current}}
    with store.session() as s:
        s.add(RiskSnapshotRow(at=datetime.now(UTC), reason=reason, register=doc))
        s.commit()


def trend(store: Store, limit: int = 12) -> list[dict[str, Any]]:
    """Earlier snapshots, oldest first: when, why, residual counts per level."""
    with store.session() as s:
        rows = list(s.scalars(select(RiskSnapshotRow).order_by(RiskSnapshotRow.id.desc()).limit(limit)))
    out = []
    for r in reversed(rows):
        at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
        out.append({"at": at.isoformat(), "reason": r.reason, "residual": r.register.get("residual", {}),
                    "inherent": r.register.get("inherent", {})})
    return out
