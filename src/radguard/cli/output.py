"""The CLI contract shared by every command.

- ``--json``: exactly one JSON object on stdout, ``{"schema": "radguard.<kind>/1", ...}``;
  findings under ``"findings"``. Progress, logs and warnings go to stderr.
- Exit codes (:class:`ExitCode`): 0 ran and found nothing at or above ``--fail-on``;
  1 findings at or above it; 2 the command as a whole could not run.
- ``--sarif FILE``: SARIF 2.1.0 of the findings.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from radguard.models import Finding, Severity


class ExitCode(enum.IntEnum):
    OK = 0
    FINDINGS = 1
    CANNOT_RUN = 2


def exit_code_for(findings: Iterable[Finding], fail_on: Severity) -> ExitCode:
    """1 if any finding is at or above ``fail_on``, else 0."""
    return ExitCode.FINDINGS if any(f.severity >= fail_on for f in findings) else ExitCode.OK


def parse_fail_on(text: str) -> Severity:
    from radguard.errors import UsageError

    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}") from None


def _default(obj: object) -> object:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, Path):
        return str(obj)
    import datetime as _dt

    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    return str(obj)


def dumps(obj: object) -> str:
    return json.dumps(obj, default=_default, sort_keys=False)


def emit_json(kind: str, payload: Mapping[str, Any]) -> None:
    """Print the one JSON object of a ``--json`` run on stdout."""
    doc: dict[str, Any] = {"schema": f"radguard.{kind}/1"}
    doc.update(payload)
    sys.stdout.write(dumps(doc) + "\n")
    sys.stdout.flush()


def stderr_console() -> Any:
    """A rich console on stderr (progress, warnings)."""
    from rich.console import Console

    return Console(stderr=True)


def stdout_console() -> Any:
    from rich.console import Console

    return Console()


_SEV_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.severity.rank, f.target, f.rule))


def print_findings_table(findings: Sequence[Finding], title: str = "Findings") -> None:
    """Rich table of findings for people (stdout)."""
    from rich.table import Table

    console = stdout_console()
    if not findings:
        console.print(f"[green]{title}: none[/green]")
        return
    table = Table(title=f"{title} ({len(findings)})", show_lines=False)
    table.add_column("severity")
    table.add_column("rule")
    table.add_column("target")
    table.add_column("title")
    table.add_column("controls", overflow="fold")
    for f in sort_findings(findings):
        table.add_row(
            f"[{_SEV_STYLE[f.severity]}]{f.severity.value}[/]",
            f.rule,
            f.target,
            f.title,
            ", ".join(f.controls[:3]) + (" …" if len(f.controls) > 3 else ""),
        )
    console.print(table)
    fixes: dict[str, str] = {}
    for f in sort_findings(findings):
        if f.remediation and f.rule not in fixes:
            fixes[f.rule] = f.remediation
    if fixes:
        console.print("[bold]How to fix[/bold] (most severe first; `radguard rules show RULE` for details)")
        for rule, text in fixes.items():
            console.print(f"  [bold]{rule}[/bold]: {text}", highlight=False)


def write_sarif(path: Path, findings: Sequence[Finding], tool: str = "radguard") -> None:
    from radguard.errors import UsageError
    from radguard.report.sarif import to_sarif

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(to_sarif(findings, tool=tool), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


#: options that name an output file (``"file"``) or directory (``"dir"``), by command (``"*"``: any)
OUTPUT_OPTIONS: dict[str, dict[str, str]] = {
    "*": {"--sarif": "file", "--records": "file", "--learn-baseline": "file", "--zeek-log": "dir"},
    "keygen": {"--key": "file"},
}


def output_problem(path: Path, kind: str) -> str | None:
    """Why ``path`` cannot be written as an output file/directory, or None if it looks writable.

    Checked before a command does its work, so a typo in an output path does not cost the
    result of a long scan or audit.
    """
    import os

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
    return None


def check_output_paths(argv: Sequence[str]) -> None:
    """Raise UsageError for an output option (``--sarif FILE`` ...) whose path cannot be written."""
    from radguard.errors import UsageError

    command = next((a for a in argv if not a.startswith("-")), "")
    options = {**OUTPUT_OPTIONS["*"], **OUTPUT_OPTIONS.get(command, {})}
    args = list(argv)
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name not in options:
            continue
        if not eq:
            if i + 1 >= len(args):
                continue
            value = args[i + 1]
        problem = output_problem(Path(value), options[name])
        if problem:
            raise UsageError(f"{name} {value}: {problem}")
