"""``radguard keygen | seal | audit | recover | canary plant``: archive integrity (docs/archive.md).

Only typer and the standard library at import time; the work happens in :mod:`radguard.archive`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from radguard.cli.options import FailOnOption, JsonOption, SarifOption, writable_file

canary_app = typer.Typer(help="Decoy DICOM objects whose change is always critical.", no_args_is_help=True)

_WORKERS_HELP = "Worker processes (default: all cores)."
_DASK_HELP = "Run the work on this Dask scheduler (tcp://host:8786) instead of local processes."


def register(app: typer.Typer) -> None:
    app.command("keygen", help="Create the Ed25519 key that signs the ledger.")(keygen_cmd)
    app.command("seal", help="Seal files into the signed ledger (incremental, resumable).")(seal_cmd)
    app.command("audit", help="Check every file (weaponised, encrypted, malformed) and verify the ledger.")(
        audit_cmd
    )
    app.command("recover", help="Restore missing/changed objects from a backup, verified against the ledger.")(
        recover_cmd
    )
    app.add_typer(canary_app, name="canary")


def _key_path(key: Path | None) -> Path:
    from radguard.archive.keys import default_key_path

    return key.expanduser() if key else default_key_path()


def _is_ed25519_public(text: str) -> bool:
    """A 32-byte Ed25519 public key in hex, as ``keygen`` writes it."""
    try:
        return len(bytes.fromhex(text)) == 32
    except ValueError:
        return False


def _check_dask(address: str | None) -> None:
    """``--dask`` must name a scheduler as ``[tcp|tls]://HOST:PORT`` or ``HOST:PORT``."""
    if address is None:
        return
    from urllib.parse import urlsplit

    from radguard.errors import UsageError

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls", "inproc", "ws", "wss", "ucx") or not parts.hostname or port is None:
        raise UsageError(f"--dask {address}: expected a scheduler address like tcp://HOST:8786")


def _workers(workers: int | None) -> int:
    from radguard.archive.runner import default_workers
    from radguard.errors import UsageError

    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    # the parallelism is the worker processes: one BLAS thread each (numpy is imported by the workers)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    return workers or default_workers()


def _check_paths(paths: Sequence[Path]) -> list[str]:
    from radguard.errors import UsageError

    out = []
    for p in paths:
        if not p.exists():
            raise UsageError(f"no such file or directory: {p}")
        out.append(str(p))
    return out


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A progress counter on stderr (rich), silent when stderr is not a terminal or ``quiet``."""
    if quiet or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from radguard.cli.output import stderr_console

    with Progress(SpinnerColumn(), TextColumn(label), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=stderr_console(), transient=True) as prog:
        task = prog.add_task(label, total=None)
        yield lambda n: prog.advance(task, n)


def keygen_cmd(
    key: Annotated[Path | None, typer.Option(
        "--key", callback=writable_file,
        help="Where to write the key (default: user data dir, $RADGUARD_KEY).")] = None,
    passphrase_env: str = typer.Option("RADGUARD_KEY_PASSPHRASE", "--passphrase-env",
                                       help="Encrypt the key with the passphrase in this environment variable."),
    force: bool = typer.Option(False, "--force", help="Replace an existing key."),
    json_out: JsonOption = False,
) -> None:
    """Create an Ed25519 signing key (mode 0600); its public half goes next to it (``.pub``)."""
    from radguard.archive.keys import generate
    from radguard.cli.output import finish

    path = _key_path(key)
    pub = generate(path, passphrase_env=passphrase_env, force=force)
    encrypted = bool(os.environ.get(passphrase_env))
    raise typer.Exit(finish(
        "keygen", [], json_out=json_out, sarif=None,
        extra={"key": str(path), "public_key": pub, "encrypted": encrypted},
        human=lambda: typer.echo(f"key: {path} (mode 0600{', encrypted' if encrypted else ''})\npublic key: {pub}")))


def seal_cmd(
    paths: list[Path] = typer.Argument(..., help="Files or folders to seal."),
    key: Path = typer.Option(None, "--key", help="Signing key (default: as for keygen)."),
    passphrase_env: str = typer.Option("RADGUARD_KEY_PASSPHRASE", "--passphrase-env"),
    workers: int = typer.Option(None, "--workers", help=_WORKERS_HELP),
    dask: str = typer.Option(None, "--dask", help=_DASK_HELP),
    rehash: bool = typer.Option(False, "--rehash", help="Hash unchanged files (same size and mtime) again."),
    decode_pixels: bool = typer.Option(False, "--decode-pixels",
                                       help="Also hash decoded pixels of compressed objects (verifies transcodes)."),
    json_out: JsonOption = False,
    sarif: SarifOption = None,
    fail_on: FailOnOption = "high",
) -> None:
    """Seal PATHS into the ledger; findings of the stateless checks are reported too."""
    from radguard.archive import keys
    from radguard.archive.run import run_seal
    from radguard.cli.output import finish

    targets = _check_paths(paths)
    signing = keys.load(_key_path(key), passphrase_env=passphrase_env)
    n = _workers(workers)
    _check_dask(dask)
    with _progress("sealing", json_out) as prog:
        run_id, summary = run_seal(targets, signing, workers=n, dask=dask, rehash=rehash,
                                   decode_pixels=decode_pixels, progress=prog)
    if not json_out:
        typer.echo(f"sealed {summary.files} files ({summary.hashed} hashed, {summary.unchanged} unchanged, "
                   f"{summary.errors} errors, {summary.dropped} dropped); run merkle root {summary.run_root}",
                   err=True)
    raise typer.Exit(finish("seal", summary.findings, json_out=json_out, sarif=sarif, fail_on=fail_on,
                            extra={"run": run_id, "summary": summary.to_dict()}, title="Seal"))


def audit_cmd(
    paths: list[Path] = typer.Argument(..., help="Files or folders to audit."),
    workers: int = typer.Option(None, "--workers", help=_WORKERS_HELP),
    dask: str = typer.Option(None, "--dask", help=_DASK_HELP),
    key: Path = typer.Option(None, "--key", help="Trust only ledger signatures by this key's .pub (default: "
                                                "the keygen location, if present)."),
    burst_min_count: int = typer.Option(20, "--burst-min-count", help="ransomware-burst: minimum changed objects."),
    burst_min_share: float = typer.Option(0.10, "--burst-min-share",
                                          help="ransomware-burst: minimum share of sealed objects changed."),
    burst_window: float = typer.Option(3600.0, "--burst-window",
                                       help="ransomware-burst: changes within this many seconds."),
    json_out: JsonOption = False,
    sarif: SarifOption = None,
    fail_on: FailOnOption = "high",
) -> None:
    """Audit PATHS: executable preambles, trailing data, encryption, malformed and active content,
    and, where sealed, tampering, missing/unexpected objects and ransomware bursts."""
    from radguard.archive import keys
    from radguard.archive.audit import BurstThresholds
    from radguard.archive.run import run_audit
    from radguard.cli.output import finish

    targets = _check_paths(paths)
    n = _workers(workers)
    trusted = keys.trusted_public(_key_path(key))
    if key is not None and (trusted is None or not _is_ed25519_public(trusted)):
        from radguard.errors import UsageError

        raise UsageError(f"--key {key}: no readable Ed25519 public key ({key}.pub or a .pub file); "
                         "refusing to audit without the trust anchor you named")
    _check_dask(dask)
    with _progress("auditing", json_out) as prog:
        run_id, summary = run_audit(targets, workers=n, dask=dask, trusted_key=trusted, progress=prog,
                                    burst=BurstThresholds(burst_min_count, burst_min_share, burst_window))
    if not json_out:
        typer.echo(f"audited {summary.files} files ({summary.verified} verified against the ledger, "
                   f"{summary.missing} missing, {summary.unexpected} unexpected, "
                   f"{sum(summary.by_rule.values())} findings); run {run_id}", err=True)
        for state in summary.unfinished:  # a state, not a finding: the exit code follows the findings
            typer.echo(state.message(), err=True)
    raise typer.Exit(finish("audit", summary.findings, json_out=json_out, sarif=sarif, fail_on=fail_on,
                            extra={"run": run_id, "summary": summary.to_dict()}, errors=summary.errors(),
                            title="Audit"))


def recover_cmd(
    path: Path = typer.Argument(..., help="The sealed folder to repair."),
    backup: Path = typer.Option(..., "--from", help="Backup tree to take verified copies from."),
    apply: bool = typer.Option(False, "--apply", help="Restore (default: dry run, nothing is written)."),
    json_out: JsonOption = False,
    sarif: SarifOption = None,
    fail_on: FailOnOption = "high",
) -> None:
    """Restore missing or changed objects of PATH from BACKUP, only copies matching the ledger."""
    from radguard.archive.run import run_recover
    from radguard.cli.output import finish, print_findings_table, stdout_console

    _check_paths([path, backup])
    run_id, report = run_recover(str(path), str(backup), apply=apply)

    def human() -> None:
        from rich.table import Table

        t = Table(title=f"Recover ({'applied' if apply else 'dry run'})")
        for col in ("action", "path", "reason", "source"):
            t.add_column(col, overflow="fold")
        for a in report.actions:
            t.add_row(a.action, a.path, a.reason, a.source or "")
        stdout_console().print(t)
        print_findings_table(report.findings, title="Unrecoverable")

    typer.echo(f"time to recover: {report.seconds:.2f} s", err=True)
    raise typer.Exit(finish("recover", report.findings, json_out=json_out, sarif=sarif, fail_on=fail_on,
                            extra={"run": run_id, "report": report.to_dict()}, human=human))


@canary_app.command("plant")
def canary_plant_cmd(
    path: Path = typer.Argument(..., help="Folder to place decoy objects in (inside a sealed tree)."),
    count: int = typer.Option(3, "--count", min=1, max=1000, help="How many decoys."),
    key: Path = typer.Option(None, "--key", help="Signing key (default: as for keygen)."),
    passphrase_env: str = typer.Option("RADGUARD_KEY_PASSPHRASE", "--passphrase-env"),
    json_out: JsonOption = False,
) -> None:
    """Write decoy DICOM files into PATH and seal them as canaries."""
    from radguard.archive import keys
    from radguard.archive.run import run_canary_plant
    from radguard.cli.output import finish

    signing = keys.load(_key_path(key), passphrase_env=passphrase_env)
    run_id, planted = run_canary_plant(str(path), count, signing)
    raise typer.Exit(finish("canary", [], json_out=json_out, sarif=None, extra={"run": run_id, "canaries": planted},
                            human=lambda: typer.echo("\n".join(planted))))
