"""``radguard govern status|assess|questions|record|report``: governance built from the store's evidence.

Only typer and the standard library are imported at module level; the work is in :mod:`radguard.govern`.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from radguard.cli.options import writable_dir

if TYPE_CHECKING:
    from radguard.govern.status import GovernStatus

govern_app = typer.Typer(
    help="Governance from evidence: control status (HIPAA, CSF 2.0, HICP, CPG), self-assessment, obligations, "
    "report with OSCAL and POA&M.",
    no_args_is_help=True,
)

_STATE_STYLE = {"met": "green", "partial": "yellow", "not-met": "bold red", "unknown": "dim"}


def register(app: typer.Typer) -> None:
    app.add_typer(govern_app, name="govern")


def default_who() -> str:
    """Who is answering: ``RADGUARD_USER``, else the login name."""
    import getpass

    try:
        return os.environ.get("RADGUARD_USER") or getpass.getuser()
    except Exception:  # no login name in a container: still record something
        return "unknown"


def _frameworks(framework: list[str] | None) -> list[str]:
    from radguard import catalog
    from radguard.errors import UsageError
    from radguard.govern.status import FRAMEWORKS

    names = list(framework) if framework else list(FRAMEWORKS)
    for name in names:
        if name not in catalog.frameworks():
            raise UsageError(f"unknown control framework {name!r} (have: {', '.join(catalog.frameworks())})")
    return names


def _print_status(st: GovernStatus, tables: list[str], show_all: bool) -> None:
    from rich.table import Table

    from radguard.catalog import load
    from radguard.cli.output import stdout_console
    from radguard.govern.status import COUNTED_KINDS

    con = stdout_console()
    for fw in tables:
        t = Table(title=f"{load(fw).name}: control status from evidence", show_lines=False)
        for col in ("control", "title", "state", "why", "as of"):
            t.add_column(col, overflow="fold", no_wrap=col in ("control", "state"))
        for c in st.controls:
            if not c.ref.startswith(fw + ":") or (not show_all and c.kind not in COUNTED_KINDS.get(fw, ())):
                continue
            why = c.evidence[0].text if c.evidence else ("from its parts" if c.rolled_up else "no run or answer")
            if len(c.evidence) > 1:
                why += f" (+{len(c.evidence) - 1})"
            state = f"[{_STATE_STYLE[c.state.value]}]{c.state.label}[/]" + (" [dim](stale)[/]" if c.stale else "")
            t.add_row(c.ref, c.title, state, why, c.as_of.date().isoformat() if c.as_of else "—")
        con.print(t)
    for fw in st.frameworks:
        n = st.counts(fw)
        cov = st.coverage[fw]
        con.print(f"{fw}: {n['met']} met, {n['partial']} partial, {n['not-met']} not met, {n['unknown']} unknown "
                  f"of {cov['controls']}; evidence from runs for {cov['automatic_evidence']}, from answers for "
                  f"{cov['answer_evidence']}, from training records for {cov['training_evidence']}", highlight=False)
    t = Table(title="Obligations")
    for col in ("obligation", "every", "last", "due", ""):
        t.add_column(col)
    for o in st.obligations:
        ob = o.obligation
        t.add_row(ob.title + (" [dim](proposed)[/]" if ob.proposed else ""), f"{ob.interval_days} d",
                  f"{o.last.date().isoformat()} {o.source}" if o.last else "never",
                  o.due.isoformat() if o.due else "—", "[bold red]overdue[/]" if o.overdue else "[green]ok[/]")
    con.print(t)


@govern_app.command("status")
def status_cmd(
    framework: list[str] = typer.Option(None, "--framework", "-f",
                                        help="Frameworks (repeatable): hipaa, csf, hicp, cpg, dicom. "
                                        "Default: hipaa, csf, hicp, cpg (tables: hipaa)."),
    interval: list[str] = typer.Option(None, "--interval", help="Override an obligation's interval: ID=DAYS."),
    show_all: bool = typer.Option(False, "--all", help="Also show parents (functions, categories, practices)."),
    fail_on: str = typer.Option("not-met", "--fail-on", help="Exit 1 if a control is at least this bad: "
                                "not-met, partial, or none (never)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Each control met / partial / not met / unknown, with its evidence and freshness; overdue obligations."""
    from radguard.cli.output import emit_json
    from radguard.errors import UsageError
    from radguard.govern.obligations import parse_intervals
    from radguard.govern.status import govern_status
    from radguard.store import open_store

    if fail_on not in ("not-met", "partial", "none"):
        raise UsageError(f"--fail-on {fail_on!r}: expected not-met, partial or none")
    names = _frameworks(framework)
    intervals = parse_intervals(interval)
    store = open_store()
    try:
        st = govern_status(store, names, intervals)
    finally:
        store.close()
    if json_out:
        emit_json("govern-status", st.to_dict())
    else:
        _print_status(st, list(framework) if framework else ["hipaa"], show_all)
    bad = {"not-met": {"not-met"}, "partial": {"not-met", "partial"}, "none": set()}[fail_on]
    raise typer.Exit(1 if any(c.state.value in bad for c in st.controls) else 0)


@govern_app.command("questions")
def questions_cmd(json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout.")) -> None:
    """List the self-assessment questions (the template), by section."""
    from radguard.cli.output import emit_json, stdout_console
    from radguard.govern.questions import template

    tpl = template()
    if json_out:
        emit_json("govern-questions", {"edition": tpl.edition, "sections": [
            {"id": s.id, "title": s.title, "questions": [
                {"id": q.id, "text": q.text, "type": q.type.value, "controls": list(q.controls),
                 "choices": list(q.choices)} for q in s.questions]} for s in tpl.sections]})
        return
    con = stdout_console()
    for s in tpl.sections:
        con.print(f"[bold]{s.title}[/bold] ({s.id})")
        for q in s.questions:
            con.print(f"  {q.id} [{q.type.value}]: {q.text}", highlight=False)


@govern_app.command("assess")
def assess_cmd(
    answers: Path = typer.Option(None, "--answers", help="Read the answers from this YAML file (no questions)."),
    who: str = typer.Option(None, "--who", help="Who answers (default: RADGUARD_USER or the login name)."),
    section: list[str] = typer.Option(None, "--section", help="Only this section (repeatable)."),
    new: bool = typer.Option(False, "--new", help="Start a new assessment instead of resuming one in progress."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """The imaging self-assessment: interactively (resumable, section by section) or from an answers file."""
    from radguard.cli.output import emit_json, stderr_console
    from radguard.errors import UsageError
    from radguard.govern import answers as store_answers
    from radguard.govern.questions import template
    from radguard.store import open_store

    tpl = template()
    unknown = [s for s in section or () if s not in {x.id for x in tpl.sections}]
    if unknown:
        raise UsageError(f"--section {unknown[0]!r}: no such section (have: {', '.join(s.id for s in tpl.sections)})")
    if answers is not None:
        file_who, parsed = store_answers.parse_answers_file(answers, tpl)  # checked whole before writing
        name = who or file_who or default_who()
        store = open_store()
        try:
            aid = store_answers.import_answers(store, parsed, name)
        finally:
            store.close()
        if json_out:
            emit_json("govern-assess", {"assessment": aid, "who": name, "source": str(answers),
                                        "answered": len(parsed), "questions": len(tpl.questions)})
        else:
            stderr_console().print(f"assessment #{aid}: {len(parsed)} of {len(tpl.questions)} questions answered "
                                   f"by {name}")
        return
    if json_out:
        raise UsageError("--json needs --answers FILE (the interactive assessment talks to a person)")
    from radguard.govern.interview import interview

    store = open_store()
    try:
        interview(store, tpl, who or default_who(), list(section or ()), new)
    finally:
        store.close()


@govern_app.command("record")
def record_cmd(
    obligation: str = typer.Argument(..., help="Obligation id, e.g. penetration-test, ir-exercise, "
                                     "backup-restore-test (see `radguard govern status`)."),
    on: str = typer.Option(None, "--date", help="When it was done (YYYY-MM-DD; default today)."),
    note: str = typer.Option("", "--note", help="What was done, by whom, the report's name."),
    evidence: Path = typer.Option(None, "--evidence", help="A report file (after-action report, pen test report): "
                                  "its name, size and SHA-256 are recorded, not its content."),
    who: str = typer.Option(None, "--who", help="Who records it (default: RADGUARD_USER or the login name)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Record an obligation fulfilled outside radguard (a penetration test, an exercise, a restore test)."""
    import hashlib

    from radguard.cli.output import emit_json, stderr_console
    from radguard.errors import UsageError
    from radguard.govern.obligations import record
    from radguard.store import open_store

    try:
        when = date.fromisoformat(on) if on else datetime.now(UTC).date()
    except ValueError:
        raise UsageError(f"--date {on!r}: expected YYYY-MM-DD") from None
    facts: dict[str, Any] = {}
    if evidence is not None:
        try:
            data = evidence.read_bytes()
        except OSError as exc:
            raise UsageError(f"--evidence {evidence}: {exc.strerror or exc}") from None
        facts = {"file": evidence.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    store = open_store()
    try:
        rid = record(store, obligation, datetime.combine(when, datetime.min.time(), tzinfo=UTC),
                     who or default_who(), note, facts)
    finally:
        store.close()
    if json_out:
        emit_json("govern-record", {"record": rid, "obligation": obligation, "date": when.isoformat(),
                                    "evidence": facts})
    else:
        stderr_console().print(f"record #{rid}: {obligation} on {when.isoformat()}")


@govern_app.command("report")
def report_cmd(
    out: Annotated[Path, typer.Option("--out", callback=writable_dir, help="Folder for the report files.")] = Path(
        "radguard-governance"),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also render the PDF (WeasyPrint)."),
    site: str = typer.Option("the department", "--site", help="Name of the site shown in the title."),
    framework: list[str] = typer.Option(None, "--framework", "-f", help="Frameworks (repeatable); default "
                                        "hipaa, csf, hicp, cpg."),
    interval: list[str] = typer.Option(None, "--interval", help="Override an obligation's interval: ID=DAYS."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Governance report (HTML, PDF), OSCAL assessment results and POA&M (JSON), POA&M (CSV)."""
    from radguard.cli.output import emit_json, stderr_console
    from radguard.errors import UsageError
    from radguard.govern.obligations import parse_intervals
    from radguard.govern.report import write_govern_report
    from radguard.store import open_store

    names = _frameworks(framework)
    intervals = parse_intervals(interval)
    store = open_store()
    try:
        files = write_govern_report(store, out, pdf=pdf, site=site, frameworks=names, intervals=intervals)
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror or exc}") from None
    finally:
        store.close()
    if json_out:
        emit_json("govern-report", {
            "files": {p.name: str(p) for p in files.paths()},
            "summary": {fw: files.status.counts(fw) for fw in files.status.frameworks},
            "coverage": {fw: dict(v) for fw, v in files.status.coverage.items()},
            "overdue": [o.obligation.id for o in files.status.overdue],
            "poam": [it.to_dict() for it in files.items]})
    else:
        con = stderr_console()
        con.print("wrote " + ", ".join(str(p) for p in files.paths()))
        con.print(f"{len(files.items)} plan items, {len(files.status.overdue)} overdue obligations")
