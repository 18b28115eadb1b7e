"""``radguard runs`` and ``radguard findings list|diff``: read results back from the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from radguard.cli.options import FailOnOption, JsonOption, SarifOption, check_fail_on

if TYPE_CHECKING:
    from radguard.models import Finding
    from radguard.store.lite import RunInfo

findings_app = typer.Typer(help="Read findings from the store; compare two runs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(findings_app, name="findings")
    app.command("runs", help="List recent runs (scans, audits, captures) in the store.")(runs_cmd)


def runs_cmd(
    kind: str = typer.Option(None, "--kind", help="Only runs of this kind (scan, audit, seal, pcap, ...)."),
    limit: int = typer.Option(20, "--limit", min=1),
    json_out: JsonOption = False,
) -> None:
    from radguard.cli.output import emit_json, stdout_console
    from radguard.store.lite import default_url, read_runs

    runs = read_runs(default_url(), kind=kind, limit=limit)  # SQLite at the current schema: no SQLAlchemy
    if runs is None:
        from radguard.store import open_store

        runs = open_store().runs(kind=kind, limit=limit)
    if json_out:
        emit_json("runs", {"runs": [r.to_dict() for r in runs]})
        return
    from rich.table import Table

    t = Table(title="Runs")
    for col in ("id", "kind", "started", "status", "summary"):
        t.add_column(col)
    for r in runs:
        t.add_row(str(r.id), r.kind, r.started.strftime("%Y-%m-%d %H:%M:%S"), r.status, str(dict(r.summary)))
    stdout_console().print(t)


def _run_findings(runs: Sequence[int | None], kind: str) -> list[tuple[RunInfo | None, list[Finding]]]:
    """Each run of ``runs`` (None: the latest of ``kind``) and its findings; ``(None, [])`` for no such run.
    An SQLite store at the current schema is read without SQLAlchemy (issue 15: start-up)."""
    from radguard.store.lite import default_url, read_run_findings

    url = default_url()
    lite = [read_run_findings(url, run, kind) for run in runs]
    if all(got is not None for got in lite):
        return [got for got in lite if got is not None]
    from radguard.store import open_store

    store = open_store()
    try:
        out: list[tuple[RunInfo | None, list[Finding]]] = []
        for run in runs:
            info = store.get_run(run) if run is not None else store.latest_run(kind)
            out.append((info, store.findings(info.id)) if info is not None else (None, []))
        return out
    finally:
        store.close()


@findings_app.command("list")
def list_cmd(
    run: int = typer.Argument(None, help="Run id (default: the latest run of --kind)."),
    kind: str = typer.Option("scan", "--kind", help="Kind of run when RUN is omitted."),
    json_out: JsonOption = False,
    fail_on: FailOnOption = "high",
    sarif: SarifOption = None,
) -> None:
    """Show the findings of one run."""
    from radguard.cli.output import finish
    from radguard.errors import UsageError

    ((info, findings),) = _run_findings([run], kind)
    if info is None:
        raise UsageError(f"no such run: {run if run is not None else 'latest ' + kind}")
    raise typer.Exit(finish("findings", findings, json_out=json_out, sarif=sarif, fail_on=fail_on,
                            extra={"run": info.to_dict()}, title=f"Run {info.id} ({info.kind})"))


@findings_app.command("diff")
def diff_cmd(
    run_a: int = typer.Argument(..., help="The older run id."),
    run_b: int = typer.Argument(..., help="The newer run id."),
    json_out: JsonOption = False,
    fail_on: Annotated[str, typer.Option("--fail-on", callback=check_fail_on,
                                         help="Exit 1 if a NEW finding is at or above this.")] = "high",
) -> None:
    """What is new in RUN_B and what was fixed since RUN_A (by rule and target)."""
    from radguard.cli.output import finish, print_findings_table
    from radguard.errors import UsageError
    from radguard.report.diff import diff_findings

    infos = []
    found = []
    for rid, (info, findings) in zip((run_a, run_b), _run_findings([run_a, run_b], ""), strict=True):
        if info is None:
            raise UsageError(f"no such run: {rid}")
        infos.append(info)
        found.append(findings)
    if infos[0].kind != infos[1].kind:  # a scan and an audit share no finding: all would read "fixed"
        raise UsageError(f"runs {run_a} ({infos[0].kind}) and {run_b} ({infos[1].kind}) are of different kinds: "
                         f"compare two {infos[1].kind} runs (radguard runs --kind {infos[1].kind})")
    d = diff_findings(found[0], found[1])

    def human() -> None:
        print_findings_table(d.new, title="New")
        print_findings_table(d.fixed, title="Fixed")
        typer.echo(f"unchanged: {len(d.unchanged)}, severity changed: {len(d.changed_severity)}")

    raise typer.Exit(finish(
        "findings-diff", d.new, json_out=json_out, sarif=None, fail_on=fail_on, human=human,
        extra={
            "run_a": run_a,
            "run_b": run_b,
            "new": [f.to_dict() for f in d.new],
            "fixed": [f.to_dict() for f in d.fixed],
            "unchanged": [f.to_dict() for f in d.unchanged],
            "changed_severity": [{"before": a.to_dict(), "after": b.to_dict()} for a, b in d.changed_severity],
        }))
