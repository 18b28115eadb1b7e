"""The imaging self-assessment template (``data/assessment.yaml``) and what an answer means.

The template ships with radguard; each question names the controls its answer gives evidence for
(45 CFR 164.308/.310/.312/.314 standards and specifications, CSF 2.0, HICP, CPG goals) and how an
answer turns into a :class:`State`: ``yesno`` (yes met, partial, no not met), ``date`` (met when
within ``fresh_days``), ``number`` (met when at most ``met_at_most``), ``choice`` (each choice names
its state) and ``text`` (evidence only).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml


class State(enum.StrEnum):
    """Status of a control, worst last: the order :func:`worst` uses."""

    MET = "met"
    UNKNOWN = "unknown"
    PARTIAL = "partial"
    NOT_MET = "not-met"

    @property
    def label(self) -> str:
        return self.value.replace("-", " ")


_ORDER = {State.UNKNOWN: 0, State.MET: 1, State.PARTIAL: 2, State.NOT_MET: 3}


def worst(states: list[State]) -> State:
    """The worst of ``states`` (not met > partial > met > unknown); unknown for none."""
    return max(states, key=lambda s: _ORDER[s], default=State.UNKNOWN)


class QType(enum.StrEnum):
    YESNO = "yesno"
    DATE = "date"
    NUMBER = "number"
    CHOICE = "choice"
    TEXT = "text"


#: yes/no answers and their states (``unknown`` and ``na`` give no evidence)
YESNO: Mapping[str, State | None] = {"yes": State.MET, "partial": State.PARTIAL, "no": State.NOT_MET,
                                     "unknown": None, "na": None}


@dataclass(frozen=True, kw_only=True, slots=True)
class Question:
    id: str
    section: str
    text: str
    type: QType
    controls: tuple[str, ...]
    fresh_days: int | None = None
    met_at_most: float | None = None
    choices: Mapping[str, str] = field(default_factory=dict)

    def normalise(self, raw: object) -> object:
        """The stored form of an answer (``str`` / ISO date / number); raises ValueError if invalid."""
        if self.type is QType.YESNO:
            if isinstance(raw, bool):  # YAML 1.1 reads yes/no as booleans
                return "yes" if raw else "no"
            text = str(raw).strip().lower().replace("n/a", "na")
            if text not in YESNO:
                raise ValueError(f"expected one of {', '.join(YESNO)}, got {raw!r}")
            return text
        if self.type is QType.DATE:
            if isinstance(raw, datetime):
                return raw.date().isoformat()
            if isinstance(raw, date):
                return raw.isoformat()
            text = str(raw).strip().lower()
            if text in ("unknown", "never"):
                return text
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                raise ValueError(f"expected a date YYYY-MM-DD, 'never' or 'unknown', got {raw!r}") from None
        if self.type is QType.NUMBER:
            if isinstance(raw, bool):
                raise ValueError(f"expected a number, got {raw!r}")
            try:
                value = float(str(raw).strip())
            except ValueError:
                raise ValueError(f"expected a number, got {raw!r}") from None
            return int(value) if value.is_integer() else value
        if self.type is QType.CHOICE:
            text = str(raw).strip().lower()
            if text not in self.choices and text != "unknown":
                raise ValueError(f"expected one of {', '.join([*self.choices, 'unknown'])}, got {raw!r}")
            return text
        return str(raw)

    def state(self, value: object, today: date | None = None) -> State | None:
        """The state an answer gives its controls, or None when it gives no evidence."""
        today = today or datetime.now(UTC).date()
        if self.type is QType.YESNO:
            return YESNO.get(str(value))
        if self.type is QType.DATE:
            if value == "never":
                return State.NOT_MET
            try:
                when = date.fromisoformat(str(value))
            except ValueError:
                return None
            return State.MET if (today - when).days <= (self.fresh_days or 365) else State.NOT_MET
        if self.type is QType.NUMBER and isinstance(value, (int, float)):
            return State.MET if value <= (self.met_at_most or 0) else State.PARTIAL
        if self.type is QType.CHOICE:
            signal = self.choices.get(str(value))
            return State(signal) if signal in {s.value for s in State} else None
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class Section:
    id: str
    title: str
    questions: tuple[Question, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Template:
    edition: str
    sections: tuple[Section, ...]

    @property
    def questions(self) -> dict[str, Question]:
        return {q.id: q for s in self.sections for q in s.questions}


def _question(raw: Mapping[str, Any], section: str) -> Question:
    return Question(id=str(raw["id"]), section=section, text=str(raw["text"]), type=QType(raw.get("type", "yesno")),
                    controls=tuple(raw.get("controls", ())), fresh_days=raw.get("fresh_days"),
                    met_at_most=raw.get("met_at_most"),
                    choices={str(k): str(v) for k, v in (raw.get("choices") or {}).items()})


@cache
def template() -> Template:
    """The shipped self-assessment template (cached)."""
    text = resources.files("radguard.govern.data").joinpath("assessment.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    sections = tuple(
        Section(id=str(s["id"]), title=str(s["title"]),
                questions=tuple(_question(q, str(s["id"])) for q in s["questions"]))
        for s in raw["sections"]
    )
    return Template(edition=str(raw["edition"]), sections=sections)
