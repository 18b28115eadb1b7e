"""The CLI contract shared by every command.

- ``--json``: exactly one JSON object on stdout, ``{"schema": "radguard.<kind>/1", ...}``;
  findings under ``"findings"``. Progress, logs and warnings go to stderr.
- Exit codes (:class:`ExitCode`): 0 ran and found nothing at or above ``--fail-on``;
  1 findings at or above it; 2 the command as a whole could not run.
- ``--sarif FILE``: SARIF 2.1.0 of the findings.

Every command that reports findings ends in :func:`finish`; the options it shares with other
commands are declared once in :mod:`radguard.cli.options`.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

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


def _literal(text: str) -> Any:
    """A cell shown as it is (a target or title with ``[...]`` is not Rich markup)."""
    from rich.text import Text

    return Text(text)


def print_findings_table(findings: Sequence[Finding], title: str = "Findings") -> None:
    """Rich table of findings for people (stdout); rule ids and targets are never cut (cli/tables.py)."""
    from radguard.cli.tables import Column, print_table

    console = stdout_console()
    if not findings:
        console.print(f"[green]{title}: none[/green]")
        return
    columns = [Column("severity", "key"), Column("rule", "key"), Column("target", "key"), Column("title"),
               Column("controls", "words")]
    rows = [(f"[{_SEV_STYLE[f.severity]}]{f.severity.value}[/]", _literal(f.rule), _literal(f.target),
             _literal(f.title), ", ".join(f.controls[:3]) + (" …" if len(f.controls) > 3 else ""))
            for f in sort_findings(findings)]
    print_table(console, columns, rows, title=f"{title} ({len(findings)})")
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


Findings = Sequence[Finding] | Callable[[], Sequence[Finding]]


def finish(kind: str, findings: Findings, *, json_out: bool, sarif: Path | None, fail_on: str | Severity = "high",
           extra: Mapping[str, Any] | None = None, errors: Sequence[Any] | None = None, title: str = "Findings",
           human: Callable[[], None] | None = None, stream_json: Callable[[IO[str]], None] | None = None,
           worst: Severity | None = None) -> int:
    """The closing step of every command that reports findings; returns the exit code (0 or 1).

    Writes ``sarif`` (SARIF 2.1.0), then either the one ``radguard.<kind>/1`` JSON object on stdout
    (``extra`` keys, ``errors`` if given, then ``findings``) or, for people, ``human()`` if given,
    else a findings table titled ``title``. The exit code is 1 when a finding is at or above
    ``fail_on`` (README "CLI contract").

    Parameters
    ----------
    findings
        The findings, or a function returning them: a producer that spools its results (the scan)
        then loads them only when a table or SARIF needs them.
    stream_json
        Writes the whole JSON document itself (a spooled result streamed to stdout), instead of
        ``extra``/``errors``/``findings``.
    worst
        The most severe finding when the producer counted it already (with a lazy ``findings``).
    """
    threshold = fail_on if isinstance(fail_on, Severity) else parse_fail_on(fail_on)
    loaded: list[Sequence[Finding]] = []

    def items() -> Sequence[Finding]:
        if not loaded:
            loaded.append(findings() if callable(findings) else findings)
        return loaded[0]

    if sarif is not None:
        write_sarif(sarif, items())
    if json_out and stream_json is not None:
        stream_json(sys.stdout)
        sys.stdout.flush()
    elif json_out:
        payload: dict[str, Any] = dict(extra or {})
        if errors is not None:
            payload["errors"] = list(errors)
        payload["findings"] = [f.to_dict() for f in items()]
        emit_json(kind, payload)
    elif human is not None:
        human()
    else:
        print_findings_table(items(), title=title)
    if worst is not None:
        return int(ExitCode.FINDINGS if worst >= threshold else ExitCode.OK)
    return int(exit_code_for(items(), threshold))
