"""The interactive self-assessment: Rich prompts, section by section, each answer saved as it is given.

Interrupting (``quit``, Ctrl-C, a closed terminal) loses nothing: the next ``radguard govern assess``
resumes the assessment in progress at the first question it has no answer for (``--new`` starts over).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.prompt import Prompt

from radguard.govern import answers as store_answers
from radguard.govern.questions import YESNO, QType, Question, Template
from radguard.store import Store

#: typed instead of an answer: leave the question for later / stop here (resumable)
SKIP, QUIT = "skip", "quit"


def _ask(con: Console, q: Question, previous: object | None) -> tuple[object, str] | str:
    """One question until a valid answer, ``SKIP`` or ``QUIT``; returns (value, note) or the command."""
    hint = {QType.YESNO: "/".join(YESNO), QType.DATE: "YYYY-MM-DD, never, unknown",
            QType.NUMBER: "a number", QType.CHOICE: "/".join([*q.choices, "unknown"]), QType.TEXT: "text"}[q.type]
    default = None if previous is None else str(previous)
    while True:
        raw = Prompt.ask(f"[bold]{q.text}[/bold]\n  ({hint}; {SKIP}, {QUIT})", console=con, default=default)
        text = (raw or "").strip()
        if text.lower() in (SKIP, QUIT):
            return text.lower()
        try:
            value = q.normalise(text)
        except ValueError as exc:
            con.print(f"[red]{exc}[/red]")
            continue
        note = Prompt.ask("  note (optional)", console=con, default="")
        return value, note.strip()


def interview(store: Store, tpl: Template, who: str, sections: Sequence[str] = (), new: bool = False,
              console: Console | None = None) -> int:
    """Ask the unanswered questions of an assessment in progress (or a new one); returns its id."""
    con = console or Console()
    aid = None if new else store_answers.resumable(store)
    if aid is None:
        aid = store_answers.start_assessment(store, who, "interactive")
        con.print(f"Self-assessment #{aid} ({tpl.edition}). Answers are saved as you go; "
                  f"type {QUIT} to stop and resume later.")
    else:
        con.print(f"Resuming self-assessment #{aid}.")
    done = store_answers.answered_in(store, aid)
    previous = store_answers.latest_answers(store)
    for section in tpl.sections:
        if sections and section.id not in sections:
            continue
        todo = [q for q in section.questions if q.id not in done]
        if not todo:
            continue
        con.rule(f"{section.title} ({len(todo)} question{'s' if len(todo) != 1 else ''})")
        for q in todo:
            prev = previous.get(q.id)
            got = _ask(con, q, prev.value if prev else None)
            if got == QUIT:
                con.print(f"Stopped. Resume with: radguard govern assess (assessment #{aid}).")
                return aid
            if got == SKIP:
                continue
            assert isinstance(got, tuple)
            store_answers.save_answer(store, aid, q.id, got[0], who, got[1])
            done.add(q.id)
    remaining = [q.id for q in tpl.questions.values() if q.id not in done]
    if not remaining:
        store_answers.finish_assessment(store, aid)
        con.print(f"Self-assessment #{aid} complete. See: radguard govern status")
    else:
        con.print(f"{len(remaining)} question(s) left for later (radguard govern assess resumes).")
    return aid
