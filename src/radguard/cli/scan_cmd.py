"""``radguard scan TARGET...``: find the imaging attack surface the way an attacker would.

Imports only typer and the standard library at top level (start-up time); the engine is
imported inside the command.
"""

from __future__ import annotations

from typing import Any

import typer

from radguard.cli.options import FailOnOption, JsonOption, NoStoreOption, SarifOption


def register(app: typer.Typer) -> None:
    app.command(
        "scan",
        help="Inventory DICOM/DICOMweb endpoints, prove what an unknown peer may do, rate TLS, "
        "fingerprint products; findings mapped to HIPAA/CSF controls.",
    )(scan_cmd)


def scan_cmd(
    targets: list[str] = typer.Argument(..., help="IPs, host names, CIDRs (10.0.0.0/27), ranges (10.0.0.1-20), @file."),
    ports: str = typer.Option(
        None, "--ports", "-p",
        help="nmap-style port list (104,4242,8000-8100). Default: 104,11112,4242,2762,2761,8042,8080,80,443.",
    ),
    concurrency: int = typer.Option(64, "--concurrency", min=1, max=4096, help="Connections in flight overall."),
    per_host: int = typer.Option(4, "--per-host", min=1, max=64, help="Connections in flight per host."),
    timeout: float = typer.Option(3.0, "--timeout", min=0.1, max=120.0,
                                  help="Seconds for each connect and each request/response exchange."),
    intrusive: bool = typer.Option(
        False, "--intrusive",
        help="Also C-STORE a labelled synthetic test object, count query matches (capped, cancelled, values "
        "dropped) and try vendor default web credentials.",
    ),
    calling_ae: str = typer.Option(None, "--calling-ae",
                                   help="A calling AE title the SCP knows, to probe services when unknown peers "
                                   "are refused (findings then say 'configured calling AE')."),
    called_ae: list[str] = typer.Option(None, "--called-ae", help="Called AE title(s) to try (repeatable)."),
    json_out: JsonOption = False,
    sarif: SarifOption = None,
    fail_on: FailOnOption = "high",
    no_store: NoStoreOption = False,
) -> None:
    """Scan TARGETs (see ``docs/rules.md`` for the rules)."""
    import asyncio

    from radguard.assess.run import run_scan
    from radguard.assess.targets import expand_targets, parse_ports
    from radguard.cli.output import finish
    from radguard.errors import UsageError

    port_list = parse_ports(ports)
    hosts = expand_targets(targets)
    for title in [calling_ae, *(called_ae or [])]:
        if title is not None and not (0 < len(title.strip()) <= 16 and title.isascii() and "\\" not in title):
            raise UsageError(f"AE title must be 1-16 ASCII characters without backslash: {title!r}")
    outcome = asyncio.run(run_scan(
        hosts, port_list, concurrency=concurrency, per_host=per_host, timeout=timeout, intrusive=intrusive,
        calling_ae=calling_ae, called_aes=tuple(called_ae or ()), store=not no_store, progress=not json_out,
    ))
    try:
        code = finish("scan", outcome.finding_list, json_out=json_out, sarif=sarif, fail_on=fail_on,
                      worst=outcome.worst, stream_json=outcome.write_json,
                      human=lambda: _print_human(outcome, hosts, port_list))
    finally:
        outcome.close()
    raise typer.Exit(code)


def _print_human(outcome: Any, hosts: list[str], port_list: list[int]) -> None:
    from radguard.cli.output import print_findings_table, stdout_console

    console = stdout_console()
    summary = outcome.summary()
    console.print(f"scanned {len(hosts)} host(s) x {len(port_list)} port(s): {summary['open']} open, "
                  f"{summary['services']} service(s), {summary['errors']} error(s)"
                  + (f", run {outcome.run_id}" if outcome.run_id else ""))
    for p in outcome.ports.items():
        if p["state"] != "open":
            continue
        product = " ".join(x for x in (p.get("product"), p.get("version")) if x)
        console.print(f"  {p['target']:<24} {p['service'] or '?':<10} {product}")
    for e in outcome.errors.items():
        console.print(f"  [yellow]error[/] {e['target']} {e['stage']}: {e['kind']} ({e['message']})")
    print_findings_table(outcome.finding_list(), title="Scan findings")
