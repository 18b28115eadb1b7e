"""``radguard pcap FILE...`` and ``radguard monitor --interface IF``: DICOM conversations on the
network as records, plus detections (recon, AE guessing, harvesting, floods, cleartext PHI, ...).

Imports only typer and the standard library at top level; the analyzer loads inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

_PROFILE_HELP = ("Detections to run: 'default' (no baseline needed), 'all' (adds the baseline detections), 'none', "
                 "or a comma-separated list of rule ids.")


def register(app: typer.Typer) -> None:
    app.command("pcap", help="Read pcap/pcapng captures: DICOM association and DIMSE records, and detections.")(
        pcap_cmd)
    app.command("monitor", help="Watch an interface live (via tcpdump): the same records and detections.")(
        monitor_cmd)


def _options(profile: str, threshold: list[str] | None, baseline: Path | None, dicom_port: list[int] | None,
             records: Path | None, zeek_log: Path | None, rotate_mb: int, keep: bool,
             audit_file: Path | None = None, audit_syslog: str | None = None) -> Any:
    from radguard.monitor.analyzer import DEFAULT_DICOM_PORTS
    from radguard.monitor.run import Options, parse_overrides

    chosen: str | list[str] = profile if "," not in profile and profile in ("default", "all", "none") else [
        p.strip() for p in profile.split(",") if p.strip()]
    return Options(profile=chosen, overrides=parse_overrides(threshold or []), baseline=baseline,
                   dicom_ports=frozenset(DEFAULT_DICOM_PORTS | set(dicom_port or [])), records_path=records,
                   zeek_dir=zeek_log, rotate_bytes=rotate_mb * 1024 * 1024, keep_records=keep,
                   audit_file=audit_file, audit_syslog=audit_syslog)


def _report(kind: str, outcome: Any, json_out: bool, sarif: Path | None, fail_on: str, run_id: int | None,
            params: dict[str, Any]) -> None:
    from radguard.cli.output import (
        emit_json,
        exit_code_for,
        parse_fail_on,
        print_findings_table,
        stderr_console,
        stdout_console,
        write_sarif,
    )

    threshold = parse_fail_on(fail_on)
    err = stderr_console()
    for e in outcome.errors:
        err.print(f"[yellow]warning:[/] {e.get('file') or e.get('interface')}: {e['error']}")
    if sarif:
        write_sarif(sarif, outcome.findings)
    if json_out:
        emit_json(kind, {**params, "run": run_id, "stats": outcome.stats, "errors": outcome.errors,
                         "records": outcome.records, "findings": [f.to_dict() for f in outcome.findings]})
    else:
        stats = outcome.stats
        out = stdout_console()
        out.print(f"{stats['frames']} frames, {stats['flows']} TCP connections, records: {stats['records']}, "
                  f"DIMSE: {stats['commands']}" + (f" (run {run_id})" if run_id else ""))
        print_findings_table(outcome.findings, title="Detections")
    raise typer.Exit(int(exit_code_for(outcome.findings, threshold)))


def pcap_cmd(
    files: list[Path] = typer.Argument(..., help="pcap or pcapng files (several are read as one capture, in order)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object (records and findings) on stdout."),
    records: Path = typer.Option(None, "--records", help="Stream records as JSON Lines to this file."),
    zeek_log: Path = typer.Option(None, "--zeek-log", help="Write a Zeek-style dicom.log (TSV) into this directory."),
    rotate_mb: int = typer.Option(0, "--rotate-mb", min=0, help="Rotate --records/--zeek-log files at this size."),
    profile: str = typer.Option("default", "--profile", help=_PROFILE_HELP),
    threshold: list[str] = typer.Option(None, "--threshold",
                                        help="Tune a detection: RULE.FIELD=VALUE (repeatable), e.g. "
                                        "ae-brute-force.min_rejections=3."),
    baseline: Path = typer.Option(None, "--baseline", help="Baseline JSON for bulk-retrieve/unknown-peer."),
    learn_baseline: Path = typer.Option(None, "--learn-baseline",
                                        help="Write a baseline learned from these captures to this file."),
    dicom_port: list[int] = typer.Option(None, "--dicom-port",
                                         help="Extra port where DICOM/DICOM-TLS is expected (repeatable)."),
    sarif: Path = typer.Option(None, "--sarif", help="Also write SARIF 2.1.0 to this file."),
    audit_file: Path = typer.Option(None, "--audit-file",
                                    help="Append a PS3.15 Security Alert audit message per finding (JSON Lines)."),
    audit_syslog: str = typer.Option(None, "--audit-syslog",
                                     help="Send Security Alert audit messages to syslog: udp://, tcp:// or tls://HOST:PORT."),
    fail_on: str = typer.Option("high", "--fail-on", help="Exit 1 if any finding is at or above this severity."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not record the run in the store."),
) -> None:
    """Analyse capture FILES: one record per association and per DIMSE operation, and detections."""
    import json

    from radguard.monitor.run import run_pcap, store_run

    opts = _options(profile, threshold, baseline, dicom_port, records, zeek_log, rotate_mb, True, audit_file,
                    audit_syslog)
    outcome = run_pcap(files, opts)
    if learn_baseline is not None:
        from radguard.monitor.baseline import learn

        learn_baseline.write_text(json.dumps(learn(outcome.records), indent=2) + "\n")
    params = {"files": [str(f) for f in files], "profile": profile}
    run_id = None if no_store else store_run("pcap", params, outcome)
    if not json_out:
        outcome.records = []
    _report("pcap", outcome, json_out, sarif, fail_on, run_id, params)


def monitor_cmd(
    interface: str = typer.Option(..., "--interface", "-i", help="Interface to capture on (tcpdump -i)."),
    duration: float = typer.Option(None, "--duration", min=0.1, help="Stop after this many seconds (default: ^C)."),
    bpf: str = typer.Option(None, "--filter", help="Capture filter (BPF), e.g. 'tcp port 104 or tcp port 11112'."),
    interval: float = typer.Option(30.0, "--interval", min=0.5, help="Seconds between detection passes."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout at the end."),
    records: Path = typer.Option(None, "--records", help="Stream records as JSON Lines to this file."),
    zeek_log: Path = typer.Option(None, "--zeek-log", help="Write a Zeek-style dicom.log (TSV) into this directory."),
    rotate_mb: int = typer.Option(100, "--rotate-mb", min=0, help="Rotate --records/--zeek-log files at this size."),
    profile: str = typer.Option("default", "--profile", help=_PROFILE_HELP),
    threshold: list[str] = typer.Option(None, "--threshold", help="Tune a detection: RULE.FIELD=VALUE."),
    baseline: Path = typer.Option(None, "--baseline", help="Baseline JSON for bulk-retrieve/unknown-peer."),
    dicom_port: list[int] = typer.Option(None, "--dicom-port", help="Extra DICOM port (repeatable)."),
    audit_file: Path = typer.Option(None, "--audit-file",
                                    help="Append a PS3.15 Security Alert audit message per finding (JSON Lines)."),
    audit_syslog: str = typer.Option(None, "--audit-syslog",
                                     help="Send Security Alert audit messages to syslog: udp://, tcp:// or tls://HOST:PORT."),
    fail_on: str = typer.Option("high", "--fail-on", help="Exit 1 if any finding is at or above this severity."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not record the run in the store."),
) -> None:
    """Capture live on an interface; alerts print to stderr as they are detected."""
    from radguard.cli.output import stderr_console
    from radguard.monitor.run import run_live, store_run

    opts = _options(profile, threshold, baseline, dicom_port, records, zeek_log, rotate_mb, json_out, audit_file,
                    audit_syslog)
    err = stderr_console()

    def alert(finding: Any) -> None:
        err.print(f"[bold red]alert[/] {finding.severity.value} {finding.rule} {finding.target}: {finding.title}")

    outcome = run_live(interface, opts, duration=duration, bpf=bpf, interval=interval, on_alert=alert)
    params = {"interface": interface, "profile": profile}
    run_id = None if no_store else store_run("monitor", params, outcome)
    _report("monitor", outcome, json_out, None, fail_on, run_id, params)
