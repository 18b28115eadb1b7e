"""Recurring obligations with dates: when each was last fulfilled, when it is due, what is overdue.

The obligations and their default intervals ship as data (``data/obligations.yaml``); intervals that
come from the January 2025 proposed HIPAA Security Rule update (NPRM, 90 FR 898) are marked
``proposed``. An obligation is fulfilled by a finished run of one of its kinds (a ``scan`` run for the
vulnerability scan), by a dated answer of the self-assessment, by a record (``radguard govern record``:
a penetration test report, an exercise's after-action report), for the risk analysis by a
completed self-assessment and, for training, by the training records (``radguard train``: the day the
whole active roster was last current on its lessons).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select

from radguard.errors import UsageError
from radguard.govern.answers import Answer, last_completed, latest_answers
from radguard.govern.tables import RecordRow
from radguard.govern.training_status import trained_as_of
from radguard.store import Store

#: freshness of evidence from a run kind no obligation names, and of self-assessment answers
DEFAULT_INTERVAL_DAYS = 365


@dataclass(frozen=True, kw_only=True, slots=True)
class Obligation:
    id: str
    title: str
    interval_days: int
    proposed: bool
    basis: str
    controls: tuple[str, ...]
    run_kinds: tuple[str, ...]
    questions: tuple[str, ...]
    assessment: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class ObligationStatus:
    obligation: Obligation
    last: datetime | None
    source: str  # "run #12 (scan)", "answer backup.last-restore-test", "record #3", "assessment"
    due: date | None
    overdue: bool

    def to_dict(self) -> dict[str, Any]:
        o = self.obligation
        return {"id": o.id, "title": o.title, "interval_days": o.interval_days, "proposed": o.proposed,
                "basis": o.basis, "controls": list(o.controls), "last": self.last.isoformat() if self.last else None,
                "source": self.source, "due": self.due.isoformat() if self.due else None, "overdue": self.overdue}


@cache
def _shipped() -> tuple[Obligation, ...]:
    raw: dict[str, Any] = yaml.safe_load(
        resources.files("radguard.govern.data").joinpath("obligations.yaml").read_text("utf-8"))
    return tuple(
        Obligation(id=str(o["id"]), title=str(o["title"]), interval_days=int(o["interval_days"]),
                   proposed=bool(o.get("proposed")), basis=str(o.get("basis", "")),
                   controls=tuple(o.get("controls", ())), run_kinds=tuple(o.get("run_kinds", ())),
                   questions=tuple(o.get("questions", ())), assessment=bool(o.get("assessment")))
        for o in raw["obligations"]
    )


def obligations(intervals: Mapping[str, int] | None = None) -> tuple[Obligation, ...]:
    """The obligations, with ``intervals`` (id -> days) overriding the shipped defaults."""
    intervals = dict(intervals or {})
    known = {o.id for o in _shipped()}
    unknown = sorted(set(intervals) - known)
    if unknown:
        raise UsageError(f"unknown obligation {unknown[0]!r} (known: {', '.join(sorted(known))})")
    out = []
    for o in _shipped():
        days = intervals.get(o.id, o.interval_days)
        out.append(Obligation(id=o.id, title=o.title, interval_days=days, proposed=o.proposed, basis=o.basis,
                              controls=o.controls, run_kinds=o.run_kinds, questions=o.questions,
                              assessment=o.assessment))
    return tuple(out)


def parse_intervals(items: list[str] | None) -> dict[str, int]:
    """``["vulnerability-scan=90"]`` -> ``{"vulnerability-scan": 90}``; UsageError if malformed."""
    out: dict[str, int] = {}
    for item in items or ():
        name, sep, days = item.partition("=")
        if not sep or not days.strip().isdigit() or int(days) <= 0:
            raise UsageError(f"--interval {item!r}: expected OBLIGATION=DAYS with DAYS a positive integer")
        out[name.strip()] = int(days)
    obligations(out)  # names checked
    return out


def interval_for_kind(kind: str, obls: tuple[Obligation, ...]) -> int:
    """Freshness interval (days) of evidence from a run of ``kind``: the shortest obligation naming it."""
    days = [o.interval_days for o in obls if kind in o.run_kinds]
    return min(days, default=DEFAULT_INTERVAL_DAYS)


def record(store: Store, obligation: str, when: datetime, who: str, note: str = "",
           evidence: Mapping[str, Any] | None = None) -> int:
    """Record that ``obligation`` was fulfilled on ``when`` (e.g. an exercise with its after-action report)."""
    if obligation not in {o.id for o in _shipped()}:
        raise UsageError(f"unknown obligation {obligation!r} (known: {', '.join(o.id for o in _shipped())})")
    with store.session() as s:
        row = RecordRow(obligation=obligation, date=when, note=note, evidence=dict(evidence or {}), who=who,
                        recorded=datetime.now(UTC))
        s.add(row)
        s.commit()
        return row.id


def _latest_records(store: Store) -> dict[str, tuple[datetime, int]]:
    out: dict[str, tuple[datetime, int]] = {}
    with store.session() as s:
        for r in s.scalars(select(RecordRow).order_by(RecordRow.date)):
            when = r.date if r.date.tzinfo else r.date.replace(tzinfo=UTC)
            out[r.obligation] = (when, r.id)
    return out


def _answer_date(answer: Answer | None) -> datetime | None:
    if answer is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(str(answer.value)), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        return None


def obligation_status(store: Store, intervals: Mapping[str, int] | None = None, now: datetime | None = None,
                      extra: Mapping[str, datetime] | None = None) -> list[ObligationStatus]:
    """Each obligation: last fulfilled, due date, overdue (never fulfilled counts as overdue).

    ``extra`` maps an obligation id to a date fulfilled by a source outside this module (training
    completions).
    """
    now = now or datetime.now(UTC)
    answers = latest_answers(store)
    records = _latest_records(store)
    assessed = last_completed(store)
    runs = store.runs(limit=10_000)
    trained = trained_as_of(store, now)  # the day the whole active roster was last current
    out: list[ObligationStatus] = []
    for o in obligations(intervals):
        candidates: list[tuple[datetime, str]] = []
        for run in runs:
            if run.kind in o.run_kinds and run.finished is not None and run.status != "failed":
                candidates.append((run.finished, f"run #{run.id} ({run.kind})"))
                break  # runs are newest first
        for qid in o.questions:
            when = _answer_date(answers.get(qid))
            if when is not None:
                candidates.append((when, f"answer {qid}"))
        if o.id in records:
            candidates.append((records[o.id][0], f"record #{records[o.id][1]}"))
        if o.assessment and assessed is not None:
            candidates.append((assessed, "self-assessment"))
        if extra and o.id in extra:
            candidates.append((extra[o.id], "training completions"))
        if o.id == "training" and trained is not None:
            candidates.append((trained, "training completions"))
        if candidates:
            last, source = max(candidates, key=lambda c: c[0])
            due = (last + timedelta(days=o.interval_days)).date()
            out.append(ObligationStatus(obligation=o, last=last, source=source, due=due, overdue=now.date() > due))
        else:
            out.append(ObligationStatus(obligation=o, last=None, source="never", due=None, overdue=True))
    return out
