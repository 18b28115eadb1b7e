"""The department's security posture as read from the store: the one model every face renders.

The report (``radguard report``), the governance report and the console all start from
:func:`build_posture`; they differ only in the template. Nothing here writes to the store,
and nothing here holds PHI: findings already carry only counts, keyed hashes and targets.

Open findings are those of the **latest finished run of each kind** (scan, seal, audit, ...):
a later run of the same kind supersedes an earlier one, as ``radguard findings diff`` does.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from radguard import catalog
from radguard.models import Finding, Severity
from radguard.store import RunInfo, Store, queries

#: severities from worst to least
SEVERITIES: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: -s.rank))


class Function(enum.StrEnum):
    """NIST CSF 2.0 functions a layer of radguard serves (CSF 2.0 §2)."""

    IDENTIFY = "Identify"
    PROTECT = "Protect"
    DETECT = "Detect"
    RESPOND = "Respond"
    RECOVER = "Recover"


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """How a run kind is shown to people: a plain name and the CSF function it serves."""

    label: str
    function: Function


#: run kind -> layer of defense (kinds not listed are shown under their own name)
LAYERS: Mapping[str, LayerInfo] = {
    "scan": LayerInfo("Vulnerability assessment (network scan)", Function.IDENTIFY),
    "gateway": LayerInfo("DICOM security gateway", Function.PROTECT),
    "pcap": LayerInfo("Network monitor (capture)", Function.DETECT),
    "monitor": LayerInfo("Network monitor (live)", Function.DETECT),
    "seal": LayerInfo("Archive seal", Function.PROTECT),
    "audit": LayerInfo("Archive integrity audit", Function.DETECT),
    "recover": LayerInfo("Verified recovery", Function.RECOVER),
    "decoy": LayerInfo("Decoy PACS", Function.DETECT),
    "decoy-plant": LayerInfo("Honeytoken studies", Function.DETECT),
}


#: run kinds that are programs, not layers of defense: the range's measured efficacy (``radguard range``, its
#: summary a ``radguard.range/1`` document) and the last tabletop exercise (``radguard exercise run``, its summary
#: the after-action report). The posture shows the latest of each in its own section.
PROGRAM_KINDS: frozenset[str] = frozenset({"range", "exercise"})


def layer_of(kind: str) -> LayerInfo:
    """The layer a run kind belongs to."""
    return LAYERS.get(kind, LayerInfo(kind, Function.IDENTIFY))


@dataclass(frozen=True, kw_only=True, slots=True)
class RunPoint:
    """One finished run of a kind, and when it started."""

    kind: str
    run_id: int
    started: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class TrendPoint(RunPoint):
    """One run of a kind: when, and its findings by severity."""

    counts: Mapping[str, int]


@dataclass(frozen=True, kw_only=True, slots=True)
class ProgramRun(RunPoint):
    """The latest finished run of a program kind and what it left in the store."""

    summary: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        head: dict[str, Any] = {"run": self.run_id, "started": self.started.isoformat()}
        if self.kind == "range":
            return {**head, "totals": s.get("totals", {}), "defense_in_depth": s.get("defense_in_depth", {}),
                    "layers": s.get("layers", {}), "ablation": bool(s.get("ablation"))}
        return {**head, "scenario": s.get("scenario"), "title": s.get("title"), "score": s.get("score"),
                "possible": s.get("possible"), "improvement_plan": list(s.get("improvement_plan", []))}


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerStatus(TrendPoint):
    """The latest run of one kind (a point of the trend) and how people name its layer; ``counts`` are open."""

    label: str
    function: str
    status: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleSummary:
    """Open findings of one rule: how many, how bad, what to do."""

    rule: str
    title: str
    severity: str
    count: int
    layers: tuple[str, ...]
    remediation: str
    controls: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class ControlSummary:
    """A control that open findings give evidence against."""

    ref: str
    title: str
    framework: str
    findings: int
    worst: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Posture:
    """Everything a report or a dashboard shows, computed once from the store."""

    generated: datetime
    layers: tuple[LayerStatus, ...]
    open_counts: Mapping[str, int]
    rules: tuple[RuleSummary, ...]
    controls: tuple[ControlSummary, ...]
    trend: tuple[TrendPoint, ...]
    findings: tuple[tuple[str, Finding], ...] = field(default=())  # (kind, finding), worst first
    range: ProgramRun | None = None  # the latest range measurement
    exercise: ProgramRun | None = None  # the latest tabletop exercise

    @property
    def total_open(self) -> int:
        return sum(self.open_counts.values())

    @property
    def worst(self) -> str | None:
        """The worst severity with open findings, or None."""
        return next((s for s in self.open_counts if self.open_counts[s]), None)

    def to_dict(self, *, findings_limit: int = 200) -> dict[str, Any]:
        """JSON-ready form (``radguard.report/1``): no PHI, only what the findings already carry."""
        return {
            "generated": self.generated.isoformat(),
            "open": dict(self.open_counts),
            "layers": [
                {"kind": lay.kind, "layer": lay.label, "function": lay.function, "run": lay.run_id,
                 "started": lay.started.isoformat(), "status": lay.status, "open": dict(lay.counts)}
                for lay in self.layers
            ],
            "rules": [
                {"rule": r.rule, "title": r.title, "severity": r.severity, "count": r.count, "layers": list(r.layers),
                 "remediation": r.remediation, "controls": list(r.controls)}
                for r in self.rules
            ],
            "controls": [
                {"control": c.ref, "title": c.title, "framework": c.framework, "findings": c.findings, "worst": c.worst}
                for c in self.controls
            ],
            "trend": [
                {"kind": t.kind, "run": t.run_id, "started": t.started.isoformat(), "findings": dict(t.counts)}
                for t in self.trend
            ],
            "findings": [
                {"layer": kind, **f.to_dict()} for kind, f in self.findings[:findings_limit]
            ],
            "range": self.range.to_dict() if self.range else None,
            "exercise": self.exercise.to_dict() if self.exercise else None,
        }


def _latest_per_kind(runs: Sequence[RunInfo]) -> dict[str, RunInfo]:
    latest: dict[str, RunInfo] = {}
    for run in runs:  # newest first
        if run.status == "running":
            continue
        latest.setdefault(run.kind, run)
    return latest


def _control_title(ref: str) -> tuple[str, str]:
    try:
        control = catalog.resolve(ref)
    except (KeyError, ValueError):
        return ref, ref.partition(":")[0]
    return control.title, control.framework


def summarize(per_kind: Mapping[str, Sequence[Finding]]) -> tuple[tuple[RuleSummary, ...], tuple[ControlSummary, ...]]:
    """Open findings grouped by rule and by control, worst and most frequent first."""
    by_rule: dict[str, list[tuple[str, Finding]]] = {}
    by_control: dict[str, list[Finding]] = {}
    for kind, findings in per_kind.items():
        for f in findings:
            by_rule.setdefault(f.rule, []).append((kind, f))
            for ref in f.controls:
                by_control.setdefault(ref, []).append(f)
    rules = []
    for rule, items in by_rule.items():
        worst = max((f for _, f in items), key=lambda f: f.severity.rank)
        rules.append(RuleSummary(
            rule=rule, title=worst.title, severity=worst.severity.value, count=len(items),
            layers=tuple(sorted({layer_of(k).label for k, _ in items})), remediation=worst.remediation,
            controls=tuple(worst.controls),
        ))
    controls = [(ref, len(fs), max((f.severity for f in fs), key=lambda s: s.rank)) for ref, fs in by_control.items()]
    return _sorted_rules(rules), _control_summaries(controls)


def _sorted_rules(rules: list[RuleSummary]) -> tuple[RuleSummary, ...]:
    rules.sort(key=lambda r: (-Severity(r.severity).rank, -r.count, r.rule))
    return tuple(rules)


def _control_summaries(controls: Iterable[tuple[str, int, Severity]]) -> tuple[ControlSummary, ...]:
    out = []
    for ref, count, worst in controls:
        title, framework = _control_title(ref)
        out.append(ControlSummary(ref=ref, title=title, framework=framework, findings=count, worst=worst.value))
    out.sort(key=lambda c: (-Severity(c.worst).rank, -c.findings, c.ref))
    return tuple(out)


def summarize_in_store(store: Store, latest: Mapping[str, RunInfo]) -> tuple[tuple[RuleSummary, ...],
                                                                              tuple[ControlSummary, ...]]:
    """:func:`summarize` of the latest runs computed by ``GROUP BY`` queries (identical results, no findings loaded).

    The representative finding of a rule is the one :func:`summarize` picks: the first of the worst
    severity, runs in ``latest`` order, findings in id order.
    """
    kind_of = {run.id: kind for kind, run in latest.items()}
    order = {run.id: i for i, run in enumerate(latest.values())}
    by_rule: dict[str, list[queries.RuleGroup]] = {}
    for g in queries.rule_groups(store, kind_of):
        by_rule.setdefault(g.rule, []).append(g)
    rules = []
    for rule, groups in by_rule.items():
        worst = min(groups, key=lambda g: (-Severity(g.severity).rank, order[g.run_id], g.first_id))
        rules.append(RuleSummary(
            rule=rule, title=worst.first.title, severity=worst.severity, count=sum(g.count for g in groups),
            layers=tuple(sorted({layer_of(kind_of[g.run_id]).label for g in groups})),
            remediation=worst.first.remediation, controls=tuple(worst.first.controls),
        ))
    by_control: dict[str, tuple[int, Severity]] = {}
    for sev_name, refs, n in queries.control_groups(store, kind_of):
        sev = Severity(sev_name)
        for ref in refs:
            count, worst_sev = by_control.get(ref, (0, sev))
            by_control[ref] = (count + n, max(worst_sev, sev, key=lambda s: s.rank))
    return _sorted_rules(rules), _control_summaries((ref, c, w) for ref, (c, w) in by_control.items())


def build_posture(store: Store, *, history: int = 30, now: datetime | None = None,
                  findings: bool = True) -> Posture:
    """Read the store once and compute the posture.

    ``history`` bounds the runs read per kind for the trend. Counts, rules and controls come from
    aggregate queries (a million findings are never loaded); ``findings=False`` leaves out the list
    of open findings (the console pages through them instead).
    """
    runs = store.runs(limit=max(history * len(LAYERS), 200))
    latest = _latest_per_kind(runs)
    programs = {kind: _program(latest.pop(kind)) for kind in PROGRAM_KINDS if kind in latest}
    trend_runs: list[RunInfo] = []
    seen: Counter[str] = Counter()
    for run in runs:
        if run.status == "running" or run.kind in PROGRAM_KINDS or seen[run.kind] >= history:
            continue
        seen[run.kind] += 1
        trend_runs.append(run)
    counts = queries.severity_counts(store, [r.id for r in trend_runs] + [r.id for r in latest.values()])
    layers = tuple(
        LayerStatus(kind=kind, label=layer_of(kind).label, function=layer_of(kind).function.value, run_id=run.id,
                    started=run.started, status=run.status, counts=_ordered(counts[run.id]))
        for kind, run in sorted(latest.items(), key=lambda kv: (list(Function).index(layer_of(kv[0]).function), kv[0]))
    )
    trend = [TrendPoint(kind=run.kind, run_id=run.id, started=run.started, counts=_ordered(counts[run.id]))
             for run in trend_runs]
    trend.sort(key=lambda t: (t.started, t.run_id))
    rules, controls = summarize_in_store(store, latest)
    everything: list[tuple[str, Finding]] = []
    if findings:
        everything = [(kind, f) for kind, run in latest.items() for f in store.findings(run.id)]
        everything.sort(key=lambda kf: (-kf[1].severity.rank, kf[1].rule, kf[1].target))
    return Posture(
        generated=now or datetime.now(UTC),
        layers=layers,
        open_counts=_ordered(queries.counts_by(counts, [r.id for r in latest.values()])),
        rules=rules,
        controls=controls,
        trend=tuple(trend),
        findings=tuple(everything),
        range=programs.get("range"),
        exercise=programs.get("exercise"),
    )


def _program(run: RunInfo) -> ProgramRun | None:
    """A program run whose summary has the shape its section needs (an older or failed run shows nothing)."""
    need = ("attacks", "totals", "layers") if run.kind == "range" else ("score", "improvement_plan")
    if run.status != "done" or not all(k in run.summary for k in need):
        return None
    return ProgramRun(kind=run.kind, run_id=run.id, started=run.started, summary=run.summary)


def _ordered(counts: Mapping[str, int]) -> dict[str, int]:
    return {s.value: counts.get(s.value, 0) for s in SEVERITIES}
