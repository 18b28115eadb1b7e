"""Entry point of the ``radguard`` console script.

Commands live one module each in :mod:`radguard.cli`; each module exposes
``register(app)``. Modules import only typer and the standard library at top
level so that ``radguard --help`` stays fast; heavy imports happen inside commands.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from radguard import __version__

#: command modules, in help order; each has ``register(app: typer.Typer) -> None``
COMMAND_MODULES: tuple[str, ...] = (
    "radguard.cli.scan_cmd",
    "radguard.cli.archive_cmd",
    "radguard.cli.gateway_cmd",
    "radguard.cli.pcap_cmd",
    "radguard.cli.findings_cmd",
    "radguard.cli.controls_cmd",
)

app = typer.Typer(
    name="radguard",
    help="radguard: defense in depth for medical imaging (DICOM/PACS).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"radguard {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """radguard: identify, protect, detect, respond, recover, govern — for DICOM/PACS."""


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if _exc.name != _name:
            raise
        continue
    _mod.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0/1/2, see radguard.cli.output)."""
    import click

    from radguard.errors import RadguardError

    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="radguard", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("radguard: interrupted", file=sys.stderr)
        return 130
    except RadguardError as exc:
        print(f"radguard: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("RADGUARD_DEBUG"):
            raise
        print(
            f"radguard: internal error: {exc.__class__.__name__}: {exc} (set RADGUARD_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 2
    return int(rv) if isinstance(rv, int) else 0


def run() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
