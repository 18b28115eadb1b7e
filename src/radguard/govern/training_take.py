"""A lesson taken in the terminal: the text (Rich Markdown), then the quiz one question at a time.

Each answer is checked at once (right or wrong, and why); an invalid answer is asked again. Typing
``quit`` stops the lesson without recording anything. At the end the score is recorded with the date
(:func:`radguard.govern.training_roster.record_completion`); the answers themselves are not kept.
"""

from __future__ import annotations

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.prompt import Prompt

from radguard.govern.training import Lesson, QuizResult, score
from radguard.govern.training_roster import Completion, Person, record_completion
from radguard.store import Store

#: typed instead of an answer: stop, record nothing
QUIT = "quit"


def _ask(con: Console, les: Lesson, n: int) -> frozenset[str] | None:
    q = les.questions[n]
    con.print(f"\n[bold]Question {n + 1} of {len(les.questions)}[/bold]: {q.text}", highlight=False)
    for key, text in q.choices.items():
        con.print(f"  {key}) {text}", highlight=False)
    hint = "choose all that apply, e.g. a, c" if q.multiple else "/".join(q.choices)
    while True:
        try:
            raw = Prompt.ask(f"  answer ({hint}; {QUIT})", console=con)
        except EOFError:  # the terminal closed: stop as if quit
            return None
        if raw.strip().lower() == QUIT:
            return None
        try:
            picked = q.parse(raw)
        except ValueError as exc:
            con.print(f"  [red]{exc}[/red]", highlight=False)
            continue
        if picked == q.answer:
            con.print("  [green]Right.[/green] " + q.why, highlight=False)
        else:
            con.print(f"  [red]Not quite[/red]: the answer is {', '.join(sorted(q.answer))}. {q.why}", highlight=False)
        return picked


def take_lesson(store: Store, person: Person, les: Lesson,
                console: Console | None = None) -> tuple[QuizResult, Completion] | None:
    """Show the lesson, ask its quiz and record the score; None if the person quit."""
    con = console or Console()
    con.print(Panel(Markdown(les.text), title=f"{les.title} (lesson {les.id}, version {les.version})",
                    subtitle=f"for {person.name}"))
    con.print(f"Quiz: {len(les.questions)} questions, pass mark {round(100 * les.pass_mark)}%.")
    answers: dict[str, frozenset[str]] = {}
    for n, q in enumerate(les.questions):
        picked = _ask(con, les, n)
        if picked is None:
            con.print(f"Stopped: nothing recorded. Start again with: radguard train take {person.id} --lesson {les.id}")
            return None
        answers[q.id] = picked
    result = score(les, answers)
    done = record_completion(store, person, result, "terminal")
    verdict = "[green]passed[/green]" if result.passed else "[red]not passed[/red] (take it again)"
    con.print(f"\nScore {result.score}/{result.total} ({result.percent}%): {verdict}. "
              f"Recorded for {person.id} on {done.taken.date().isoformat()}.")
    return result, done
