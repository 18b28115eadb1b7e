"""Tabletop exercises (``radguard exercise``): incident response rehearsed in the terminal.

Shaped like CISA's tabletop exercise packages and HSEEP: a scenario (one YAML file, schema
``radguard.exercise/1``, see docs/range.md) has modules (information sharing, response, continuity
and recovery), timed injects addressed to roles (radiologist, PACS administrator, CISO,
communications, vendor), discussion questions, and a decision per inject whose options branch to the
next inject. Each inject carries expectations scored **met / not met by a deadline** on exercise time
(as OpenAEV does). With a scripted player (``--player FILE``) the clock is simulated: each answer says
how many exercise minutes it took. With a range up (``--range DIR``), injects show live facts from it.
The run ends with an after-action report and an improvement plan (corrective actions with owner,
priority and due date), stored in the radguard store as an ``exercise`` run for governance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from radguard.errors import UsageError

SCHEMA = "radguard.exercise/1"
ROLES = ("radiologist", "PACS administrator", "CISO", "communications", "vendor")
MODULES = ("information sharing", "response", "continuity and recovery")
PRIORITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Corrective:
    action: str
    owner: str
    priority: str
    due_days: int


@dataclass(frozen=True)
class Option:
    id: str
    text: str
    next: str | None
    corrective: Corrective | None


@dataclass(frozen=True)
class Expectation:
    id: str
    text: str
    met_by: tuple[str, ...]
    points: int
    corrective: Corrective


@dataclass(frozen=True)
class Inject:
    id: str
    module: str
    role: str
    at: float
    deadline: float
    text: str
    questions: tuple[str, ...]
    facts: tuple[str, ...]
    prompt: str
    options: tuple[Option, ...]
    expectations: tuple[Expectation, ...]


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    summary: str
    start: str
    injects: dict[str, Inject]


class ScenarioError(UsageError):
    """A scenario or player file that cannot be used (one line, exit 2)."""


def _need(doc: Mapping[str, Any], key: str, where: str, kind: type = str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or (kind is str and not value):
        raise ScenarioError(f"{where}: '{key}' must be a {'non-empty ' if kind is str else ''}{kind.__name__}")
    return value


def _corrective(doc: Any, where: str) -> Corrective:
    if not isinstance(doc, Mapping):
        raise ScenarioError(f"{where}: 'corrective' must be a mapping")
    owner = _need(doc, "owner", where)
    if owner not in ROLES:
        raise ScenarioError(f"{where}: owner {owner!r} is not a role ({', '.join(ROLES)})")
    priority = _need(doc, "priority", where)
    if priority not in PRIORITIES:
        raise ScenarioError(f"{where}: priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    return Corrective(action=_need(doc, "action", where), owner=owner, priority=priority,
                      due_days=int(_need(doc, "due_days", where, int)))


def parse(doc: Any, source: str = "scenario") -> Scenario:
    """Check a scenario document and build it; a :class:`ScenarioError` names the first problem."""
    if not isinstance(doc, Mapping):
        raise ScenarioError(f"{source}: not a scenario (a YAML mapping expected)")
    if doc.get("schema") != SCHEMA:
        raise ScenarioError(f"{source}: schema must be {SCHEMA!r}")
    injects: dict[str, Inject] = {}
    for n, raw in enumerate(_need(doc, "injects", source, list)):
        where = f"{source}: injects[{n}]"
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"{where}: must be a mapping")
        iid = _need(raw, "id", where)
        where = f"{source}: inject {iid}"
        module, role = _need(raw, "module", where), _need(raw, "role", where)
        if module not in MODULES:
            raise ScenarioError(f"{where}: module {module!r} is not one of {', '.join(MODULES)}")
        if role not in ROLES:
            raise ScenarioError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
        decision = _need(raw, "decision", where, dict)
        options = tuple(
            Option(id=_need(o, "id", where), text=_need(o, "text", where), next=o.get("next"),
                   corrective=_corrective(o["corrective"], where) if o.get("corrective") else None)
            for o in _need(decision, "options", where, list))
        if not options:
            raise ScenarioError(f"{where}: a decision needs at least one option")
        expectations = tuple(
            Expectation(id=_need(e, "id", where), text=_need(e, "text", where),
                        met_by=tuple(_need(e, "met_by", where, list)), points=int(e.get("points", 1)),
                        corrective=_corrective(e.get("corrective"), where))
            for e in raw.get("expectations") or [])
        ids = {o.id for o in options}
        for e in expectations:
            if not set(e.met_by) <= ids:
                raise ScenarioError(f"{where}: expectation {e.id} names an unknown option")
        injects[iid] = Inject(id=iid, module=module, role=role, at=float(raw.get("at", 0)),
                              deadline=float(_need(raw, "deadline", where, (int, float))),  # type: ignore[arg-type]
                              text=_need(raw, "text", where), questions=tuple(raw.get("questions") or []),
                              facts=tuple(raw.get("facts") or []), prompt=_need(decision, "prompt", where),
                              options=options, expectations=expectations)
    start = _need(doc, "start", source)
    if start not in injects:
        raise ScenarioError(f"{source}: start {start!r} is not an inject")
    for inj in injects.values():
        for o in inj.options:
            if o.next is not None and o.next not in injects:
                raise ScenarioError(f"{source}: inject {inj.id} option {o.id} leads to unknown inject {o.next!r}")
    return Scenario(id=_need(doc, "id", source), title=_need(doc, "title", source),
                    summary=str(doc.get("summary", "")), start=start, injects=injects)


def _yaml(text: str, source: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{source}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None


def shipped() -> dict[str, str]:
    """The scenarios radguard ships: id -> YAML text."""
    folder = resources.files("radguard.range") / "exercises"
    return {p.name.removesuffix(".yaml"): p.read_text(encoding="utf-8")
            for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.name.endswith(".yaml")}


def load(name_or_path: str) -> tuple[Scenario, str]:
    """A scenario by shipped id or file path; returns it and its YAML text (the one file it exports as)."""
    ships = shipped()
    if name_or_path in ships:
        text = ships[name_or_path]
    else:
        try:
            text = Path(name_or_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"{name_or_path}: cannot read ({exc.strerror or exc}); shipped scenarios: "
                                f"{', '.join(ships)}") from None
    return parse(_yaml(text, name_or_path), name_or_path), text


def load_player(path: Path) -> dict[str, dict[str, Any]]:
    """A scripted player: ``answers: {INJECT: {choice: OPTION, minutes: N}}``."""
    try:
        doc = _yaml(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror or exc})") from None
    answers = doc.get("answers") if isinstance(doc, Mapping) else None
    if not isinstance(answers, Mapping):
        raise ScenarioError(f"{path}: a player file needs an 'answers' mapping")
    return {str(k): dict(v) for k, v in answers.items() if isinstance(v, Mapping)}


Answer = Callable[[Inject, list[str]], tuple[str, float]]


@dataclass
class Played:
    inject: str
    module: str
    role: str
    clock: float
    choice: str
    minutes: float
    expectations: list[dict[str, Any]] = field(default_factory=list)


def play(scenario: Scenario, answer: Answer, facts: Callable[[str], str] | None = None,
         show: Callable[[str], None] | None = None, max_steps: int = 50) -> dict[str, Any]:
    """Run ``scenario``: each inject is shown, answered (choice, exercise minutes), scored; the decisions branch.

    Returns the after-action report (``radguard.exercise-aar/1`` body): the path taken, each expectation
    met or not met by its deadline, the score, and the improvement plan.
    """
    out = show or (lambda _text: None)
    clock = 0.0
    path: list[Played] = []
    plan: list[dict[str, Any]] = []
    today = datetime.now(UTC).date()
    current: str | None = scenario.start
    while current is not None and len(path) < max_steps:
        inj = scenario.injects[current]
        clock = max(clock, inj.at)
        lines = [f"[T+{clock:.0f} min] {inj.module} · to the {inj.role}", inj.text]
        lines += [f"  fact: {facts(f)}" for f in inj.facts] if facts else []
        lines += [f"  discuss: {q}" for q in inj.questions]
        out("\n".join(lines))
        choice, minutes = answer(inj, [o.id for o in inj.options])
        option = next((o for o in inj.options if o.id == choice), None)
        if option is None:
            known = ", ".join(o.id for o in inj.options)
            raise ScenarioError(f"inject {inj.id}: {choice!r} is not an option ({known})")
        played = Played(inject=inj.id, module=inj.module, role=inj.role, clock=clock, choice=choice, minutes=minutes)
        for e in inj.expectations:
            met = choice in e.met_by and minutes <= inj.deadline
            played.expectations.append({"id": e.id, "text": e.text, "met": met, "points": e.points if met else 0,
                                        "deadline_min": inj.deadline, "answered_min": minutes})
            if not met:
                plan.append(_plan_item(e.corrective, today, f"{inj.id}/{e.id} not met"))
        if option.corrective is not None:
            plan.append(_plan_item(option.corrective, today, f"{inj.id}: chose {option.id}"))
        clock += minutes
        path.append(played)
        current = option.next
    possible = sum(e.points for p in path for e in scenario.injects[p.inject].expectations)
    score = sum(e["points"] for p in path for e in p.expectations)
    order = {p: n for n, p in enumerate(PRIORITIES)}
    plan = list({c["action"]: c for c in reversed(plan)}.values())  # one item per action (the first reason)
    plan.sort(key=lambda c: (order[c["priority"]], c["due"]))
    return {"scenario": scenario.id, "title": scenario.title, "path": [p.__dict__ for p in path],
            "score": score, "possible": possible, "minutes": clock,
            "met": sum(e["met"] for p in path for e in p.expectations),
            "not_met": sum(not e["met"] for p in path for e in p.expectations), "improvement_plan": plan}


def _plan_item(c: Corrective, today: date, why: str) -> dict[str, Any]:
    return {"action": c.action, "owner": c.owner, "priority": c.priority,
            "due": (today + timedelta(days=c.due_days)).isoformat(), "why": why}


def scripted(answers: Mapping[str, Mapping[str, Any]]) -> Answer:
    """A player that answers from a file (simulated clock: ``minutes`` per answer, default 5)."""
    def answer(inj: Inject, options: list[str]) -> tuple[str, float]:
        a = answers.get(inj.id)
        if a is None:
            raise ScenarioError(f"the player file has no answer for inject {inj.id!r} (options: {', '.join(options)})")
        return str(a.get("choice")), float(a.get("minutes", 5))
    return answer
