"""``radguard exercise list|export|validate|run``: tabletop exercises in the terminal (see docs/range.md).

Only typer and the standard library at import time; the exercise engine loads inside each command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from radguard.cli.options import JsonOption, writable_file

exercise_app = typer.Typer(help="Incident-response tabletop exercises, scored, with an improvement plan.",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(exercise_app, name="exercise")


@exercise_app.command("list")
def list_cmd(json_out: JsonOption = False) -> None:
    """The scenarios radguard ships."""
    from radguard.cli.output import emit_json
    from radguard.range import exercise

    rows = [{"id": s.id, "title": s.title, "injects": len(s.injects)}
            for s in (exercise.load(n)[0] for n in exercise.shipped())]
    if json_out:
        emit_json("exercises", {"scenarios": rows})
        return
    for r in rows:
        typer.echo(f"  {r['id']:<24} {r['title']} ({r['injects']} injects)")


@exercise_app.command("export")
def export_cmd(
    scenario: str = typer.Argument(..., help="A shipped scenario id or a scenario file."),
    out: Annotated[Path | None, typer.Option("--out", "-o", callback=writable_file,
                                             help="Write the scenario to this file (default: stdout).")] = None,
) -> None:
    """Export a scenario as one YAML file (edit it, then run or validate the file)."""
    from radguard.range import exercise

    _, text = exercise.load(scenario)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@exercise_app.command("validate")
def validate_cmd(scenario: str = typer.Argument(..., help="A scenario file."), json_out: JsonOption = False) -> None:
    """Check a scenario file (one-line error, exit 2, when it is malformed)."""
    from radguard.cli.output import emit_json
    from radguard.range import exercise

    s, _ = exercise.load(scenario)
    if json_out:
        emit_json("exercise-check", {"id": s.id, "injects": sorted(s.injects)})
    else:
        typer.echo(f"{s.id}: valid ({len(s.injects)} injects)")


def _facts(run_dir: Path | None) -> Any:
    """Live facts from a running range (its archive audit, its gateway), or None without one."""
    if run_dir is None:
        return None
    from radguard.range import runner
    from radguard.range.state import RangeState

    st = RangeState.load(run_dir.resolve())
    cache: dict[str, str] = {}

    def fact(name: str) -> str:
        if name not in cache:
            if name == "audit":
                alerts, bad = runner.archive_audit(st, frozenset())
                rules = sorted({str(a["rule"]) for a in alerts})
                cache[name] = (f"the archive audit reports {len(alerts)} alerts ({', '.join(rules) or 'none'}), "
                               f"{bad} high or critical")
            elif name == "gateway":
                gw = st.proc("gateway")
                alerts = runner.trail_alerts(st, 0.0, float("inf"), frozenset({"monitor"}))
                cache[name] = (f"the gateway is {'running' if gw and gw.alive() else 'DOWN'}; "
                               f"{len(alerts)} security alerts in its audit trail")
            else:
                cache[name] = f"{name}: no such fact"
        return cache[name]

    return fact


def _interactive(inj: Any, options: list[str]) -> tuple[str, float]:
    import time

    t0 = time.monotonic()
    typer.echo(inj.prompt, err=True)
    for o in inj.options:
        typer.echo(f"  [{o.id}] {o.text}", err=True)
    while True:
        choice = typer.prompt("your decision", err=True).strip()
        if choice in options:
            return choice, (time.monotonic() - t0) / 60.0
        typer.echo(f"choose one of: {', '.join(options)}", err=True)


@exercise_app.command("run")
def run_cmd(
    scenario: str = typer.Argument(..., help="A shipped scenario id or a scenario file (radguard.exercise/1)."),
    player: Annotated[Path | None, typer.Option("--player", exists=True, dir_okay=False,
                                                help="Scripted answers (the clock is then simulated).")] = None,
    range_dir: Annotated[Path | None, typer.Option("--range", help="A running range's directory: live facts.")
                         ] = None,
    out: Annotated[Path | None, typer.Option("--out", callback=writable_file,
                                             help="Also write the after-action report (JSON) here.")] = None,
    no_store: bool = typer.Option(False, "--no-store", help="Do not keep the report in the store."),
    json_out: JsonOption = False,
) -> None:
    """Play a scenario: injects, decisions that branch, expectations scored met / not met by a deadline;
    ends with the after-action report and the improvement plan (stored as an ``exercise`` run)."""
    from radguard.cli.output import dumps, emit_json
    from radguard.range import exercise

    s, _ = exercise.load(scenario)
    answer = exercise.scripted(exercise.load_player(player)) if player else _interactive
    aar = exercise.play(s, answer, facts=_facts(range_dir), show=lambda text: typer.echo("\n" + text, err=True))
    aar["player"] = str(player) if player else "interactive"
    if not no_store:
        from radguard.store import open_store

        store = open_store()
        try:
            run = store.start_run("exercise", {"scenario": s.id, "player": aar["player"]})
            run.finish(summary=aar)
            aar["run"] = run.id
        finally:
            store.close()
    if out is not None:
        out.write_text(dumps({"schema": "radguard.exercise-aar/1", **aar}) + "\n")
    if json_out:
        emit_json("exercise-aar", aar)
        return
    typer.echo(f"\nafter-action report: {s.title}")
    for p in aar["path"]:
        marks = ", ".join(f"{e['id']} {'met' if e['met'] else 'NOT met'}" for e in p["expectations"]) or "-"
        typer.echo(f"  T+{p['clock']:>4.0f} {p['inject']:<16} {p['role']:<20} chose {p['choice']:<22} {marks}")
    typer.echo(f"score {aar['score']}/{aar['possible']} ({aar['met']} expectations met, {aar['not_met']} not met)")
    typer.echo("improvement plan:")
    for c in aar["improvement_plan"]:
        typer.echo(f"  [{c['priority']}] {c['action']} — {c['owner']}, due {c['due']}")
