"""Option declarations shared by several commands, checked when the command line is parsed.

Each alias is an ``Annotated`` type: a command declares ``sarif: SarifOption = None`` and gets the
option's name, help and parse-time check from here, so an option is declared once. Output paths
(``--sarif``, ``--records``, ``--zeek-log``, ``--learn-baseline``, ``keygen --key``, ...) are checked
for writability while the arguments are parsed, before a command does its work: a typo in an output
path must not cost the result of a long scan or audit (README "CLI contract": exit 2, one line).

Only typer and the standard library at import time (``radguard --help`` stays fast).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "AuditFileOption", "AuditSyslogOption", "BaselineOption", "DicomPortOption", "FailOnOption", "JsonOption",
    "NoStoreOption", "ProfileOption", "RecordsOption", "RotateMbOption", "SarifOption", "ThresholdOption",
    "ZeekLogOption", "check_fail_on", "output_problem", "writable_dir", "writable_file",
]


def output_problem(path: Path, kind: str) -> str | None:
    """Why ``path`` cannot be written as an output ``"file"`` or ``"dir"``, or None if it looks writable.

    A path that does not exist yet is fine when its nearest existing ancestor is a writable
    directory: the missing folders are created when the output is written.
    """
    if path.exists():
        if kind == "file" and path.is_dir():
            return "is a directory"
        if kind == "dir" and not path.is_dir():
            return "exists and is not a directory"
        if not os.access(path, os.W_OK):
            return "not writable"
        return None
    parent = path.parent
    while not parent.exists():
        if parent == parent.parent:
            return "no existing parent directory"
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"directory {parent} is not writable"
    return _probe(parent)


def _probe(directory: Path) -> str | None:
    """Create and remove an empty folder in ``directory``: ``os.access`` says yes to root everywhere,
    also on /proc or /sys where nothing can be created (issue 16 item 9)."""
    import tempfile

    try:
        os.rmdir(tempfile.mkdtemp(prefix=".radguard-probe-", dir=directory))
    except OSError as exc:
        return f"cannot create anything in {directory} ({exc.strerror or exc})"
    return None


def _check_output(param: typer.CallbackParam, value: Path | None, kind: str) -> Path | None:
    if value is None:
        return None
    problem = output_problem(value, kind)
    if problem:
        from radguard.errors import UsageError

        name = param.opts[0] if param.opts else f"--{param.name}"
        raise UsageError(f"{name} {value}: {problem}")
    return value


def writable_file(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> Path | None:
    """Parse-time check of an output file option (a radguard UsageError: exit 2, one line)."""
    return _check_output(param, value, "file")


def writable_dir(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> Path | None:
    """Parse-time check of an output directory option (a radguard UsageError: exit 2, one line)."""
    return _check_output(param, value, "dir")


def check_fail_on(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    """``--fail-on`` must name a severity (critical, high, medium, low, info)."""
    from radguard.cli.output import parse_fail_on

    parse_fail_on(value)
    return value


# every command that reports findings
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
SarifOption = Annotated[Path | None, typer.Option("--sarif", callback=writable_file,
                                                  help="Also write SARIF 2.1.0 to this file.")]
FailOnOption = Annotated[str, typer.Option("--fail-on", callback=check_fail_on,
                                           help="Exit 1 if any finding is at or above this severity.")]
NoStoreOption = Annotated[bool, typer.Option("--no-store", help="Do not record the run in the store.")]

# radguard pcap and radguard monitor (docs/monitor.md)
RecordsOption = Annotated[Path | None, typer.Option("--records", callback=writable_file,
                                                    help="Stream records as JSON Lines to this file.")]
ZeekLogOption = Annotated[Path | None, typer.Option("--zeek-log", callback=writable_dir,
                                                    help="Write a Zeek-style dicom.log (TSV) into this directory.")]
RotateMbOption = Annotated[int, typer.Option("--rotate-mb", min=0,
                                             help="Rotate --records/--zeek-log files at this size.")]
ProfileOption = Annotated[str, typer.Option(
    "--profile", help="Detections to run: a profile of the detection registry ('default' needs no baseline, see "
    "docs/monitor.md; an unknown name lists the others) or a comma-separated list of rule ids.")]
ThresholdOption = Annotated[list[str] | None, typer.Option(
    "--threshold", help="Tune a detection: RULE.FIELD=VALUE (repeatable), e.g. ae-brute-force.min_rejections=3.")]
BaselineOption = Annotated[Path | None, typer.Option("--baseline",
                                                     help="Baseline JSON for bulk-retrieve/unknown-peer.")]
DicomPortOption = Annotated[list[int] | None, typer.Option(
    "--dicom-port", help="Extra port where DICOM/DICOM-TLS is expected (repeatable).")]
WebPortOption = Annotated[list[int] | None, typer.Option(
    "--web-port", help="Extra port where cleartext HTTP/DICOMweb to a PACS is parsed (repeatable; defaults 80, 8042, "
    "8080; HTTPS stays opaque).")]
AuditFileOption = Annotated[Path | None, typer.Option(
    "--audit-file", callback=writable_file,
    help="Append a PS3.15 Security Alert audit message per finding (JSON Lines).")]
AuditSyslogOption = Annotated[str | None, typer.Option(
    "--audit-syslog", help="Send Security Alert audit messages to syslog: udp://, tcp:// or tls://HOST:PORT.")]
