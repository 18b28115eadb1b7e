"""Workforce security awareness lessons and their quizzes (45 CFR 164.308(a)(5); HPH CPG ESS-04).

Lessons ship as data, one YAML file each in ``data/training/``: an id, a title, a version, the roles it is
for (``audience``; ``all`` for everyone), how often it must be retaken (``interval_days``), the share of
questions to get right (``pass_mark``), the controls it gives evidence for besides the programme's, a
Markdown text and multiple-choice questions (one right choice, or a list of them: choose all that apply).
The programme (``data/training.yaml``) names the controls training as a whole is evidence for and when it
counts as met.

A quiz is scored by :func:`score`; answers given in a file (``radguard train take --answers``) are read
by :func:`parse_quiz_answers`, which names the line of the first problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from radguard.errors import UsageError
from radguard.govern.answers import answer_items, compose_file, scalar

#: the audience entry meaning every role
EVERYONE = "all"


@dataclass(frozen=True, kw_only=True, slots=True)
class QuizQuestion:
    id: str
    text: str
    choices: Mapping[str, str]
    answer: frozenset[str]
    why: str = ""

    @property
    def multiple(self) -> bool:
        """Choose all that apply (more than one right choice)."""
        return len(self.answer) > 1

    def parse(self, raw: object) -> frozenset[str]:
        """A person's answer as a set of choice keys: ``"b"``, ``"a, c"``, ``["a", "c"]``; ValueError if invalid."""
        items = raw if isinstance(raw, list) else str(raw if raw is not None else "").replace(",", " ").split()
        picked = frozenset(str(i).strip().lower() for i in items if str(i).strip())
        if not picked:
            raise ValueError(f"expected one of {', '.join(self.choices)}")
        bad = sorted(picked - set(self.choices))
        if bad:
            raise ValueError(f"{bad[0]!r} is not a choice: expected {', '.join(self.choices)}")
        if len(picked) > 1 and not self.multiple:
            raise ValueError(f"one answer only: expected one of {', '.join(self.choices)}")
        return picked


@dataclass(frozen=True, kw_only=True, slots=True)
class Lesson:
    """One lesson and its quiz (a file of ``data/training/``)."""

    id: str
    audience: tuple[str, ...]
    title: str
    controls: tuple[str, ...]
    version: int
    questions: tuple[QuizQuestion, ...]
    interval_days: int
    text: str
    pass_mark: float

    def for_role(self, role: str) -> bool:
        """Whether a person of ``role`` must take this lesson."""
        return EVERYONE in self.audience or role.strip().lower() in self.audience

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "version": self.version, "audience": list(self.audience),
                "interval_days": self.interval_days, "pass_mark": self.pass_mark, "controls": list(self.controls),
                "questions": len(self.questions)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Programme:
    edition: str
    controls: tuple[str, ...]
    met_completion: float
    partial_completion: float
    max_click_rate: float


@dataclass(frozen=True, kw_only=True, slots=True)
class QuizResult:
    lesson: str
    version: int
    score: int
    total: int
    passed: bool
    wrong: tuple[str, ...]

    @property
    def percent(self) -> int:
        return round(100 * self.score / self.total) if self.total else 0

    def to_dict(self) -> dict[str, Any]:
        return {"lesson": self.lesson, "version": self.version, "score": self.score, "total": self.total,
                "percent": self.percent, "passed": self.passed, "wrong": list(self.wrong)}


def _lesson(raw: Mapping[str, Any], where: str) -> Lesson:
    try:
        questions = tuple(
            QuizQuestion(id=str(q["id"]), text=str(q["text"]), why=str(q.get("why", "")),
                         choices={str(k): str(v) for k, v in q["choices"].items()},
                         answer=frozenset(str(a) for a in (q["answer"] if isinstance(q["answer"], list)
                                                           else [q["answer"]])))
            for q in raw["questions"])
        lesson = Lesson(id=str(raw["id"]), title=str(raw["title"]), version=int(raw["version"]),
                        audience=tuple(str(a).lower() for a in raw.get("audience", [EVERYONE])),
                        interval_days=int(raw["interval_days"]), pass_mark=float(raw["pass_mark"]),
                        controls=tuple(raw.get("controls") or ()), text=str(raw["text"]), questions=questions)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{where}: malformed lesson: {exc!r}") from None
    for q in lesson.questions:
        if not q.answer <= set(q.choices):
            raise ValueError(f"{where}: {q.id}: answer not among the choices")
    if not lesson.questions or not 0 < lesson.pass_mark <= 1 or lesson.interval_days <= 0:
        raise ValueError(f"{where}: a lesson needs questions, 0 < pass_mark <= 1 and interval_days > 0")
    return lesson


@cache
def lessons() -> tuple[Lesson, ...]:
    """The shipped lessons, by id."""
    folder = resources.files("radguard.govern.data").joinpath("training")
    out = [_lesson(yaml.safe_load(f.read_text("utf-8")), f.name)
           for f in sorted(folder.iterdir(), key=lambda f: f.name) if f.name.endswith(".yaml")]
    return tuple(sorted(out, key=lambda lesson: lesson.id))


def lesson(lesson_id: str) -> Lesson:
    """One lesson by id; UsageError naming the known ones otherwise."""
    for les in lessons():
        if les.id == lesson_id:
            return les
    raise UsageError(f"unknown lesson {lesson_id!r} (have: {', '.join(x.id for x in lessons())})")


def lessons_for(role: str) -> tuple[Lesson, ...]:
    """The lessons a person of ``role`` must take."""
    return tuple(x for x in lessons() if x.for_role(role))


@cache
def programme() -> Programme:
    raw: dict[str, Any] = yaml.safe_load(
        resources.files("radguard.govern.data").joinpath("training.yaml").read_text("utf-8"))
    return Programme(edition=str(raw["edition"]), controls=tuple(raw["controls"]),
                     met_completion=float(raw["met_completion"]),
                     partial_completion=float(raw["partial_completion"]),
                     max_click_rate=float(raw["max_click_rate"]))


def score(les: Lesson, answers: Mapping[str, frozenset[str]]) -> QuizResult:
    """Score a quiz: a question counts when exactly the right choices were picked; passed at ``pass_mark``."""
    wrong = tuple(q.id for q in les.questions if answers.get(q.id) != q.answer)
    right = len(les.questions) - len(wrong)
    return QuizResult(lesson=les.id, version=les.version, score=right, total=len(les.questions),
                      passed=right >= les.pass_mark * len(les.questions) - 1e-9, wrong=wrong)


def parse_quiz_answers(path: Path, les: Lesson) -> dict[str, frozenset[str]]:
    """Read a quiz answers file (``answers: {q1: b, q2: [a, c]}``; optional ``lesson:``) and check it whole.

    Raises
    ------
    UsageError
        ``FILE:LINE: what is wrong``: YAML syntax, another lesson, an unknown question, an invalid choice,
        a question left unanswered.
    """
    root = compose_file(path)
    if not isinstance(root, yaml.MappingNode):
        raise UsageError(f"{path}:1: expected a mapping with 'answers:'")
    answers_node: yaml.MappingNode | None = None
    answers_line = 1
    for key, value in root.value:
        line = key.start_mark.line + 1
        if key.value == "lesson":
            if str(scalar(value)) != les.id:
                raise UsageError(f"{path}:{line}: answers for lesson {scalar(value)!r}, not {les.id!r}")
        elif key.value == "answers" and isinstance(value, yaml.MappingNode):
            answers_node, answers_line = value, line
        elif key.value == "answers":
            raise UsageError(f"{path}:{line}: 'answers' must map question ids to choices")
        else:
            raise UsageError(f"{path}:{line}: unknown key {key.value!r} (expected lesson, answers)")
    if answers_node is None:
        raise UsageError(f"{path}:1: no 'answers:' mapping")
    questions = {q.id: q for q in les.questions}
    out: dict[str, frozenset[str]] = {}
    for line, qid, value in answer_items(path, answers_node, questions, f"lesson {les.id}: {', '.join(questions)}"):
        try:
            out[qid] = questions[qid].parse(scalar(value))
        except ValueError as exc:
            raise UsageError(f"{path}:{line}: {qid}: {exc}") from None
    missing = [q for q in questions if q not in out]
    if missing:
        raise UsageError(f"{path}:{answers_line}: question {missing[0]!r} not answered")
    return out


def audiences() -> Sequence[str]:
    """Every role some lesson names (besides ``all``)."""
    return sorted({a for x in lessons() for a in x.audience if a != EVERYONE})
