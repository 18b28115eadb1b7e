"""``radguard report``: the department's posture from the store, as HTML and PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radguard.cli.options import JsonOption, check_fail_on, writable_dir


def register(app: typer.Typer) -> None:
    app.command("report", help="Write the posture report (HTML and PDF) from the store.")(report_cmd)


def report_cmd(
    out: Annotated[Path, typer.Option("--out", callback=writable_dir,
                                      help="Folder for report.html and report.pdf.")] = Path("radguard-report"),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also render the PDF (WeasyPrint)."),
    site: str = typer.Option("the department", "--site", help="Name of the site shown in the title."),
    findings_limit: int = typer.Option(100, "--findings", min=1, help="At most this many open findings listed."),
    json_out: JsonOption = False,
    fail_on: Annotated[str, typer.Option("--fail-on", callback=check_fail_on,
                                         help="Exit 1 if an open finding is at or above this.")] = "high",
) -> None:
    """Open findings of the latest run of every layer, trends, controls: one file for a manager to read."""
    from radguard.cli.output import emit_json, finish, stderr_console
    from radguard.errors import UsageError
    from radguard.report.document import write_posture_report
    from radguard.store import open_store

    store = open_store()
    try:
        files = write_posture_report(store, out, pdf=pdf, site=site, findings_limit=findings_limit)
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror or exc}") from None
    finally:
        store.close()

    def human() -> None:
        con = stderr_console()
        con.print(f"report: {files.html}" + (f" and {files.pdf}" if files.pdf else ""))
        con.print(f"{files.posture.total_open} open findings in {len(files.posture.layers)} layers")

    # the report's own JSON lists the open findings with their layer, at most --findings of them
    raise typer.Exit(finish(
        "report", [f for _, f in files.posture.findings], json_out=json_out, sarif=None, fail_on=fail_on,
        human=human, stream_json=lambda _out: emit_json("report", {
            "html": str(files.html), "pdf": str(files.pdf) if files.pdf else None,
            **files.posture.to_dict(findings_limit=findings_limit)})))
