"""``radguard rules [--producer P] [--json]`` and ``radguard rules show ID``: the rule catalogue.

Every rule id a finding can carry, from every producer's rule table (:mod:`radguard.rules`), with
its default severity, controls (titles resolved from :mod:`radguard.catalog`), remediation and,
for detections, thresholds and MITRE ATT&CK ids. Only typer and the standard library are
imported at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from radguard.rules import RuleInfo

PRODUCERS = ("scan", "archive", "monitor", "gateway")

rules_app = typer.Typer(
    help="The rules findings name: severity, controls, remediation, thresholds (docs/rules.md).",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")


@rules_app.callback()
def list_cmd(
    ctx: typer.Context,
    producer: str = typer.Option(None, "--producer", "-p", help="Only the rules of scan, archive, monitor or gateway."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """List the rules of every producer (or of one with --producer)."""
    if ctx.invoked_subcommand is not None:
        return
    from radguard.errors import UsageError

    if producer is not None and producer not in PRODUCERS:
        raise UsageError(f"unknown producer {producer!r} (known: {', '.join(PRODUCERS)})")
    from radguard import rules
    from radguard.cli.output import emit_json, stdout_console

    found = rules.for_producer(producer)
    if json_out:
        emit_json("rules", {"producer": producer, "count": len(found), "rules": [rules.to_dict(r) for r in found]})
        return
    from rich.table import Table

    t = Table(title="Rules" + (f" ({producer})" if producer else ""))
    for col, wrap in (("rule", False), ("producer", False), ("severity", False), ("title", True), ("controls", True)):
        t.add_column(col, no_wrap=not wrap, overflow="fold")
    for r in found:
        t.add_row(r.id, r.producer.value, r.severity.value, r.title, ", ".join(r.controls))
    console = stdout_console()
    console.print(t)
    console.print(f"{len(found)} rule(s); details: radguard rules show ID", highlight=False)


@rules_app.command("show")
def show_cmd(
    rule_id: str = typer.Argument(..., metavar="ID", help="A rule id, e.g. dicom-any-calling-ae, pixel-tampered."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Show one rule: severity, when it fires, remediation, controls, thresholds."""
    from radguard import rules
    from radguard.cli.output import emit_json
    from radguard.errors import UsageError

    try:
        rule = rules.get(rule_id)
    except KeyError:
        close = [r.id for r in rules.all_rules() if rule_id.casefold() in r.id]
        hint = f" (did you mean: {', '.join(close)})" if close else " (list them: radguard rules)"
        raise UsageError(f"unknown rule {rule_id!r}{hint}") from None
    if json_out:
        emit_json("rule", {"rule": rules.to_dict(rule)})
        return
    _print_rule(rule)


def _print_rule(rule: RuleInfo) -> None:
    from radguard import rules
    from radguard.cli.output import stdout_console

    console = stdout_console()

    def line(text: str) -> None:
        console.print(text, highlight=False, markup=False)

    line(f"{rule.id}  {rule.title}")
    line(f"producer: {rule.producer.value}" + (f" (used by: {', '.join(p.value for p in rule.used_by)})"
                                                if len(rule.used_by) > 1 else ""))
    line(f"severity: {rule.severity.value}" + (f"; varies: {rule.severity_note}" if rule.severity_note else ""))
    if rule.description:
        line(f"fires when: {rule.description}")
    line(f"remediation: {rule.remediation}")
    line("controls:")
    for ref in rule.controls:
        line(f"  - {ref}  {rules.control_title(ref) or '(unknown to the catalog)'}")
    if rule.mitre:
        line(f"MITRE ATT&CK: {', '.join(rule.mitre)}")
    if rule.profile:
        line(f"profile: {rule.profile}")
    if rule.gateway_action:
        line(f"gateway default action: {rule.gateway_action}")
    if rule.thresholds:
        line("thresholds:")
        for t in rule.thresholds:
            line(f"  - {t.name} = {t.default!r} ({t.type})")
        if rule.thresholds_doc:
            line(f"  {rule.thresholds_doc}")
    line(f"source: {rule.source}")
