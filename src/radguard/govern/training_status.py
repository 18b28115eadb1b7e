"""Training status: who is due or overdue for which lesson, the completion rate, and the evidence it gives.

A person is **current** on a lesson passed within the lesson's ``interval_days``; a lesson never passed
is overdue from the day the person joined the roster (no grace: training is due before access). The
**completion rate** is the share of the active roster current on every lesson its role needs. The
programme (``data/training.yaml``) turns it and the click rate of the latest phishing simulation into a
state for the controls training is evidence for (45 CFR 164.308(a)(5), HPH CPG ESS-04, CSF PR.AT-01,
HICP 1.M.D): at least ``met_completion`` and a click rate at most ``max_click_rate`` is met; at least
``partial_completion`` is partial; below, not met. The evidence is stale when the newest training record
(completion or campaign) is older than the ``training`` obligation's interval.

The ``training`` obligation is fulfilled on the date the whole active roster was last current:
the oldest of every person's latest pass of every lesson their role needs (none while someone has never
passed one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from radguard.govern.questions import State
from radguard.govern.training import Lesson, lessons_for, programme
from radguard.govern.training_phish import CampaignReport, report
from radguard.govern.training_roster import Person, last_passed, people
from radguard.store import Store


@dataclass(frozen=True, kw_only=True, slots=True)
class Due:
    """One lesson one person must (re)take."""

    person: Person
    lesson: Lesson
    last_passed: datetime | None
    due: date | None  # None: never passed (due now)
    overdue: bool

    def to_dict(self) -> dict[str, Any]:
        return {"person": self.person.id, "name": self.person.name, "department": self.person.department,
                "email": self.person.email, "lesson": self.lesson.id, "title": self.lesson.title,
                "last_passed": self.last_passed.isoformat() if self.last_passed else None,
                "due": self.due.isoformat() if self.due else None, "overdue": self.overdue}


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainingSummary:
    """Everything the status, the report and ``train status`` show."""

    generated: datetime
    people: int
    current: int
    departments: Mapping[str, tuple[int, int]]  # department -> (current, people)
    lessons: Mapping[str, tuple[int, int]]  # lesson id -> (current, people who need it)
    due: tuple[Due, ...]
    trained_as_of: datetime | None
    newest_record: datetime | None
    phishing: CampaignReport | None

    @property
    def completion_rate(self) -> float | None:
        return round(self.current / self.people, 4) if self.people else None

    @property
    def overdue(self) -> list[Due]:
        return [d for d in self.due if d.overdue]

    def state(self) -> State:
        """The programme's state from completion and the latest campaign's click rate."""
        prog = programme()
        rate = self.completion_rate
        if rate is None:
            return State.UNKNOWN
        clicks = self.phishing.total.rate("clicked") if self.phishing else None
        if rate >= prog.met_completion and (clicks is None or clicks <= prog.max_click_rate):
            return State.MET
        return State.PARTIAL if rate >= prog.partial_completion else State.NOT_MET

    def text(self) -> str:
        """One line for people."""
        out = f"training: {self.current}/{self.people} people current on their lessons ({_pct(self.completion_rate)})"
        if self.phishing:
            f = self.phishing.total
            out += (f"; phishing simulation {self.phishing.campaign.name!r}: {_pct(f.rate('clicked'))} clicked, "
                    f"{_pct(f.rate('reported'))} reported")
        return out

    def facts(self) -> dict[str, Any]:
        """The figures behind the state (evidence of a control, ``train status --json``)."""
        out: dict[str, Any] = {"people": self.people, "current": self.current,
                               "completion_rate": self.completion_rate, "overdue": len(self.overdue),
                               "trained_as_of": self.trained_as_of.isoformat() if self.trained_as_of else None}
        if self.phishing:
            f = self.phishing.total
            out["last_campaign"] = {"name": self.phishing.campaign.name, "id": self.phishing.campaign.id,
                                    "launched": self.phishing.campaign.launched.isoformat()
                                    if self.phishing.campaign.launched else None,
                                    "sent": f["sent"], "click_rate": f.rate("clicked"),
                                    "submit_rate": f.rate("submitted"), "report_rate": f.rate("reported")}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"generated": self.generated.isoformat(), "state": self.state().value, **self.facts(),
                "departments": {d: {"current": c, "people": n} for d, (c, n) in self.departments.items()},
                "lessons": {lid: {"current": c, "people": n} for lid, (c, n) in self.lessons.items()},
                "newest_record": self.newest_record.isoformat() if self.newest_record else None,
                "phishing": self.phishing.to_dict() if self.phishing else None,
                "due": [d.to_dict() for d in self.due]}


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{round(100 * rate)}%"


def summary(store: Store, now: datetime | None = None, within_days: int = 0) -> TrainingSummary:
    """Compute the training status of the active roster at ``now``.

    ``due`` lists every lesson overdue and, with ``within_days``, those falling due within that many days.
    """
    now = now or datetime.now(UTC)
    roster = people(store)
    passed = last_passed(store)
    due: list[Due] = []
    current = 0
    depts: dict[str, list[int]] = {}
    per_lesson: dict[str, list[int]] = {}
    oldest: datetime | None = None
    everyone_passed = bool(roster)
    for p in roster:
        ok = True
        for les in lessons_for(p.role):
            last = passed.get((p.id, les.id))
            until = (last + timedelta(days=les.interval_days)).date() if last else None
            late = until is None or until < now.date()
            tally = per_lesson.setdefault(les.id, [0, 0])
            tally[1] += 1
            tally[0] += not late
            ok = ok and not late
            if last is None:
                everyone_passed = False
            else:
                oldest = last if oldest is None else min(oldest, last)
            if late or (until is not None and until <= now.date() + timedelta(days=within_days)):
                due.append(Due(person=p, lesson=les, last_passed=last, due=until, overdue=late))
        current += ok
        d = depts.setdefault(p.department, [0, 0])
        d[0] += ok
        d[1] += 1
    camp = report(store, roster)
    records = [t for t in passed.values()]
    if camp and camp.campaign.launched:
        records.append(camp.campaign.launched)
    return TrainingSummary(generated=now, people=len(roster), current=current,
                           departments={k: (v[0], v[1]) for k, v in sorted(depts.items())},
                           lessons={k: (v[0], v[1]) for k, v in sorted(per_lesson.items())}, due=tuple(due),
                           trained_as_of=oldest if everyone_passed else None,
                           newest_record=max(records, default=None), phishing=camp)


@dataclass(frozen=True, kw_only=True, slots=True)
class TrainingEvidence:
    """What training says about some controls (:mod:`radguard.govern.status` turns it into evidence)."""

    controls: tuple[str, ...]
    state: State
    date: datetime
    stale: bool
    text: str
    facts: Mapping[str, Any]


def evidence(store: Store, interval_days: int, now: datetime | None = None) -> list[TrainingEvidence]:
    """Evidence of the programme (its controls) and of each lesson (the lesson's own controls).

    Nothing while the roster is empty or nothing was ever recorded: no record is no evidence (the control
    stays unknown unless the self-assessment answers it).
    """
    now = now or datetime.now(UTC)
    st = summary(store, now)
    if not st.people or st.newest_record is None:
        return []
    stale = now - st.newest_record > timedelta(days=interval_days)
    out = [TrainingEvidence(controls=programme().controls, state=st.state(), date=st.newest_record, stale=stale,
                            text=st.text(), facts=st.facts())]
    by_lesson = {les.id: les for p in people(store) for les in lessons_for(p.role)}
    for lid, (cur, total) in st.lessons.items():
        les = by_lesson[lid]
        if not les.controls or not total:
            continue
        rate = cur / total
        prog = programme()
        state = State.MET if rate >= prog.met_completion else (
            State.PARTIAL if rate >= prog.partial_completion else State.NOT_MET)
        out.append(TrainingEvidence(controls=les.controls, state=state, date=st.newest_record, stale=stale,
                                    text=f"training lesson {lid}: {cur}/{total} people current ({_pct(rate)})",
                                    facts={"lesson": lid, "current": cur, "people": total,
                                           "completion_rate": round(rate, 4)}))
    return out


@dataclass(frozen=True, slots=True)
class Reminder:
    """One reminder e-mail: to one person, listing every lesson due."""

    person: str
    to: str
    subject: str
    body: str

    def text(self) -> str:
        return f"To: {self.to}\nSubject: {self.subject}\n\n{self.body}"


def compose_reminders(due: Sequence[Due], today: date | None = None) -> list[Reminder]:
    """One reminder per person with lessons due, in person order."""
    today = today or datetime.now(UTC).date()
    by: dict[str, list[Due]] = {}
    for d in due:
        by.setdefault(d.person.id, []).append(d)
    out: list[Reminder] = []
    for pid, items in sorted(by.items()):
        p = items[0].person
        lines = [f"Hello {p.name},", "", "the following security awareness lessons are due:", ""]
        for d in items:
            when = "never taken" if d.last_passed is None else f"last passed {d.last_passed.date().isoformat()}"
            state = "overdue" if d.overdue else f"due {d.due.isoformat() if d.due else today.isoformat()}"
            lines.append(f"  - {d.lesson.title} ({d.lesson.id}): {state}, {when}")
        lines += ["", "Take a lesson in a terminal with:", f"  radguard train take {pid} --lesson LESSON", "",
                  "Each lesson takes about ten minutes and ends with a short quiz.", ""]
        subject = f"Security awareness training due ({len(items)} lesson{'s' if len(items) != 1 else ''})"
        out.append(Reminder(person=pid, to=p.email, subject=subject, body="\n".join(lines)))
    return out


def write_reminders(due: Sequence[Due], folder: Path, today: date | None = None) -> list[Path]:
    """One reminder e-mail text per person with lessons due (``To:``, ``Subject:``, body) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for r in compose_reminders(due, today):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in r.person)
        path = folder / f"reminder-{safe}.txt"
        path.write_text(r.text(), encoding="utf-8")
        paths.append(path)
    return paths


def trained_as_of(store: Store, now: datetime | None = None) -> datetime | None:
    """When the whole active roster was last current (fulfils the ``training`` obligation); None if not yet."""
    return summary(store, now).trained_as_of
