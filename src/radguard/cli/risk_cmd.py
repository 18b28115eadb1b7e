"""``radguard risk`` and ``radguard risk set``: the NIST SP 800-30 risk register, seeded from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radguard.cli.options import writable_file

risk_app = typer.Typer(help="The risk register (NIST SP 800-30): threat x asset scenarios seeded from findings "
                       "and self-assessment answers, with treatment, owner, due date and status.")

_LEVEL_STYLE = {"very-high": "bold white on red", "high": "bold red", "moderate": "yellow", "low": "cyan",
                "very-low": "dim"}


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")


@risk_app.callback(invoke_without_command=True)
def risk_cmd(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout (risks under \"risks\")."),
    heatmap: Annotated[Path | None, typer.Option("--heatmap", callback=writable_file,
                                                 help="Also write the heat map (SVG) to this file.")] = None,
    snapshot: bool = typer.Option(False, "--snapshot", help="Keep today's levels for the trend."),
    fail_on: str = typer.Option("none", "--fail-on", help="Exit 1 if a current residual risk is at least this "
                                "level (very-low .. very-high), or none."),
) -> None:
    """Show the register: inherent and residual risk, treatment, owner, due date; worst first."""
    if ctx.invoked_subcommand is not None:
        return
    from radguard.cli.output import emit_json, stdout_console
    from radguard.errors import UsageError
    from radguard.govern import risk as rk
    from radguard.store import open_store

    threshold = None
    if fail_on != "none":
        try:
            threshold = rk.Level.parse(fail_on)
        except ValueError as exc:
            raise UsageError(f"--fail-on: {exc}") from None
    store = open_store()
    try:
        risks = rk.register(store)
        if snapshot:
            rk.snapshot(store, risks, "risk --snapshot")
        history = rk.trend(store)
    finally:
        store.close()
    if heatmap is not None:
        from radguard.report.plots import risk_heatmap
        from radguard.report.render import write_atomic

        svg = risk_heatmap(rk.heat_cells(risks), [[int(c) for c in row] for row in rk.RISK_MATRIX],
                           title="Inherent risk (likelihood x impact)")
        try:
            write_atomic(heatmap, svg.encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"--heatmap {heatmap}: {exc.strerror or exc}") from None
    if json_out:
        emit_json("risk", {"risks": [r.to_dict() for r in risks], "inherent": rk.level_counts(risks),
                           "residual": rk.level_counts(risks, residual=True), "trend": history,
                           "scale": "NIST SP 800-30 Rev. 1, Appendix G/H/I (Table I-2)"})
    else:
        from rich.table import Table

        t = Table(title=f"Risk register ({sum(r.current for r in risks)} current scenarios)")
        for col in ("id", "threat", "asset", "L x I", "inherent", "treatment", "residual", "owner / due", "status"):
            t.add_column(col, overflow="fold", no_wrap=col == "id")
        for r in risks:
            t.add_row(r.id, r.threat.id, r.asset, f"{r.likelihood.label} x {r.impact.label}",
                      f"[{_LEVEL_STYLE[r.inherent.label]}]{r.inherent.label}[/]", r.treatment.value,
                      f"[{_LEVEL_STYLE[r.residual.label]}]{r.residual.label}[/]",
                      " / ".join(x for x in (r.owner, r.due.isoformat() if r.due else "") if x) or "—",
                      r.status.value + (" [bold red]overdue[/]" if r.overdue else "")
                      + ("" if r.current else " [dim](no current evidence)[/]"))
        stdout_console().print(t)
    bad = threshold is not None and any(r.current and r.residual >= threshold for r in risks)
    raise typer.Exit(1 if bad else 0)


@risk_app.command("set")
def set_cmd(
    ident: str = typer.Argument(..., help="Risk id (R-1a2b3c) or scenario key (ransomware:10.0.0.5)."),
    treatment: str = typer.Option(None, "--treatment", help="accept, avoid, mitigate, transfer (or none)."),
    owner: str = typer.Option(None, "--owner", help="Who owns the treatment."),
    due: str = typer.Option(None, "--due", help="Due date YYYY-MM-DD."),
    status: str = typer.Option(None, "--status", help="open, in-progress, done."),
    note: str = typer.Option(None, "--note", help="What is being done."),
    likelihood: str = typer.Option(None, "--likelihood", help="Override inherent likelihood (very-low .. very-high)."),
    impact: str = typer.Option(None, "--impact", help="Override impact (very-low .. very-high)."),
    residual_likelihood: str = typer.Option(None, "--residual-likelihood", help="Override residual likelihood."),
    residual_impact: str = typer.Option(None, "--residual-impact", help="Override residual impact."),
    who: str = typer.Option(None, "--who", help="Who decides (default: RADGUARD_USER or the login name)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Record a decision on one risk: treatment, owner, due date, status, levels."""
    from radguard.cli.govern_cmd import default_who
    from radguard.cli.output import emit_json, stderr_console
    from radguard.govern import risk as rk
    from radguard.store import open_store

    store = open_store()
    try:
        r = rk.edit(store, ident, who or default_who(), treatment=treatment, owner=owner, due=due, status=status,
                    note=note, likelihood=likelihood, impact=impact, residual_likelihood=residual_likelihood,
                    residual_impact=residual_impact)
    finally:
        store.close()
    if json_out:
        emit_json("risk-set", {"risk": r.to_dict()})
    else:
        stderr_console().print(f"{r.id} {r.threat.title} on {r.asset}: {r.treatment.value}, "
                               f"residual {r.residual.label}")
