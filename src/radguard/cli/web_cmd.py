"""``radguard web`` (the console) and ``radguard web adduser`` (its accounts)."""

from __future__ import annotations

from pathlib import Path

import typer

from radguard.cli.options import writable_file

web_app = typer.Typer(help="The console: a secure web dashboard over the store (see docs/web.md).",
                      no_args_is_help=False, invoke_without_command=True, add_completion=False)


def register(app: typer.Typer) -> None:
    app.add_typer(web_app, name="web")


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@web_app.callback()
def web_cmd(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (non-loopback needs --cert/--key)."),
    port: int = typer.Option(8080, "--port", help="TCP port."),
    cert: Path = typer.Option(None, "--cert", help="TLS certificate (PEM): serve HTTPS."),
    key: Path = typer.Option(None, "--key", help="TLS private key (PEM)."),
    gateway_config: list[Path] = typer.Option([], "--gateway-config", help="A gateway's gateway.toml (repeatable)."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Session key and audit file (default: user data dir)."),
    audit_file: Path = typer.Option(None, "--audit-file", help="JSON Lines audit trail of the console.",
                                    callback=writable_file),
    audit_syslog: str = typer.Option(None, "--audit-syslog", help="ATNA syslog collector: udp|tcp|tls://HOST:PORT."),
) -> None:
    """Serve the console (FastAPI + uvicorn) on 127.0.0.1:8080 unless told otherwise."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"data_dir": data_dir}
        return
    from radguard.errors import UsageError

    if (cert is None) != (key is None):
        raise UsageError("--cert and --key go together")
    if cert is None and not _is_loopback(host):
        raise UsageError(f"refusing to serve the console on {host} without TLS: give --cert and --key, "
                         "or bind a loopback address")
    for p in (cert, key, *gateway_config):
        if p is not None and not p.is_file():
            raise UsageError(f"no such file: {p}")
    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: out of range")
    import uvicorn

    from radguard.web.app import create_app
    from radguard.web.config import WebConfig, default_data_dir

    config = WebConfig(data_dir=data_dir or default_data_dir(), tls=cert is not None,
                       gateway_configs=tuple(gateway_config), audit_file=audit_file, audit_syslog=audit_syslog)
    app = create_app(config)
    console = app.state.console
    scheme = "https" if cert else "http"
    try:
        if not console.has_accounts():
            typer.echo("radguard web: no account yet: create one with `radguard web adduser NAME --role admin`",
                       err=True)
    except Exception as exc:  # the store may come later; the console says so on every page
        typer.echo(f"radguard web: warning: {exc}", err=True)
    typer.echo(f"radguard web: serving {scheme}://{host}:{port}/ (audit trail {config.audit_path})", err=True)
    try:
        uvicorn.run(app, host=host, port=port, ssl_certfile=str(cert) if cert else None,
                    ssl_keyfile=str(key) if key else None, server_header=False, date_header=True,
                    proxy_headers=False, log_level="warning", access_log=False)
    finally:
        console.close()


@web_app.command("adduser")
def adduser_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Account name (letters, digits, . _ - @)."),
    role: str = typer.Option("viewer", "--role", help="viewer, operator (may contain) or admin (manages users)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    reset: bool = typer.Option(False, "--reset", help="Set a new password for an existing account."),
) -> None:
    """Create a console account (argon2id hash in the store); asks for the password twice."""
    import sys

    from radguard.errors import UsageError
    from radguard.store import open_store
    from radguard.store.console import ROLES, get_user, set_password
    from radguard.web.accounts import create_user, hash_password

    if role not in ROLES:
        raise UsageError(f"--role must be one of {', '.join(ROLES)}")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = open_store()
    try:
        if reset:
            if get_user(store, name) is None:
                raise UsageError(f"no account {name!r}")
            set_password(store, name, hash_password(password))
            what = "password reset"
        else:
            create_user(store, name, role, password)
            what = f"added with role {role}"
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.close()
    _audit_account(ctx, name, what)
    typer.echo(f"radguard web: account {name} {what}", err=True)


def _audit_account(ctx: typer.Context, name: str, what: str) -> None:
    """Account changes go to the console's audit trail too (DICOM PS3.15 A.5.3.13, Security Roles Changed)."""
    import getpass

    from radguard.audittrail.codes import EventTypeCode
    from radguard.web.audit import ConsoleAudit
    from radguard.web.config import WebConfig, default_data_dir

    data_dir = (ctx.obj or {}).get("data_dir") or default_data_dir()
    audit = ConsoleAudit(WebConfig(data_dir=data_dir).audit_path)
    try:
        audit.action(getpass.getuser(), None, f"console account {name}: {what}",
                     kind=EventTypeCode.SECURITY_ROLES_CHANGED)
    finally:
        audit.close()
