"""Entry point of the ``radguard`` console script.

Commands live one module each in :mod:`radguard.cli`; each module exposes
``register(app)``. Modules import only typer and the standard library at top
level so that ``radguard --help`` stays fast; heavy imports happen inside commands.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

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
    "radguard.cli.rules_cmd",
    "radguard.cli.secret_cmd",
    "radguard.cli.report_cmd",
    "radguard.cli.demo_cmd",
    "radguard.cli.range_cmd",
    "radguard.cli.exercise_cmd",
    "radguard.cli.web_cmd",
    "radguard.cli.govern_cmd",
    "radguard.cli.risk_cmd",
    "radguard.cli.inventory_cmd",
    "radguard.cli.policy_cmd",
    "radguard.cli.train_cmd",
    "radguard.cli.decoy_cmd",
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


def _modules() -> list[ModuleType]:
    out: list[ModuleType] = []
    for name in COMMAND_MODULES:
        try:
            out.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return out


MODULES = _modules()
for _mod in MODULES:
    _mod.register(app)


def _top_names(t: typer.Typer) -> set[str]:
    """The top-level command and group names a Typer app holds (typer's rule: function name, ``_`` -> ``-``)."""
    return {_command_name(c) for c in t.registered_commands} | {g.name for g in t.registered_groups if g.name}


def _command_name(c: typer.models.CommandInfo) -> str:
    return c.name or (c.callback.__name__.replace("_", "-") if c.callback else "")


def app_for(args: list[str]) -> typer.Typer:
    """The app to run ``args`` with: only the command (or group) named, from the module that owns it, so a
    command does not pay for building every other command's parameters (typer converts each one at
    start-up); the whole app for the root help, ``--version`` and unknown commands."""
    first = next((a for a in args if not a.startswith("-")), None)
    if first is None:
        return app
    for mod in MODULES:
        one = typer.Typer(name="radguard", help=app.info.help, no_args_is_help=True, add_completion=False,
                          pretty_exceptions_enable=False, rich_markup_mode=None)
        mod.register(one)
        if first in _top_names(one):
            one.registered_commands = [c for c in one.registered_commands if _command_name(c) == first]
            one.registered_groups = [g for g in one.registered_groups if g.name == first]
            one.callback()(_root)
            return one
    return app


def _click_error_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(usage/parse errors, aborts) of the click copy newer typer versions vendor, or of click itself for an
    older typer (click is not imported when typer has its own copy: about 10 ms of every command)."""
    try:
        from typer._click import exceptions as vendored  # typer >= 0.25 ships its own click
    except ImportError:  # older typer uses click itself
        import click

        return (click.ClickException,), (click.exceptions.Abort,)
    aborts = tuple(t for t in (getattr(vendored, "Abort", None),) if isinstance(t, type))
    return (vendored.ClickException,), aborts


def _show_usage_error(exc: BaseException) -> None:
    """Print a parse error the way click does (usage line + ``Error: ...``), or the help of a bare group."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        print(ctx.get_help(), file=sys.stderr)
        return
    show = getattr(exc, "show", None)
    if callable(show):
        show(file=sys.stderr)
    else:
        print(f"radguard: error: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0/1/2, see radguard.cli.output)."""
    from radguard.cli.coerce import install as install_plain_coercion
    from radguard.errors import RadguardError

    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # what the root's eager --version prints, without building every command
        print(f"radguard {__version__}")
        return 0
    usage_errors, aborts = _click_error_types()
    interrupts: tuple[type[BaseException], ...] = (*aborts, KeyboardInterrupt)
    command = typer.main.get_command(app_for(args))
    install_plain_coercion(command)  # no pydantic for plain values (issue 15)
    try:
        rv = command.main(args=argv, prog_name="radguard", standalone_mode=False)
    except RadguardError as exc:
        print(f"radguard: error: {exc}", file=sys.stderr)
        return 2
    except usage_errors as exc:
        _show_usage_error(exc)
        code = getattr(exc, "exit_code", 2)
        return code if isinstance(code, int) and code else 2
    except interrupts:
        print("radguard: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if type(exc).__name__ == "Exit" and isinstance(getattr(exc, "exit_code", None), int):
            return int(exc.exit_code)  # type: ignore[attr-defined]
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
