"""Control status from evidence: each control met / partial / not met / unknown, with why and how fresh.

Evidence comes from four places:

- **runs**: the latest finished run of each kind (scan, seal, audit, recover, gateway, pcap, monitor).
  A rule the run applied that maps to a control and left no finding is *positive* evidence
  (:mod:`radguard.govern.evidence`); a finding is negative evidence: critical or high makes the control
  *not met*, medium or low *partial* (info findings are neither);
- **answers** of the self-assessment (:mod:`radguard.govern.questions`): yes met, partial, no not met;
- **training records** (:mod:`radguard.govern.training_status`): the completion rate of the workforce roster
  and the latest phishing simulation, for 45 CFR 164.308(a)(5), CPG ESS-04 and what each lesson covers;
- **crosswalks** (:mod:`radguard.catalog.crosswalk`): a CPG goal or HICP sub-practice that no rule and no
  question cites takes the evidence of the controls it maps to, marked ``via``; HIPAA and CSF controls
  and anything cited directly never borrow (a passing AE-title check says nothing of password management).

The worst signal wins. A control with children (a HIPAA standard, a CSF category) without evidence of
its own is rolled up from them; it is *met* only when every child is. ``unknown`` means no run and no
answer covers the control. Evidence older than its obligation's interval (``obligations.yaml``; a year
for answers and for run kinds no obligation names) is **stale**: the control keeps its state and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from radguard import catalog
from radguard.catalog.crosswalk import related
from radguard.govern.answers import latest_answers
from radguard.govern.evidence import KIND_PRODUCER, controls_tested_by, rule_controls
from radguard.govern.obligations import (
    DEFAULT_INTERVAL_DAYS,
    ObligationStatus,
    interval_for_kind,
    obligation_status,
    obligations,
)
from radguard.govern.questions import State, template, worst
from radguard.govern.training import lessons, programme
from radguard.govern.training_status import evidence as training_evidence
from radguard.models import Severity
from radguard.store import RunInfo, Store

#: frameworks ``govern status`` shows by default, and the kind of control counted in coverage figures
FRAMEWORKS: tuple[str, ...] = ("hipaa", "csf", "hicp", "cpg")
COUNTED_KINDS: Mapping[str, frozenset[str]] = {
    "hipaa": frozenset({"standard", "implementation-specification"}),
    "csf": frozenset({"subcategory"}),
    "hicp": frozenset({"sub-practice"}),
    "cpg": frozenset({"goal"}),
    "dicom": frozenset({"profile"}),
}


#: frameworks whose controls may borrow evidence through a crosswalk (rules and questions cite HIPAA and CSF
#: themselves: a HIPAA standard does not inherit a CSF subcategory's result)
BORROWING: frozenset[str] = frozenset({"cpg", "hicp"})


def severity_state(severity: Severity) -> State | None:
    """What a finding of ``severity`` says about the controls it cites."""
    if severity >= Severity.HIGH:
        return State.NOT_MET
    if severity >= Severity.LOW:
        return State.PARTIAL
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    """One reason for a control's state: a passing run, findings of a rule, or an answer."""

    kind: str  # "run" | "finding" | "answer" | "training"
    state: State
    date: datetime
    stale: bool
    run_id: int | None = None
    run_kind: str | None = None
    rules: tuple[str, ...] = ()
    count: int = 0
    severity: str | None = None
    target: str | None = None
    question: str | None = None
    value: Any = None
    who: str | None = None
    via: str | None = None
    summary: str | None = None  # training: the line for people
    facts: Mapping[str, Any] | None = None  # training: completion rate, last campaign, freshness

    @property
    def text(self) -> str:
        """One line for people."""
        via = f" (via {self.via})" if self.via else ""
        if self.kind == "training":
            return f"{self.summary}{via}"
        if self.kind == "run":
            return f"run #{self.run_id} ({self.run_kind}) applied {', '.join(self.rules)}: no finding{via}"
        if self.kind == "finding":
            more = f" and {self.count - 1} more" if self.count > 1 else ""
            return (f"run #{self.run_id} ({self.run_kind}): {self.count} {self.severity} {self.rules[0]} "
                    f"on {self.target}{more}{via}")
        return f"answer {self.question} = {self.value} ({self.who}){via}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "state": self.state.value, "date": self.date.isoformat(),
                               "stale": self.stale, "text": self.text}
        for name in ("run_id", "run_kind", "severity", "target", "question", "value", "who", "via"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.rules:
            out["rules"] = list(self.rules)
        if self.kind == "finding":
            out["count"] = self.count
        if self.facts is not None:
            out["facts"] = dict(self.facts)
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class ControlStatus:
    ref: str
    title: str
    kind: str
    parent: str | None
    required: bool | None
    state: State
    evidence: tuple[Evidence, ...]
    stale: bool
    as_of: datetime | None
    rolled_up: bool = False

    @property
    def sources(self) -> frozenset[str]:
        """``"runs"``, ``"answers"`` and/or ``"training"``: where the evidence came from."""
        return frozenset({"answer": "answers", "training": "training"}.get(e.kind, "runs") for e in self.evidence)

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "title": self.title, "kind": self.kind, "parent": self.parent,
                "required": self.required, "state": self.state.value, "stale": self.stale,
                "as_of": self.as_of.isoformat() if self.as_of else None, "rolled_up": self.rolled_up,
                "sources": sorted(self.sources), "evidence": [e.to_dict() for e in self.evidence]}


@dataclass(frozen=True, kw_only=True, slots=True)
class GovernStatus:
    generated: datetime
    frameworks: tuple[str, ...]
    controls: tuple[ControlStatus, ...]
    obligations: tuple[ObligationStatus, ...]
    runs: tuple[RunInfo, ...]
    coverage: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def counts(self, framework: str) -> dict[str, int]:
        kinds = COUNTED_KINDS.get(framework, frozenset())
        out = {s.value: 0 for s in State}
        for c in self.controls:
            if c.ref.startswith(framework + ":") and c.kind in kinds:
                out[c.state.value] += 1
        return out

    @property
    def overdue(self) -> list[ObligationStatus]:
        return [o for o in self.obligations if o.overdue]

    def to_dict(self) -> dict[str, Any]:
        return {"generated": self.generated.isoformat(), "frameworks": list(self.frameworks),
                "summary": {fw: self.counts(fw) for fw in self.frameworks},
                "coverage": {fw: dict(v) for fw, v in self.coverage.items()},
                "runs": [{"id": r.id, "kind": r.kind, "finished": r.finished.isoformat() if r.finished else None}
                         for r in self.runs],
                "controls": [c.to_dict() for c in self.controls],
                "obligations": [o.to_dict() for o in self.obligations],
                "overdue": [o.obligation.id for o in self.overdue]}


def latest_runs(store: Store) -> list[RunInfo]:
    """The latest finished (not failed) run of each kind that applies rules; a scan that found no host
    tested nothing and is skipped."""
    seen: dict[str, RunInfo] = {}
    for run in store.runs(limit=10_000):
        if run.kind in seen or run.kind not in KIND_PRODUCER or run.finished is None or run.status == "failed":
            continue
        if run.kind == "scan" and not store.assets(run.id):
            continue
        seen[run.kind] = run
    return sorted(seen.values(), key=lambda r: r.id)


def _run_evidence(store: Store, run: RunInfo, stale: bool) -> dict[str, list[Evidence]]:
    assert run.finished is not None
    out: dict[str, list[Evidence]] = {}
    grouped: dict[tuple[str, str], list[Any]] = {}
    for f in store.findings(run.id):
        state = severity_state(f.severity)
        if state is None:
            continue
        for ref in f.controls:
            grouped.setdefault((ref, f.rule), []).append(f)
    for (ref, rule), fs in grouped.items():
        sev = max((f.severity for f in fs), key=lambda s: s.rank)
        state = severity_state(sev)
        assert state is not None
        out.setdefault(ref, []).append(Evidence(kind="finding", state=state, date=run.finished, stale=stale,
                                                run_id=run.id, run_kind=run.kind, rules=(rule,), count=len(fs),
                                                severity=sev.value, target=fs[0].target))
    for ref, rules in controls_tested_by(run).items():
        failed = {e.rules[0] for e in out.get(ref, ())}
        passed = tuple(r for r in rules if r not in failed)
        if passed:
            out.setdefault(ref, []).append(Evidence(kind="run", state=State.MET, date=run.finished, stale=stale,
                                                    run_id=run.id, run_kind=run.kind, rules=passed))
    return out


def collect_evidence(store: Store, intervals: Mapping[str, int] | None = None,
                     now: datetime | None = None) -> tuple[dict[str, list[Evidence]], list[RunInfo]]:
    """Control ref -> evidence of its own (runs and answers), and the runs used."""
    now = now or datetime.now(UTC)
    obls = obligations(intervals)
    direct: dict[str, list[Evidence]] = {}
    runs = latest_runs(store)
    for run in runs:
        assert run.finished is not None
        stale = now - run.finished > timedelta(days=interval_for_kind(run.kind, obls))
        for ref, evs in _run_evidence(store, run, stale).items():
            direct.setdefault(ref, []).extend(evs)
    answers = latest_answers(store)
    for q in template().questions.values():
        ans = answers.get(q.id)
        if ans is None:
            continue
        state = q.state(ans.value, now.date())
        if state is None:
            continue
        stale = now - ans.at > timedelta(days=DEFAULT_INTERVAL_DAYS)
        for ref in q.controls:
            direct.setdefault(ref, []).append(Evidence(kind="answer", state=state, date=ans.at, stale=stale,
                                                       question=q.id, value=ans.value, who=ans.who))
    interval = next((o.interval_days for o in obls if o.id == "training"), DEFAULT_INTERVAL_DAYS)
    for te in training_evidence(store, interval, now):
        for ref in te.controls:
            direct.setdefault(ref, []).append(Evidence(kind="training", state=te.state, date=te.date, stale=te.stale,
                                                       summary=te.text, facts=te.facts))
    return direct, runs


def _via(evs: Sequence[Evidence], ref: str) -> list[Evidence]:
    from dataclasses import replace

    return [replace(e, via=ref) for e in evs if e.via is None]


def _control(c: catalog.Control, evidence: list[Evidence], kids: list[ControlStatus]) -> ControlStatus:
    states = [e.state for e in evidence]
    rolled = False
    if kids:
        known = [k.state for k in kids if k.state is not State.UNKNOWN]
        if known:
            rolled = not evidence
            states += known
        state = worst(states)
        if state is State.MET and any(k.state is State.UNKNOWN for k in kids):
            state = State.PARTIAL
    else:
        state = worst(states)
    dates = [e.date for e in evidence] + [k.as_of for k in kids if k.as_of is not None]
    stale = any(e.stale for e in evidence) or any(k.stale for k in kids)
    return ControlStatus(ref=c.ref, title=c.title, kind=c.kind, parent=c.parent, required=c.required, state=state,
                         evidence=tuple(evidence), stale=stale, as_of=min(dates) if dates else None, rolled_up=rolled)


@cache
def cited_refs() -> frozenset[str]:
    """Controls some rule or question cites directly: they never borrow evidence through a crosswalk."""
    return frozenset({ref for r in rule_controls() for ref in r.controls}
                     | {ref for q in template().questions.values() for ref in q.controls})


def _borrowed(ref: str, direct: Mapping[str, list[Evidence]]) -> list[Evidence]:
    """Evidence of the controls ``ref`` maps to, for a control nothing cites directly (CPG goals, most of HICP)."""
    if ref in cited_refs() or ref.partition(":")[0] not in BORROWING:
        return []
    return [e for other in related(ref) for e in _via(direct.get(other, ()), other)]


def framework_status(framework: str, direct: Mapping[str, list[Evidence]]) -> list[ControlStatus]:
    """Status of every control of one framework, in catalog order."""
    controls = catalog.controls_for(framework)
    children: dict[str | None, list[catalog.Control]] = {}
    for c in controls:
        children.setdefault(c.parent, []).append(c)
    done: dict[str, ControlStatus] = {}

    def visit(c: catalog.Control) -> ControlStatus:
        if c.ref in done:
            return done[c.ref]
        kids = [visit(k) for k in children.get(c.id, ())]
        evidence = list(direct.get(c.ref, ())) or _borrowed(c.ref, direct)
        done[c.ref] = _control(c, evidence, kids)
        return done[c.ref]

    return [visit(c) for c in controls]


def coverage(framework: str, direct: Mapping[str, list[Evidence]]) -> dict[str, int]:
    """How a framework's counted controls can be and are covered: by rules (automatic), by questions, by training
    records."""
    kinds = COUNTED_KINDS.get(framework, frozenset())
    rule_refs = {ref for r in rule_controls() for ref in r.controls}
    question_refs = {ref for q in template().questions.values() for ref in q.controls}
    training_refs = set(programme().controls) | {ref for les in lessons() for ref in les.controls}

    def reach(ref: str, refs: set[str]) -> bool:
        return ref in refs or (ref not in cited_refs() and any(r in refs for r in related(ref)))

    out = {"controls": 0, "automatic_possible": 0, "questions_possible": 0, "training_possible": 0,
           "automatic_evidence": 0, "answer_evidence": 0, "training_evidence": 0, "unknown": 0}
    for c in catalog.controls_for(framework):
        if c.kind not in kinds:
            continue
        out["controls"] += 1
        out["automatic_possible"] += reach(c.ref, rule_refs)
        out["questions_possible"] += reach(c.ref, question_refs)
        out["training_possible"] += reach(c.ref, training_refs)
        evs = list(direct.get(c.ref, ())) or _borrowed(c.ref, direct)
        out["automatic_evidence"] += any(e.kind in ("run", "finding") for e in evs)
        out["answer_evidence"] += any(e.kind == "answer" for e in evs)
        out["training_evidence"] += any(e.kind == "training" for e in evs)
        out["unknown"] += not evs
    return out


def govern_status(store: Store, frameworks: Sequence[str] = FRAMEWORKS, intervals: Mapping[str, int] | None = None,
                  now: datetime | None = None, extra: Mapping[str, datetime] | None = None) -> GovernStatus:
    """Every control of ``frameworks`` with its state and evidence, and the obligations with dates."""
    now = now or datetime.now(UTC)
    direct, runs = collect_evidence(store, intervals, now)
    controls: list[ControlStatus] = []
    for fw in frameworks:
        controls += framework_status(fw, direct)
    return GovernStatus(generated=now, frameworks=tuple(frameworks), controls=tuple(controls),
                        obligations=tuple(obligation_status(store, intervals, now, extra)), runs=tuple(runs),
                        coverage={fw: coverage(fw, direct) for fw in frameworks})
