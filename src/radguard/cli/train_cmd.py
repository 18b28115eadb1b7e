"""``radguard train``: workforce security awareness training (45 CFR 164.308(a)(5); HPH CPG ESS-04).

Roster import, lessons with quizzes taken in the terminal (or from an answers file), GoPhish campaign
results with the funnel per department, who is due, and the status that feeds ``radguard govern status``.
Only typer and the standard library are imported at module level; the work is in :mod:`radguard.govern`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from radguard.cli.options import writable_dir

train_app = typer.Typer(help="Workforce security awareness training: roster, lessons and quizzes, phishing "
                        "simulation results (GoPhish), who is due.", no_args_is_help=True)
roster_app = typer.Typer(help="The workforce roster (CSV: id, name, role, department, email).", no_args_is_help=True)
phish_app = typer.Typer(help="Phishing simulation results imported from GoPhish.", no_args_is_help=True)
train_app.add_typer(roster_app, name="roster")
train_app.add_typer(phish_app, name="phish")

JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{round(100 * rate)}%"


@roster_app.command("import")
def roster_import(file: Path = typer.Argument(..., help="Roster CSV with the header id,name,role,department,email."),
                  json_out: JsonOut = False) -> None:
    """Import the roster: the people in the file are the active workforce; others become inactive."""
    from radguard.cli.output import emit_json, stderr_console
    from radguard.govern import training_roster as tr
    from radguard.store import open_store

    people = tr.parse_roster(file)  # checked whole before anything is written
    store = open_store()
    try:
        counts = tr.import_roster(store, people)
    finally:
        store.close()
    if json_out:
        emit_json("train-roster-import", {"file": str(file), "people": len(people), **counts})
    else:
        stderr_console().print(f"roster: {len(people)} people ({counts['added']} added, {counts['updated']} "
                               f"updated, {counts['left']} no longer on the roster)")


@roster_app.command("list")
def roster_list(show_all: bool = typer.Option(False, "--all", help="Also people no longer on the roster."),
                json_out: JsonOut = False) -> None:
    """The roster, by department."""
    from radguard.cli.output import emit_json, stdout_console
    from radguard.cli.tables import Column, print_table
    from radguard.govern import training_roster as tr
    from radguard.store import open_store

    store = open_store()
    try:
        people = tr.people(store, include_inactive=show_all)
    finally:
        store.close()
    if json_out:
        emit_json("train-roster", {"people": [p.to_dict() for p in people]})
        return
    cols = [Column("id", "key"), Column("name"), Column("role"), Column("department"), Column("email", "key")]
    rows = [(p.id, p.name + ("" if p.active else " (left)"), p.role, p.department, p.email) for p in people]
    print_table(stdout_console(), cols, rows, title=f"Roster ({len(people)} people)")


@train_app.command("lessons")
def lessons_cmd(json_out: JsonOut = False) -> None:
    """The lessons that ship with radguard: audience, interval, pass mark, questions."""
    from radguard.cli.output import emit_json, stdout_console
    from radguard.cli.tables import Column, print_table
    from radguard.govern.training import lessons, programme

    if json_out:
        emit_json("train-lessons", {"programme": programme().edition, "lessons": [x.to_dict() for x in lessons()]})
        return
    cols = [Column("id", "key"), Column("title"), Column("for", "words"), Column("every"), Column("pass"),
            Column("questions")]
    rows = [(x.id, x.title, ", ".join(x.audience), f"{x.interval_days} d", f"{round(100 * x.pass_mark)}%",
             str(len(x.questions))) for x in lessons()]
    print_table(stdout_console(), cols, rows, title="Lessons")


@train_app.command("take")
def take_cmd(
    person: str = typer.Argument(..., help="The person taking the lesson: roster id or e-mail."),
    lesson: str = typer.Option(..., "--lesson", "-l", help="Lesson id (see `radguard train lessons`)."),
    answers: Path = typer.Option(None, "--answers", help="Read the quiz answers from this YAML file "
                                 "(answers: {q1: b, q2: [a, c]}); no questions asked."),
    json_out: JsonOut = False,
) -> None:
    """Take a lesson: read it, answer its quiz; the score is recorded with the date. Exit 1 if not passed."""
    from radguard.cli.output import emit_json, stderr_console
    from radguard.errors import UsageError
    from radguard.govern import training as tg
    from radguard.govern import training_roster as tr
    from radguard.store import open_store

    les = tg.lesson(lesson)
    parsed = tg.parse_quiz_answers(answers, les) if answers is not None else None
    if parsed is None and json_out:
        raise UsageError("--json needs --answers FILE (the interactive lesson talks to a person)")
    store = open_store()
    try:
        who = tr.find_person(store, person)
        if parsed is not None:
            result = tg.score(les, parsed)
            done = tr.record_completion(store, who, result, "file")
        else:
            from radguard.govern.training_take import take_lesson

            got = take_lesson(store, who, les)
            if got is None:
                return
            result, done = got
    finally:
        store.close()
    if json_out:
        emit_json("train-take", {"person": who.id, **result.to_dict(), "taken": done.taken.isoformat(),
                                 "source": done.source})
    elif parsed is not None:
        stderr_console().print(f"{who.id}: {les.id} {result.score}/{result.total} ({result.percent}%), "
                               f"{'passed' if result.passed else 'not passed'}")
    raise typer.Exit(0 if result.passed else 1)


@train_app.command("history")
def history_cmd(person: str = typer.Argument(None, help="Only this person (roster id or e-mail)."),
                json_out: JsonOut = False) -> None:
    """Every lesson taken: person, lesson and version, score, passed, date, how (terminal or file)."""
    from radguard.cli.output import emit_json, stdout_console
    from radguard.cli.tables import Column, print_table
    from radguard.govern import training_roster as tr
    from radguard.store import open_store

    store = open_store()
    try:
        who = tr.find_person(store, person).id if person else None
        done = tr.completions(store, who)
    finally:
        store.close()
    if json_out:
        emit_json("train-history", {"person": who, "completions": [c.to_dict() for c in done]})
        return
    cols = [Column("person", "key"), Column("lesson", "key"), Column("score"), Column("result"), Column("taken"),
            Column("how")]
    rows = [(c.person, f"{c.lesson} v{c.version}", f"{c.score}/{c.total}",
             "[green]passed[/]" if c.passed else "[red]not passed[/]", c.taken.strftime("%Y-%m-%d %H:%M"), c.source)
            for c in done]
    print_table(stdout_console(), cols, rows, title=f"Lessons taken ({len(done)})")


@phish_app.command("import")
def phish_import(
    file: Path = typer.Argument(..., help="GoPhish results: JSON of GET /api/campaigns/ID/results (or "
                                "/api/campaigns/ID), or the results CSV export."),
    name: str = typer.Option(None, "--name", help="Campaign name (default: from the JSON, or the CSV file name)."),
    json_out: JsonOut = False,
) -> None:
    """Import a GoPhish campaign's results (a campaign imported again is replaced)."""
    from radguard.govern.training_phish import parse_campaign

    _store_campaign(parse_campaign(file, name), str(file), json_out)  # checked whole before anything is written


@phish_app.command("fetch")
def phish_fetch(
    url: str = typer.Argument(..., help="The GoPhish admin server, e.g. https://gophish.example:3333"),
    campaign: int = typer.Option(..., "--campaign", help="The campaign's id in GoPhish."),
    api_key_env: str = typer.Option("GOPHISH_API_KEY", "--api-key-env", help="Environment variable holding the "
                                    "API key (sent in the Authorization header; never on the command line)."),
    cafile: Path = typer.Option(None, "--cafile", help="CA or certificate file to verify the server (GoPhish's "
                                "admin certificate is self-signed by default)."),
    insecure: bool = typer.Option(False, "--insecure", help="Do not verify the server's certificate (a lab)."),
    name: str = typer.Option(None, "--name", help="Campaign name (default: GoPhish's)."),
    json_out: JsonOut = False,
) -> None:
    """Fetch a campaign's results from the GoPhish REST API (GET /api/campaigns/ID/results) and import them."""
    import os

    from radguard.errors import UsageError
    from radguard.govern.training_fetch import fetch_campaign, results_url

    key = os.environ.get(api_key_env, "").strip()
    if not key:
        raise UsageError(f"no GoPhish API key: set {api_key_env} (Settings > API Key in GoPhish)")
    camp = fetch_campaign(url, campaign, key, name=name, cafile=cafile, insecure=insecure)
    _store_campaign(camp, results_url(url, campaign), json_out)


def _store_campaign(camp: Any, where: str, json_out: bool) -> None:
    """Import a parsed campaign and print what it gives (both import commands)."""
    from radguard.cli.output import emit_json, stderr_console
    from radguard.govern import training_phish as ph
    from radguard.govern.training_roster import people
    from radguard.store import open_store

    store = open_store()
    try:
        cid, replaced = ph.import_campaign(store, camp)
        rep = ph.report(store, people(store), cid)
    finally:
        store.close()
    assert rep is not None
    if json_out:
        emit_json("train-phish-import", {"source": where, "replaced": replaced, **rep.to_dict()})
        return
    f = rep.total
    stderr_console().print(f"campaign #{cid} {camp.name!r}: {f.recipients} recipients, {f['sent']} sent, "
                           f"{f['clicked']} clicked ({_pct(f.rate('clicked'))}), {f['reported']} reported"
                           + (" (replaced the earlier import)" if replaced else ""), highlight=False)


@phish_app.command("results")
def phish_results(campaign: int = typer.Option(None, "--campaign", help="Store id of the campaign "
                                               "(default: the latest launched)."),
                  json_out: JsonOut = False) -> None:
    """The funnel sent → opened → clicked → submitted data → reported, per department; repeat clickers."""
    from radguard.cli.output import emit_json, stdout_console
    from radguard.cli.tables import Column, print_table
    from radguard.errors import UsageError
    from radguard.govern import training_phish as ph
    from radguard.govern.training_roster import people
    from radguard.store import open_store

    store = open_store()
    try:
        rep = ph.report(store, people(store), campaign)
    finally:
        store.close()
    if rep is None:
        raise UsageError("no phishing campaign imported (radguard train phish import FILE)")
    if json_out:
        emit_json("train-phish", rep.to_dict())
        return
    cols = [Column("department", "key"), *(Column(s) for s in ph.STEPS)]
    rows = [(d, *(f"{f[s]}" + ("" if s == "sent" else f" ({_pct(f.rate(s))})") for s in ph.STEPS))
            for d, f in [*rep.departments.items(), ("all", rep.total)]]
    con = stdout_console()
    print_table(con, cols, rows, title=f"Campaign #{rep.campaign.id} {rep.campaign.name}")
    if rep.repeat_clickers:
        con.print("repeat clickers (clicked in more than one campaign): " + ", ".join(rep.repeat_clickers),
                  highlight=False)


@train_app.command("due")
def due_cmd(
    within: int = typer.Option(0, "--within", min=0, help="Also list lessons falling due within DAYS."),
    reminders: Annotated[Path | None, typer.Option("--reminders", callback=writable_dir, help="Write one reminder "
                                                   "e-mail (text file) per person into this folder; nothing is "
                                                   "sent.")] = None,
    fail_on: str = typer.Option("overdue", "--fail-on", help="Exit 1 if someone is overdue (overdue) or never "
                                "(none)."),
    smtp: str = typer.Option(None, "--smtp", help="Send the reminders through this SMTP server (HOST:PORT); "
                             "credentials from RADGUARD_SMTP_USER / RADGUARD_SMTP_PASSWORD, only after STARTTLS."),
    smtp_from: str = typer.Option("radguard@localhost", "--smtp-from", help="Sender address of the reminders."),
    smtp_starttls: bool = typer.Option(False, "--smtp-starttls", help="Upgrade the SMTP session with STARTTLS."),
    json_out: JsonOut = False,
) -> None:
    """Who is overdue (or due soon) for which lesson, by each lesson's recurrence interval. Reminders are
    e-mailed only with --smtp (a configured server); --reminders writes them as text files."""
    from radguard.cli.output import emit_json, stdout_console
    from radguard.cli.tables import Column, print_table
    from radguard.errors import UsageError
    from radguard.govern.training_status import summary, write_reminders
    from radguard.store import open_store

    if fail_on not in ("overdue", "none"):
        raise UsageError(f"--fail-on {fail_on!r}: expected overdue or none")
    store = open_store()
    try:
        st = summary(store, within_days=within)
    finally:
        store.close()
    written: list[Path] = []
    if reminders is not None:
        try:
            written = write_reminders(st.due, reminders)
        except OSError as exc:
            raise UsageError(f"--reminders {reminders}: {exc.strerror or exc}") from None
    mailed: list[Any] = []
    if smtp is not None:
        import os

        from radguard.govern.training_mail import send_reminders
        from radguard.govern.training_status import compose_reminders

        mailed = send_reminders(compose_reminders(st.due), smtp, smtp_from, starttls=smtp_starttls, env=os.environ)
    if json_out:
        emit_json("train-due", {"people": st.people, "overdue": len(st.overdue), "due": [d.to_dict() for d in st.due],
                                "reminders": [str(p) for p in written],
                                "mailed": [{"person": m.person, "to": m.to, "sent": m.sent, "error": m.error}
                                           for m in mailed]})
    else:
        cols = [Column("person", "key"), Column("department"), Column("lesson", "key"), Column("last passed"),
                Column("due")]
        rows = [(d.person.id, d.person.department, d.lesson.id,
                 d.last_passed.date().isoformat() if d.last_passed else "never",
                 "[bold red]overdue[/]" if d.overdue else (d.due.isoformat() if d.due else "—")) for d in st.due]
        con = stdout_console()
        print_table(con, cols, rows, title=f"Lessons due ({len(st.overdue)} overdue, {st.people} people)")
        if written:
            con.print(f"{len(written)} reminder(s) written to {reminders}", highlight=False)
        if smtp is not None:
            con.print(f"{sum(m.sent for m in mailed)} of {len(mailed)} reminder(s) sent through {smtp}",
                      highlight=False)
            for m in mailed:
                if not m.sent:
                    con.print(f"  not sent to {m.person}: {m.error}", highlight=False)
    raise typer.Exit(1 if fail_on == "overdue" and st.overdue else 0)


@train_app.command("status")
def status_cmd(json_out: JsonOut = False) -> None:
    """Completion rate (overall, per department, per lesson), the latest phishing funnel, and the state it gives
    45 CFR 164.308(a)(5) and the HPH CPG training goal."""
    from radguard.cli.output import emit_json, stdout_console
    from radguard.govern.training import programme
    from radguard.govern.training_status import summary
    from radguard.store import open_store

    store = open_store()
    try:
        st = summary(store)
    finally:
        store.close()
    if json_out:
        emit_json("train-status", {"controls": list(programme().controls), **st.to_dict()})
        return
    con = stdout_console()
    con.print(f"{st.text()}: [bold]{st.state().label}[/bold] for {', '.join(programme().controls)}", highlight=False)
    for d, (cur, n) in st.departments.items():
        con.print(f"  {d}: {cur}/{n} current", highlight=False)
    for lid, (cur, n) in st.lessons.items():
        con.print(f"  lesson {lid}: {cur}/{n} current", highlight=False)
    con.print(f"{len(st.overdue)} lesson(s) overdue (radguard train due)", highlight=False)
