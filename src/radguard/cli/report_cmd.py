"""``radguard report``: the department's posture from the store, as HTML and PDF."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("report", help="Write the posture report (HTML and PDF) from the store.")(report_cmd)


def report_cmd(
    out: Path = typer.Option(Path("radguard-report"), "--out", help="Folder for report.html and report.pdf."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also render the PDF (WeasyPrint)."),
    site: str = typer.Option("the department", "--site", help="Name of the site shown in the title."),
    findings_limit: int = typer.Option(100, "--findings", min=1, help="At most this many open findings listed."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    fail_on: str = typer.Option("high", "--fail-on", help="Exit 1 if an open finding is at or above this."),
) -> None:
    """Open findings of the latest run of every layer, trends, controls: one file for a manager to read."""
    from radguard.cli.output import emit_json, exit_code_for, parse_fail_on, stderr_console
    from radguard.errors import UsageError
    from radguard.report.document import write_posture_report
    from radguard.store import open_store

    threshold = parse_fail_on(fail_on)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    store = open_store()
    try:
        files = write_posture_report(store, out, pdf=pdf, site=site, findings_limit=findings_limit)
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror or exc}") from None
    finally:
        store.close()
    open_findings = [f for _, f in files.posture.findings]
    if json_out:
        emit_json("report", {"html": str(files.html), "pdf": str(files.pdf) if files.pdf else None,
                             **files.posture.to_dict(findings_limit=findings_limit)})
    else:
        con = stderr_console()
        con.print(f"report: {files.html}" + (f" and {files.pdf}" if files.pdf else ""))
        con.print(f"{files.posture.total_open} open findings in {len(files.posture.layers)} layers")
    raise typer.Exit(int(exit_code_for(open_findings, threshold)))
