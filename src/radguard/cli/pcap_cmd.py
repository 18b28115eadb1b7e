"""``radguard pcap FILE...`` and ``radguard monitor --interface IF``: DICOM conversations on the
network as records, plus detections (recon, AE guessing, harvesting, floods, cleartext PHI, ...).

Both commands take the same options (declared once in :mod:`radguard.cli.options`). Imports only
typer and the standard library at top level; the analyzer loads inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from radguard.cli.options import (
    AuditFileOption,
    AuditSyslogOption,
    BaselineOption,
    DicomPortOption,
    FailOnOption,
    JsonOption,
    NoStoreOption,
    ProfileOption,
    RecordsOption,
    RotateMbOption,
    SarifOption,
    ThresholdOption,
    WebPortOption,
    ZeekLogOption,
    writable_file,
)


def register(app: typer.Typer) -> None:
    app.command("pcap", help="Read pcap/pcapng captures: DICOM association and DIMSE records, and detections.")(
        pcap_cmd)
    app.command("monitor", help="Watch an interface live (via tcpdump): the same records and detections.")(
        monitor_cmd)


def _options(profile: str, threshold: list[str] | None, baseline: Path | None, dicom_port: list[int] | None,
             records: Path | None, zeek_log: Path | None, rotate_mb: int, keep: bool,
             audit_file: Path | None, audit_syslog: str | None, web_port: list[int] | None = None) -> Any:
    from radguard.monitor.analyzer import DEFAULT_DICOM_PORTS
    from radguard.monitor.detections import profile_names
    from radguard.monitor.http import DEFAULT_WEB_PORTS
    from radguard.monitor.run import Options, parse_overrides

    chosen: str | list[str] = profile if profile in profile_names() else [
        p.strip() for p in profile.split(",") if p.strip()]
    return Options(profile=chosen, overrides=parse_overrides(threshold or []), baseline=baseline,
                   dicom_ports=frozenset(DEFAULT_DICOM_PORTS | set(dicom_port or [])),
                   web_ports=frozenset(DEFAULT_WEB_PORTS | set(web_port or [])), records_path=records,
                   zeek_dir=zeek_log, rotate_bytes=rotate_mb * 1024 * 1024, keep_records=keep,
                   audit_file=audit_file, audit_syslog=audit_syslog)


def _finish(kind: str, outcome: Any, json_out: bool, sarif: Path | None, fail_on: str, run_id: int | None,
            params: dict[str, Any]) -> int:
    from radguard.cli.output import finish, print_findings_table, stderr_console, stdout_console

    if outcome.errors:  # rich is imported only when there is something to print (issue 15: start-up)
        err = stderr_console()
        for e in outcome.errors:
            err.print(f"[yellow]warning:[/] {e.get('file') or e.get('interface')}: {e['error']}")

    def human() -> None:
        stats = outcome.stats
        stdout_console().print(f"{stats['frames']} frames, {stats['flows']} TCP connections, records: "
                               f"{stats['records']}, DIMSE: {stats['commands']}"
                               + (f" (run {run_id})" if run_id else ""))
        print_findings_table(outcome.findings, title="Detections")

    return finish(kind, outcome.findings, json_out=json_out, sarif=sarif, fail_on=fail_on, human=human,
                  extra={**params, "run": run_id, "stats": outcome.stats, "errors": outcome.errors,
                         "records": outcome.records})


def pcap_cmd(
    files: list[Path] = typer.Argument(..., help="pcap or pcapng files (several are read as one capture, in order)."),
    json_out: JsonOption = False,
    records: RecordsOption = None,
    zeek_log: ZeekLogOption = None,
    rotate_mb: RotateMbOption = 0,
    profile: ProfileOption = "default",
    threshold: ThresholdOption = None,
    baseline: BaselineOption = None,
    learn_baseline: Annotated[Path | None, typer.Option(
        "--learn-baseline", callback=writable_file,
        help="Write a baseline learned from these captures to this file.")] = None,
    dicom_port: DicomPortOption = None,
    web_port: WebPortOption = None,
    sarif: SarifOption = None,
    audit_file: AuditFileOption = None,
    audit_syslog: AuditSyslogOption = None,
    fail_on: FailOnOption = "high",
    no_store: NoStoreOption = False,
) -> None:
    """Analyse capture FILES: one record per association and per DIMSE operation, and detections."""
    import json

    from radguard.monitor.run import StoreRecorder, check_inputs, run_pcap

    # records are held only for what prints or learns from all of them; the store gets them as they come
    opts = _options(profile, threshold, baseline, dicom_port, records, zeek_log, rotate_mb,
                    json_out or learn_baseline is not None, audit_file, audit_syslog, web_port)
    params = {"files": [str(f) for f in files], "profile": profile}
    check_inputs(files, opts)
    recorder = None if no_store else StoreRecorder("pcap", params)
    try:
        outcome = run_pcap(files, opts, recorder)
    except BaseException:
        if recorder is not None:
            recorder.abandon()
        raise
    if learn_baseline is not None:
        from radguard.monitor.baseline import learn

        learn_baseline.parent.mkdir(parents=True, exist_ok=True)
        learn_baseline.write_text(json.dumps(learn(outcome.records), indent=2) + "\n")
    run_id = None if recorder is None else recorder.finish(outcome.findings, outcome.stats,
                                                           errors=len(outcome.errors))
    if not json_out:
        outcome.records = []
    raise typer.Exit(_finish("pcap", outcome, json_out, sarif, fail_on, run_id, params))


def monitor_cmd(
    interface: str = typer.Option(..., "--interface", "-i", help="Interface to capture on (tcpdump -i)."),
    duration: float = typer.Option(None, "--duration", min=0.1, help="Stop after this many seconds (default: ^C)."),
    bpf: str = typer.Option(None, "--filter", help="Capture filter (BPF), e.g. 'tcp port 104 or tcp port 11112'."),
    interval: float = typer.Option(30.0, "--interval", min=0.5, help="Seconds between detection passes."),
    json_out: JsonOption = False,
    records: RecordsOption = None,
    zeek_log: ZeekLogOption = None,
    rotate_mb: RotateMbOption = 100,
    profile: ProfileOption = "default",
    threshold: ThresholdOption = None,
    baseline: BaselineOption = None,
    dicom_port: DicomPortOption = None,
    web_port: WebPortOption = None,
    audit_file: AuditFileOption = None,
    audit_syslog: AuditSyslogOption = None,
    fail_on: FailOnOption = "high",
    no_store: NoStoreOption = False,
    status_file: Annotated[Path | None, typer.Option(
        "--status-file", callback=writable_file,
        help="After each detection pass, write JSON here: frames, records, findings, the capture time of the "
             "last frame covered (for a supervisor or a health check).")] = None,
) -> None:
    """Capture live on an interface; alerts print to stderr as they are detected."""
    from radguard.cli.output import stderr_console
    from radguard.monitor.run import run_live, store_run

    opts = _options(profile, threshold, baseline, dicom_port, records, zeek_log, rotate_mb, json_out, audit_file,
                    audit_syslog, web_port)
    err = stderr_console()

    def alert(finding: Any) -> None:
        err.print(f"[bold red]alert[/] {finding.severity.value} {finding.rule} {finding.target}: {finding.title}")

    outcome = run_live(interface, opts, duration=duration, bpf=bpf, interval=interval, on_alert=alert,
                       status_file=status_file)
    params = {"interface": interface, "profile": profile}
    run_id = None if no_store else store_run("monitor", params, outcome)
    raise typer.Exit(_finish("monitor", outcome, json_out, None, fail_on, run_id, params))
