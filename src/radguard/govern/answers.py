"""Self-assessment answers in the store: versioned (who, when), read from a YAML file or given one by one.

An answers file is checked whole before anything is written: a malformed file raises
:class:`~radguard.errors.UsageError` naming the file and line, and the store is left as it was.

Answers file (YAML)::

    who: J. Smith, practice manager        # optional; --who wins
    answers:
      physical.modality-rooms: yes
      backup.last-restore-test: 2026-09-30
      vendor.remote-access: {answer: vpn-mfa, note: "vendor portal, MFA since May"}
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from radguard.errors import UsageError
from radguard.govern.questions import Template, template
from radguard.govern.tables import AnswerRow, AssessmentRow
from radguard.store import Store


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    """The latest answer to one question."""

    question: str
    value: Any
    note: str
    who: str
    at: datetime
    assessment: int

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "value": self.value, "note": self.note, "who": self.who,
                "at": self.at.isoformat(), "assessment": self.assessment}


def _utc(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def scalar(node: yaml.Node) -> Any:
    """The Python value of a composed YAML node (safe loader)."""
    return yaml.safe_load(yaml.serialize(node))


def compose_file(path: Path) -> yaml.Node | None:
    """Read and compose a YAML file keeping line numbers; UsageError ``FILE:LINE: ...`` if unreadable or not YAML."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise UsageError(f"{path}:{line}: not valid YAML: {exc.problem or exc.context}") from None


def answer_items(path: Path, node: yaml.MappingNode, known: Container[str],
                 hint: str) -> Iterator[tuple[int, str, yaml.Node]]:
    """(line, question id, value node) of each entry of an ``answers:`` mapping, in file order.

    Raises
    ------
    UsageError
        ``FILE:LINE:`` an unknown question (``hint`` says where the known ones are) or one answered twice.
    """
    seen: set[str] = set()
    for key, value in node.value:
        line = key.start_mark.line + 1
        qid = str(key.value)
        if qid not in known:
            raise UsageError(f"{path}:{line}: unknown question {qid!r} ({hint})")
        if qid in seen:
            raise UsageError(f"{path}:{line}: question {qid!r} answered twice")
        seen.add(qid)
        yield line, qid, value


def parse_answers_file(path: Path, tpl: Template | None = None) -> tuple[str | None, dict[str, tuple[Any, str]]]:
    """Read and check an answers file: (who or None, question id -> (normalised value, note)).

    Raises
    ------
    UsageError
        ``FILE:LINE: what is wrong`` for the first problem (syntax, unknown question, bad value).
    """
    tpl = tpl or template()
    root = compose_file(path)
    if not isinstance(root, yaml.MappingNode):
        raise UsageError(f"{path}:1: expected a mapping with 'answers:'")
    who: str | None = None
    answers_node: yaml.MappingNode | None = None
    for key, value in root.value:
        if key.value == "who":
            who = str(scalar(value))
        elif key.value == "answers":
            if not isinstance(value, yaml.MappingNode):
                raise UsageError(f"{path}:{key.start_mark.line + 1}: 'answers' must map question ids to answers")
            answers_node = value
        else:
            raise UsageError(f"{path}:{key.start_mark.line + 1}: unknown key {key.value!r} (expected who, answers)")
    if answers_node is None:
        raise UsageError(f"{path}:1: no 'answers:' mapping")
    questions = tpl.questions
    out: dict[str, tuple[Any, str]] = {}
    for line, qid, value in answer_items(path, answers_node, questions, "see `radguard govern questions`"):
        note = ""
        if isinstance(value, yaml.MappingNode):
            fields = {k.value: scalar(v) for k, v in value.value}
            if "answer" not in fields or set(fields) - {"answer", "note"}:
                raise UsageError(f"{path}:{line}: {qid}: expected {{answer: ..., note: ...}}")
            raw, note = fields["answer"], str(fields.get("note") or "")
        elif isinstance(value, yaml.ScalarNode):
            raw = scalar(value)
        else:
            raise UsageError(f"{path}:{line}: {qid}: an answer is a value or {{answer: ..., note: ...}}")
        if raw is None:
            raise UsageError(f"{path}:{line}: {qid}: empty answer")
        try:
            out[qid] = (questions[qid].normalise(raw), note)
        except ValueError as exc:
            raise UsageError(f"{path}:{line}: {qid}: {exc}") from None
    return who, out


def start_assessment(store: Store, who: str, source: str) -> int:
    """Open a new assessment session; returns its id."""
    with store.session() as s:
        row = AssessmentRow(started=datetime.now(UTC), who=who, template=template().edition, source=source,
                            status="in-progress")
        s.add(row)
        s.commit()
        return row.id


def resumable(store: Store) -> int | None:
    """The latest interactive assessment still in progress, if any."""
    with store.session() as s:
        q = (select(AssessmentRow.id).where(AssessmentRow.status == "in-progress")
             .order_by(AssessmentRow.id.desc()).limit(1))
        return s.scalars(q).first()


def save_answer(store: Store, assessment: int, question: str, value: Any, who: str, note: str = "") -> None:
    """Record one answer at once (an interactive session survives being interrupted)."""
    with store.session() as s:
        s.add(AnswerRow(assessment_id=assessment, question=question, value=value, note=note, who=who,
                        at=datetime.now(UTC)))
        s.commit()


def finish_assessment(store: Store, assessment: int) -> None:
    with store.session() as s:
        row = s.get(AssessmentRow, assessment)
        if row is not None:
            row.status = "complete"
            row.finished = datetime.now(UTC)
            s.commit()


def import_answers(store: Store, answers: Mapping[str, tuple[Any, str]], who: str) -> int:
    """Write a whole answers file as one complete assessment, in one transaction; returns its id."""
    now = datetime.now(UTC)
    with store.session() as s:
        row = AssessmentRow(started=now, finished=now, who=who, template=template().edition, source="file",
                            status="complete")
        s.add(row)
        s.flush()
        s.add_all(AnswerRow(assessment_id=row.id, question=q, value=v, note=n, who=who, at=now)
                  for q, (v, n) in answers.items())
        s.commit()
        return row.id


def answered_in(store: Store, assessment: int) -> set[str]:
    with store.session() as s:
        return set(s.scalars(select(AnswerRow.question).where(AnswerRow.assessment_id == assessment)))


def latest_answers(store: Store) -> dict[str, Answer]:
    """The newest answer to every question ever answered."""
    with store.session() as s:
        newest = select(func.max(AnswerRow.id)).group_by(AnswerRow.question).scalar_subquery()
        rows = s.scalars(select(AnswerRow).where(AnswerRow.id.in_(newest)))
        return {r.question: Answer(question=r.question, value=r.value, note=r.note, who=r.who, at=_utc(r.at),
                                   assessment=r.assessment_id) for r in rows}


def history(store: Store, question: str) -> list[Answer]:
    """Every answer given to ``question``, oldest first."""
    with store.session() as s:
        rows = s.scalars(select(AnswerRow).where(AnswerRow.question == question).order_by(AnswerRow.id))
        return [Answer(question=r.question, value=r.value, note=r.note, who=r.who, at=_utc(r.at),
                       assessment=r.assessment_id) for r in rows]


def last_completed(store: Store) -> datetime | None:
    """When the latest complete assessment finished."""
    with store.session() as s:
        q = select(func.max(AssessmentRow.finished)).where(AssessmentRow.status == "complete")
        value = s.scalar(q)
        return _utc(value) if value else None
