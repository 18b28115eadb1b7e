"""The workforce roster (CSV import) and the lesson completions recorded per person.

Roster CSV: a header with the columns ``id``, ``name``, ``role``, ``department``, ``email`` (any order,
case-insensitive; other columns are refused rather than stored: the store keeps no more than training
needs). ``name`` may be a pseudonym. A file is checked whole before anything is written; a problem is a
:class:`~radguard.errors.UsageError` ``FILE:LINE: ...``. Importing a roster replaces the active
workforce: people of earlier imports who are not in the file are marked inactive (their completions stay).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from radguard.errors import UsageError
from radguard.govern.training import QuizResult
from radguard.govern.training_tables import CompletionRow, PersonRow
from radguard.store import Store

#: the roster's columns, in the order ``train roster list`` shows them
COLUMNS: tuple[str, ...] = ("id", "name", "role", "department", "email")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
#: longest value per column (the store's column widths)
_WIDTH: Mapping[str, int] = {"id": 64, "name": 128, "role": 64, "department": 128, "email": 254}


@dataclass(frozen=True, kw_only=True, slots=True)
class Person:
    id: str
    name: str
    role: str
    department: str
    email: str
    active: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role, "department": self.department,
                "email": self.email, "active": self.active}


@dataclass(frozen=True, kw_only=True, slots=True)
class Completion:
    person: str
    lesson: str
    version: int
    score: int
    total: int
    passed: bool
    taken: datetime
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"person": self.person, "lesson": self.lesson, "version": self.version, "score": self.score,
                "total": self.total, "passed": self.passed, "taken": self.taken.isoformat(), "source": self.source}


def _utc(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def parse_roster(path: Path) -> list[Person]:
    """Read and check a roster CSV; UsageError ``FILE:LINE: ...`` for the first problem."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise UsageError(f"{path}:1: empty file (expected a header: {', '.join(COLUMNS)})")
        names = [h.strip().lower() for h in header]
        missing = [c for c in COLUMNS if c not in names]
        extra = [h for h in names if h not in COLUMNS]
        if missing or extra or len(set(names)) != len(names):
            what = f"missing column {missing[0]!r}" if missing else (
                f"unknown column {extra[0]!r}" if extra else "a column appears twice")
            raise UsageError(f"{path}:1: {what} (the header must be: {', '.join(COLUMNS)})")
        people: list[Person] = []
        ids: set[str] = set()
        emails: set[str] = set()
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                raise UsageError(f"{path}:{line}: {len(row)} fields, expected {len(names)}")
            rec = {n: cell.strip() for n, cell in zip(names, row, strict=True)}
            for col in COLUMNS:
                if col != "department" and not rec[col]:
                    raise UsageError(f"{path}:{line}: empty {col}")
                if len(rec[col]) > _WIDTH[col]:
                    raise UsageError(f"{path}:{line}: {col} longer than {_WIDTH[col]} characters")
            email = rec["email"].lower()
            if not _EMAIL.match(email):
                raise UsageError(f"{path}:{line}: {rec['email']!r} is not an e-mail address")
            if rec["id"] in ids:
                raise UsageError(f"{path}:{line}: person id {rec['id']!r} appears twice")
            if email in emails:
                raise UsageError(f"{path}:{line}: e-mail {email!r} appears twice")
            ids.add(rec["id"])
            emails.add(email)
            people.append(Person(id=rec["id"], name=rec["name"], role=rec["role"].lower(),
                                 department=rec["department"] or "(none)", email=email))
    except csv.Error as exc:
        raise UsageError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from None
    if not people:
        raise UsageError(f"{path}:1: no people in the roster")
    return people


def import_roster(store: Store, people: Iterable[Person]) -> dict[str, int]:
    """Replace the active roster with ``people`` in one transaction: counts of added, updated, left."""
    now = datetime.now(UTC)
    incoming = {p.id: p for p in people}
    counts = {"added": 0, "updated": 0, "unchanged": 0, "left": 0}
    with store.session() as s:
        existing = {r.person: r for r in s.scalars(select(PersonRow))}
        for pid, p in incoming.items():
            row = existing.get(pid)
            if row is None:
                s.add(PersonRow(person=pid, name=p.name, role=p.role, department=p.department, email=p.email,
                                active=True, updated=now))
                counts["added"] += 1
                continue
            fields = (p.name, p.role, p.department, p.email, True)
            if (row.name, row.role, row.department, row.email, row.active) == fields:
                counts["unchanged"] += 1
                continue
            row.name, row.role, row.department, row.email, row.active = fields
            row.updated = now
            counts["updated"] += 1
        for pid, row in existing.items():
            if pid not in incoming and row.active:
                row.active, row.updated = False, now
                counts["left"] += 1
        s.commit()
    return counts


def people(store: Store, include_inactive: bool = False) -> list[Person]:
    """The roster, ordered by department then id."""
    with store.session() as s:
        q = select(PersonRow).order_by(PersonRow.department, PersonRow.person)
        if not include_inactive:
            q = q.where(PersonRow.active.is_(True))
        return [Person(id=r.person, name=r.name, role=r.role, department=r.department, email=r.email,
                       active=r.active) for r in s.scalars(q)]


def find_person(store: Store, key: str) -> Person:
    """A person of the roster by id or e-mail; UsageError if unknown or no longer active."""
    wanted = key.strip()
    for p in people(store, include_inactive=True):
        if wanted in (p.id, p.email) or wanted.lower() == p.email:
            if not p.active:
                raise UsageError(f"person {key!r} is no longer on the active roster")
            return p
    raise UsageError(f"no person {key!r} on the roster (import one: radguard train roster import FILE)")


def record_completion(store: Store, person: Person, result: QuizResult, source: str,
                      when: datetime | None = None) -> Completion:
    """Record a lesson taken (score, pass, date); the answers themselves are not kept."""
    done = Completion(person=person.id, lesson=result.lesson, version=result.version, score=result.score,
                      total=result.total, passed=result.passed, taken=when or datetime.now(UTC), source=source)
    with store.session() as s:
        s.add(CompletionRow(person=done.person, lesson=done.lesson, version=done.version, score=done.score,
                            total=done.total, passed=done.passed, taken=done.taken, source=done.source))
        s.commit()
    return done


def completions(store: Store, person: str | None = None) -> list[Completion]:
    """Every lesson taken, oldest first (of one person if given)."""
    with store.session() as s:
        q = select(CompletionRow).order_by(CompletionRow.taken, CompletionRow.id)
        if person is not None:
            q = q.where(CompletionRow.person == person)
        return [Completion(person=r.person, lesson=r.lesson, version=r.version, score=r.score, total=r.total,
                           passed=r.passed, taken=_utc(r.taken), source=r.source) for r in s.scalars(q)]


def last_passed(store: Store) -> dict[tuple[str, str], datetime]:
    """(person id, lesson id) -> when the lesson was last passed."""
    out: dict[tuple[str, str], datetime] = {}
    for c in completions(store):
        if c.passed:
            out[(c.person, c.lesson)] = c.taken
    return out
