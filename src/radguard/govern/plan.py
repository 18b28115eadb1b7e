"""What to do next: the plan of action and milestones (POA&M) built from control status and the risk register.

One list of :class:`PlanItem` feeds the governance report, the POA&M CSV and the OSCAL POA&M: every
control of the chosen framework that is not met or partial (with the remediation of the rules that
found it, or the question to settle), and every current risk whose residual level is moderate or worse.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from radguard.govern.evidence import rule_controls
from radguard.govern.questions import State, template
from radguard.govern.risk import Level, Risk, TreatmentStatus
from radguard.govern.status import COUNTED_KINDS, ControlStatus


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanItem:
    id: str
    kind: str  # "control" or "risk"
    ref: str  # control ref or risk id
    title: str
    weakness: str
    action: str
    severity: str  # control state or residual risk level
    owner: str = ""
    due: date | None = None
    status: str = "open"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "ref": self.ref, "title": self.title, "weakness": self.weakness,
                "action": self.action, "severity": self.severity, "owner": self.owner,
                "due": self.due.isoformat() if self.due else None, "status": self.status}


def _action(c: ControlStatus) -> str:
    remediation = {r.id: r.remediation for r in rule_controls()}
    questions = template().questions
    steps: list[str] = []
    for e in c.evidence:
        if e.state is State.MET:
            continue
        if e.kind == "finding" and e.rules and remediation.get(e.rules[0]):
            text = remediation[e.rules[0]]
        elif e.kind == "answer" and e.question in questions:
            text = f"Close the gap this answer shows: {questions[e.question].text}"
        elif e.kind == "training":
            text = ("Bring workforce training up to date: `radguard train due` lists who is overdue for which "
                    "lesson (--reminders writes the reminder e-mails); repeat phishing simulations where many clicked.")
        else:
            continue
        if text not in steps:
            steps.append(text)
    return " ".join(steps) or "Review the parts of this control that are not met."


def plan_items(controls: Sequence[ControlStatus], risks: Sequence[Risk], framework: str = "hipaa",
               exercise: Mapping[str, Any] | None = None) -> list[PlanItem]:
    """POA&M items: controls not met first, then partial ones, then risks moderate or worse (worst first), then
    the corrective actions of the last tabletop exercise (``exercise``: its after-action report, as stored by
    ``radguard exercise run``; 45 CFR 164.308(a)(6) and (a)(7)(ii)(D))."""
    out: list[PlanItem] = []
    kinds = COUNTED_KINDS.get(framework, frozenset())
    ranked = sorted((c for c in controls if c.ref.startswith(framework + ":") and c.kind in kinds
                     and c.state in (State.NOT_MET, State.PARTIAL) and c.evidence),
                    key=lambda c: 0 if c.state is State.NOT_MET else 1)
    for c in ranked:
        why = "; ".join(e.text for e in c.evidence if e.state is not State.MET)
        out.append(PlanItem(id=f"POAM-{len(out) + 1:03d}", kind="control", ref=c.ref, title=c.title, weakness=why,
                            action=_action(c), severity=c.state.value))
    for r in risks:
        if not r.current or r.residual < Level.MODERATE or r.status is TreatmentStatus.DONE:
            continue
        out.append(PlanItem(id=f"POAM-{len(out) + 1:03d}", kind="risk", ref=r.id,
                            title=f"{r.threat.title} ({r.asset})", weakness="; ".join(r.evidence),
                            action=r.note or (f"Treatment: {r.treatment.value}" if r.treatment.value != "none"
                                              else "Decide a treatment (radguard risk set)"),
                            severity=r.residual.label, owner=r.owner, due=r.due, status=r.status.value))
    aar = exercise or {}
    for c in aar.get("improvement_plan", []):
        out.append(PlanItem(id=f"POAM-{len(out) + 1:03d}", kind="exercise", ref=str(aar.get("scenario", "")),
                            title=str(c["action"]), weakness=f"exercise {aar.get('title', '')}: {c.get('why', '')}",
                            action=str(c["action"]), severity=str(c.get("priority", "")),
                            owner=str(c.get("owner", "")), due=date.fromisoformat(c["due"]) if c.get("due") else None))
    return out


CSV_COLUMNS: tuple[str, ...] = ("id", "kind", "ref", "title", "weakness", "action", "severity", "owner", "due",
                                "status")


def to_csv(items: Sequence[PlanItem]) -> str:
    """The POA&M as CSV (one row per item, the columns of :data:`CSV_COLUMNS`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for it in items:
        d = it.to_dict()
        w.writerow(["" if d[c] is None else d[c] for c in CSV_COLUMNS])
    return buf.getvalue()
