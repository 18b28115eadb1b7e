"""``radguard rules [--producer P] [--json]`` and ``radguard rules show ID``: the rule catalogue.

Every rule id a finding can carry, from every producer's rule table (:mod:`radguard.rulebook`), with
its default severity, controls (titles resolved from :mod:`radguard.catalog`), remediation and,
for detections, thresholds and MITRE ATT&CK ids. Only typer and the standard library are
imported at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from radguard.rulebook import Entry

rules_app = typer.Typer(
    help="The rules findings name: severity, controls, remediation, thresholds (docs/rules.md).",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")


@rules_app.callback()
def list_cmd(
    ctx: typer.Context,
    producer: str = typer.Option(None, "--producer", "-p",
                                 help="Only the rules of scan, archive, monitor, gateway or decoy."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """List the rules of every producer (or of one with --producer)."""
    if ctx.invoked_subcommand is not None:
        return
    from radguard import rulebook
    from radguard.errors import UsageError

    known = [p.value for p in rulebook.Producer]
    if producer is not None and producer not in known:
        raise UsageError(f"unknown producer {producer!r} (known: {', '.join(known)})")
    from radguard.cli.output import emit_json, stdout_console

    found = rulebook.for_producer(producer)
    if json_out:
        emit_json("rules", {"producer": producer, "count": len(found), "rules": [rulebook.to_dict(r) for r in found]})
        return
    from rich.table import Table

    t = Table(title="Rules" + (f" ({producer})" if producer else ""))
    for col, wrap in (("rule", False), ("producer", False), ("severity", False), ("title", True), ("controls", True)):
        t.add_column(col, no_wrap=not wrap, overflow="fold")
    for e in found:
        t.add_row(e.id, e.producer.value, e.rule.severity.value, e.rule.title, ", ".join(e.rule.controls))
    console = stdout_console()
    console.print(t)
    console.print(f"{len(found)} rule(s); details: radguard rules show ID", highlight=False)


@rules_app.command("show")
def show_cmd(
    rule_id: str = typer.Argument(..., metavar="ID", help="A rule id, e.g. dicom-any-calling-ae, pixel-tampered."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Show one rule: severity, when it fires, remediation, controls, thresholds."""
    from radguard import rulebook
    from radguard.cli.output import emit_json
    from radguard.errors import UsageError

    try:
        entry = rulebook.entry(rule_id)
    except KeyError:
        close = [e.id for e in rulebook.entries() if rule_id.casefold() in e.id]
        hint = f" (did you mean: {', '.join(close)})" if close else " (list them: radguard rules)"
        raise UsageError(f"unknown rule {rule_id!r}{hint}") from None
    if json_out:
        emit_json("rule", {"rule": rulebook.to_dict(entry)})
        return
    _print_rule(entry)


def _print_rule(entry: Entry) -> None:
    from radguard import rulebook
    from radguard.cli.output import stdout_console

    console = stdout_console()
    rule = entry.rule

    def line(text: str) -> None:
        console.print(text, highlight=False, markup=False)

    line(f"{rule.id}  {rule.title}")
    line(f"producer: {entry.producer.value}" + (f" (used by: {', '.join(p.value for p in entry.used_by)})"
                                                 if len(entry.used_by) > 1 else ""))
    line(f"severity: {rule.severity.value}" + (f"; varies: {entry.severity_note}" if entry.severity_note else ""))
    if rule.when:
        line(f"fires when: {rule.when}")
    line(f"remediation: {rule.remediation}")
    line("controls:")
    for ref in rule.controls:
        line(f"  - {ref}  {rulebook.control_title(ref) or '(unknown to the catalog)'}")
    if rule.attack:
        line(f"MITRE ATT&CK: {', '.join(rule.attack)}")
    if entry.profile:
        line(f"profile: {entry.profile}")
    if entry.gateway_action:
        line(f"gateway default action: {entry.gateway_action}")
    if entry.thresholds:
        line("thresholds:")
        for t in entry.thresholds:
            line(f"  - {t.name} = {t.default!r} ({t.type})")
        if entry.thresholds_doc:
            line(f"  {entry.thresholds_doc}")
    line(f"source: {entry.source}")
    line(f"table: {entry.table}")
