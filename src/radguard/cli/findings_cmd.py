"""``radguard runs`` and ``radguard findings list|diff``: read results back from the store."""

from __future__ import annotations

from pathlib import Path

import typer

findings_app = typer.Typer(help="Read findings from the store; compare two runs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(findings_app, name="findings")
    app.command("runs", help="List recent runs (scans, audits, captures) in the store.")(runs_cmd)


def runs_cmd(
    kind: str = typer.Option(None, "--kind", help="Only runs of this kind (scan, audit, seal, pcap, ...)."),
    limit: int = typer.Option(20, "--limit", min=1),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    from radguard.cli.output import emit_json, stdout_console
    from radguard.store import open_store

    store = open_store()
    runs = store.runs(kind=kind, limit=limit)
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


@findings_app.command("list")
def list_cmd(
    run: int = typer.Argument(None, help="Run id (default: the latest run of --kind)."),
    kind: str = typer.Option("scan", "--kind", help="Kind of run when RUN is omitted."),
    json_out: bool = typer.Option(False, "--json"),
    fail_on: str = typer.Option("high", "--fail-on", help="Exit 1 if any finding is at or above this."),
    sarif: Path = typer.Option(None, "--sarif", help="Also write SARIF 2.1.0 to this file."),
) -> None:
    """Show the findings of one run."""
    from radguard.cli.output import (
        emit_json,
        exit_code_for,
        parse_fail_on,
        print_findings_table,
        write_sarif,
    )
    from radguard.errors import UsageError
    from radguard.store import open_store

    threshold = parse_fail_on(fail_on)
    store = open_store()
    info = store.get_run(run) if run is not None else store.latest_run(kind)
    if info is None:
        raise UsageError(f"no such run: {run if run is not None else 'latest ' + kind}")
    findings = store.findings(info.id)
    if sarif:
        write_sarif(sarif, findings)
    if json_out:
        emit_json("findings", {"run": info.to_dict(), "findings": [f.to_dict() for f in findings]})
    else:
        print_findings_table(findings, title=f"Run {info.id} ({info.kind})")
    raise typer.Exit(int(exit_code_for(findings, threshold)))


@findings_app.command("diff")
def diff_cmd(
    run_a: int = typer.Argument(..., help="The older run id."),
    run_b: int = typer.Argument(..., help="The newer run id."),
    json_out: bool = typer.Option(False, "--json"),
    fail_on: str = typer.Option("high", "--fail-on", help="Exit 1 if a NEW finding is at or above this."),
) -> None:
    """What is new in RUN_B and what was fixed since RUN_A (by rule and target)."""
    from radguard.cli.output import emit_json, exit_code_for, parse_fail_on, print_findings_table
    from radguard.errors import UsageError
    from radguard.report.diff import diff_findings
    from radguard.store import open_store

    threshold = parse_fail_on(fail_on)
    store = open_store()
    for rid in (run_a, run_b):
        if store.get_run(rid) is None:
            raise UsageError(f"no such run: {rid}")
    d = diff_findings(store.findings(run_a), store.findings(run_b))
    if json_out:
        emit_json(
            "findings-diff",
            {
                "run_a": run_a,
                "run_b": run_b,
                "new": [f.to_dict() for f in d.new],
                "fixed": [f.to_dict() for f in d.fixed],
                "unchanged": [f.to_dict() for f in d.unchanged],
                "changed_severity": [
                    {"before": a.to_dict(), "after": b.to_dict()} for a, b in d.changed_severity
                ],
                "findings": [f.to_dict() for f in d.new],
            },
        )
    else:
        print_findings_table(d.new, title="New")
        print_findings_table(d.fixed, title="Fixed")
        typer.echo(f"unchanged: {len(d.unchanged)}, severity changed: {len(d.changed_severity)}")
    raise typer.Exit(int(exit_code_for(d.new, threshold)))
