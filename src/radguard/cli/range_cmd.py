"""``radguard range up|status|down|list|attack|ablate|report``: the measuring range (see docs/range.md).

Only typer and the standard library at import time; the range loads inside each command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from radguard.cli.options import JsonOption, NoStoreOption, writable_dir, writable_file

range_app = typer.Typer(help="A simulated imaging department on loopback: attack it, measure every layer.",
                        no_args_is_help=True)

DirOption = Annotated[Path | None, typer.Option(
    "--dir", callback=writable_dir,
    help="Run directory of the range (default: <user data dir>/radguard/range).")]
OutOption = Annotated[Path | None, typer.Option(
    "--out", callback=writable_file, help="Also write the radguard.range/1 JSON document to this file.")]
BenignOption = Annotated[float, typer.Option(
    "--benign-seconds", min=0.0, help="Seconds of benign traffic alone, to count false positives.")]


def register(app: typer.Typer) -> None:
    app.add_typer(range_app, name="range")


def _dir(run_dir: Path | None) -> Path:
    from radguard.range.lab import default_dir

    return (run_dir or default_dir()).resolve()


def _show(kind: str, doc: dict[str, Any], json_out: bool, lines: list[str], *, ok: bool) -> NoReturn:
    """Print ``doc`` as JSON (``--json``) or ``lines``, then exit 0 if ``ok``, else 1."""
    from radguard.cli.output import emit_json

    if json_out:
        emit_json(kind, doc)
    else:
        for line in lines:
            typer.echo(line)
    raise typer.Exit(0 if ok else 1)


@range_app.command("up")
def up_cmd(run_dir: DirOption = None, json_out: JsonOption = False) -> None:
    """Start the department (PACS, workstation, archive, rogue AE, gateway, monitor; sealed archive,
    canaries, backup) on 127.0.0.1, and leave it running."""
    from radguard.cli.output import emit_json
    from radguard.errors import UsageError
    from radguard.range import lab

    try:
        st = lab.up(_dir(run_dir))
    except (RuntimeError, OSError) as exc:
        raise UsageError(f"cannot start the range: {exc}") from None
    if json_out:
        emit_json("range-state", st.to_dict())
    else:
        typer.echo(f"range up in {st.run_dir}: gateway {st.host}:{st.gateway_port} (AE {st.gateway_ae}), "
                   f"PACS {st.host}:{st.pacs_port}, REST :{st.pacs_http_port}")


@range_app.command("status")
def status_cmd(run_dir: DirOption = None, json_out: JsonOption = False) -> None:
    """Which processes of the range run and which ports listen (exit 1 when not fully up)."""
    from radguard.range import lab

    doc = lab.status(_dir(run_dir))
    lines = [f"  {name:<12} pid {p['pid']:<8} {'running' if p['alive'] else 'stopped'}"
             for name, p in doc["processes"].items()]
    lines.append(f"range in {doc['dir']}: {'up' if doc['up'] else 'NOT up'}")
    _show("range-status", doc, json_out, lines, ok=doc["up"])


@range_app.command("down")
def down_cmd(run_dir: DirOption = None, json_out: JsonOption = False) -> None:
    """Stop every process of the range (exit 1 if a port still listens afterwards)."""
    from radguard.range import lab

    doc = lab.down(_dir(run_dir))
    stopped = ", ".join(doc["stopped"]) or "nothing"
    _show("range-down", doc, json_out, [f"range down in {doc['dir']}: stopped {stopped}"], ok=not doc["listening"])


@range_app.command("list")
def list_cmd(json_out: JsonOption = False) -> None:
    """The attack library: names, ATT&CK techniques, expected layers."""
    from radguard.cli.output import emit_json
    from radguard.range.attacks import library

    attacks = [a.describe() for a in library()]
    if json_out:
        emit_json("range-attacks", {"attacks": attacks})
        return
    for a in attacks:
        typer.echo(f"  {a['attack']:<24} {','.join(a['attack_ids']):<20} {','.join(a['expected_layers']) or '(gap)'}")


def _print_results(doc: dict[str, Any]) -> None:
    from radguard.range.tables import efficacy_lines

    for line in efficacy_lines(doc):
        typer.echo(line)


def _finish(doc: dict[str, Any], json_out: bool, out: Path | None, no_store: bool) -> None:
    from radguard.cli.output import dumps, finish
    from radguard.range.report import store_results

    if not no_store:  # radguard report shows the latest measurement
        doc["run"] = store_results(doc)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(dumps({"schema": "radguard.range/1", **doc}) + "\n")
    raise typer.Exit(finish("range", [], json_out=json_out, sarif=None, extra=doc,
                            human=lambda: _print_results(doc)))


@range_app.command("attack")
def attack_cmd(
    names: list[str] = typer.Argument(None, help="Attacks to run (default: the whole library; see range list)."),
    off: list[str] = typer.Option(None, "--off", help="Switch this layer off (repeatable): gateway, monitor, tls, "
                                                      "seal+audit, canaries, backups."),
    run_dir: DirOption = None,
    benign_seconds: BenignOption = 8.0,
    out: OutOption = None,
    no_store: NoStoreOption = False,
    json_out: JsonOption = False,
) -> None:
    """Run attacks against the running range with benign traffic in the background; measure every layer."""
    from radguard.errors import UsageError
    from radguard.range import runner
    from radguard.range.attacks import library
    from radguard.range.attacks.kit import DEPLOYED
    from radguard.range.state import RangeState

    attacks = library(names or [])
    bad = [layer for layer in off or [] if layer not in DEPLOYED]
    if bad:
        raise UsageError(f"--off {bad[0]}: not a layer of the range (known: {', '.join(DEPLOYED)})")
    st = RangeState.load(_dir(run_dir))
    layers_off = frozenset(off or [])
    fps = runner.false_positives(st, benign_seconds, layers_off)
    results = runner.run_library(st, attacks, layers_off, progress=_progress)
    runner.restore(st)
    _finish(runner.document(st, results, fps), json_out, out, no_store)


@range_app.command("ablate")
def ablate_cmd(
    names: list[str] = typer.Argument(None, help="Attacks to run (default: the whole library)."),
    run_dir: DirOption = None,
    benign_seconds: BenignOption = 8.0,
    out: OutOption = None,
    no_store: NoStoreOption = False,
    json_out: JsonOption = False,
) -> None:
    """The library with every layer on, then with each layer switched off in turn (only the attacks that
    expect that layer rerun): the attacks x layers table and the defense-in-depth score."""
    from radguard.range import runner
    from radguard.range.attacks import library
    from radguard.range.state import RangeState

    attacks = library(names or [])
    st = RangeState.load(_dir(run_dir))
    fps = runner.false_positives(st, benign_seconds)
    results = runner.run_library(st, attacks, progress=_progress)
    ablation = runner.ablate(st, attacks, results, progress=_progress)
    _finish(runner.document(st, results, fps, ablation), json_out, out, no_store)


@range_app.command("report")
def report_cmd(
    results: Path = typer.Argument(..., exists=True, dir_okay=False, help="A radguard.range/1 JSON document."),
    out: Annotated[Path, typer.Option("--out", callback=writable_dir, help="Folder for report.html and report.pdf.")
                   ] = Path("range-report"),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also render the PDF (WeasyPrint)."),
    json_out: JsonOption = False,
) -> None:
    """Render the range report (HTML and PDF) from a results document."""
    import json

    from radguard.cli.output import emit_json
    from radguard.errors import UsageError
    from radguard.range.report import write_range_report

    try:
        doc = json.loads(results.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{results}: not a radguard.range/1 document ({exc})") from None
    if doc.get("schema") != "radguard.range/1":
        raise UsageError(f"{results}: not a radguard.range/1 document")
    html, pdf_path = write_range_report(doc, out, pdf=pdf)
    if json_out:
        emit_json("range-report", {"html": str(html), "pdf": str(pdf_path) if pdf_path else None})
    else:
        typer.echo(f"report: {html}" + (f" and {pdf_path}" if pdf_path else ""))


def _progress(res: dict[str, Any]) -> None:
    from radguard.range.tables import progress_line

    typer.echo(progress_line(res), err=True)
