"""``radguard decoy`` (a decoy PACS that alerts on every touch) and ``radguard decoy plant`` (honeytoken
studies in the real PACS). See docs/decoy.md.

Only typer and the standard library at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radguard.cli.options import (
    AuditFileOption,
    AuditSyslogOption,
    FailOnOption,
    JsonOption,
    NoStoreOption,
    SarifOption,
    writable_file,
)

#: where the decoy listens without --listen (every interface, the registered DICOM port: PS3.8 §G.1)
DEFAULT_LISTEN = "0.0.0.0:11112"

decoy_app = typer.Typer(help="A decoy PACS that raises a critical alert on every association, query or retrieve; "
                        "`decoy plant` puts honeytoken studies in the real PACS.", invoke_without_command=True)


def register(app: typer.Typer) -> None:
    app.add_typer(decoy_app, name="decoy")


def host_port(text: str, option: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 in brackets) or a UsageError naming ``option``."""
    from radguard.errors import UsageError
    from radguard.hostport import parse_host_port

    address = parse_host_port(text, port_zero=True)
    if address is None:
        raise UsageError(f"{option} must look like HOST:PORT, got {text!r}")
    return address


@decoy_app.callback()
def decoy_cmd(
    ctx: typer.Context,
    listen: Annotated[str, typer.Option("--listen", help=f"HOST:PORT to listen on (default {DEFAULT_LISTEN}).")]
    = DEFAULT_LISTEN,
    alerts: Annotated[Path | None, typer.Option("--alerts", callback=writable_file,
                                                help="Append one JSON line per alert to this file.")] = None,
    product: Annotated[str | None, typer.Option(
        "--product", help="Product profile to answer as: orthanc (default), dcm4chee, conquest, dcmqrscp.")] = None,
    audit_file: AuditFileOption = None,
    audit_syslog: AuditSyslogOption = None,
    per_minute: Annotated[int, typer.Option("--associations-per-minute", min=1, max=100000,
                                            help="Associations per source per minute before A-ASSOCIATE-RJ.")] = 30,
    duration: Annotated[float, typer.Option("--duration", min=0.0,
                                            help="Stop after this many seconds (0: at SIGTERM/SIGINT).")] = 0.0,
    json_out: JsonOption = False,
    sarif: SarifOption = None,
    fail_on: FailOnOption = "critical",
    no_store: NoStoreOption = False,
) -> None:
    """Answer C-ECHO/FIND/MOVE/GET/STORE to any called AE like a PACS of --product, over synthetic honeytoken
    studies, and alert on every touch (alerts file, audit trail/syslog, store). Exit 1 when touched."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio
    import logging

    from radguard.cli.output import finish
    from radguard.errors import UsageError
    from radguard.policy.decoy import DecoyLimits
    from radguard.policy.decoy_run import DecoyOptions, serve
    from radguard.policy.decoy_services import profile

    host, port = host_port(listen, "--listen")
    profile(product)  # an unknown product is a usage error before anything listens
    if audit_syslog:
        from radguard.audittrail.syslog import SyslogTarget
        from radguard.errors import ConfigError

        try:
            SyslogTarget.parse(audit_syslog)
        except (ConfigError, ValueError) as exc:
            raise UsageError(f"--audit-syslog: {str(exc).removeprefix('[audit] syslog: ')}") from None
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    opts = DecoyOptions(host=host, port=port, product=product, alerts=alerts, audit_file=audit_file,
                        audit_syslog=audit_syslog, store=not no_store,
                        limits=DecoyLimits(associations_per_minute=per_minute))

    async def main() -> object:
        stop = asyncio.Event()
        if duration:
            asyncio.get_running_loop().call_later(duration, stop.set)
        return await serve(opts, stop=stop)

    try:
        result = asyncio.run(main())
    except OSError as exc:
        raise UsageError(f"cannot start the decoy on {listen}: {exc.strerror or exc}") from None
    from radguard.policy.decoy_run import DecoyResult

    assert isinstance(result, DecoyResult)
    extra = {"listen": f"{result.address[0]}:{result.address[1]}", "product": result.profile.name,
             "ae_title": result.profile.ae_title, "studies": result.stats["studies"], "stats": result.stats,
             "alerts": result.stats["alerts"], "run": result.run_id}
    code = finish("decoy", result.findings, json_out=json_out, sarif=sarif, fail_on=fail_on, extra=extra,
                  title="Decoy touches")
    raise typer.Exit(code)


@decoy_app.command("plant")
def plant_cmd(
    pacs: Annotated[str, typer.Option("--pacs", help="HOST:PORT of the real PACS.")],
    count: Annotated[int, typer.Option("--count", min=1, max=1000, help="Honeytoken studies to plant.")] = 3,
    called_ae: Annotated[str, typer.Option("--called-ae", help="The PACS's AE title.")] = "ANY-SCP",
    calling_ae: Annotated[str, typer.Option("--calling-ae", help="Our AE title (one the PACS accepts stores "
                                                                 "from).")] = "RADGUARD",
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, max=300.0, help="Seconds per exchange.")] = 10.0,
    json_out: JsonOption = False,
    no_store: NoStoreOption = False,
) -> None:
    """C-STORE synthetic honeytoken studies into the PACS and record their UIDs (store + honeytoken file);
    the gateway and the monitor then alert when any of them is queried, retrieved or sent."""
    import asyncio

    from radguard.cli.output import emit_json
    from radguard.errors import UsageError
    from radguard.policy.honeytoken_plant import plant
    from radguard.store import honeytokens as tokens

    host, port = host_port(pacs, "--pacs")
    for title, opt in ((called_ae, "--called-ae"), (calling_ae, "--calling-ae")):
        if not (0 < len(title.strip()) <= 16 and title.isascii() and title.isprintable() and "\\" not in title):
            raise UsageError(f"{opt} must be 1-16 printable ASCII characters without backslash: {title!r}")
    store = None
    if not no_store:  # the store first: an unreachable store must not leave studies planted but unrecorded
        from radguard.store import open_store

        store = open_store()
    try:
        result = asyncio.run(plant(host, port, count=count, called_ae=called_ae, calling_ae=calling_ae,
                                   timeout=timeout))
        if result.planted:
            uids = {uid: {**attrs, "target": result.target} for s in result.planted for uid, attrs in s.uids().items()}
            tokens.append_file(uids)
            if store is not None:
                with store.run("decoy-plant", {"pacs": result.target, "count": count}) as run:
                    tokens.add(run, uids)
                    run.finish({"planted": len(result.planted), "instances": result.instances_stored})
                result.run_id = run.id
    finally:
        if store is not None:
            store.close()
    if json_out:
        emit_json("decoy-plant", result.to_dict())
    else:
        typer.echo(f"planted {len(result.planted)}/{count} honeytoken studies ({result.instances_stored} instances) "
                   f"in {result.target}" + (f"; error: {result.error}" if result.error else "")
                   + (f"; {len(result.failed)} refused" if result.failed else ""))
    if not result.planted:  # an unreachable or refusing PACS is a result (README "CLI contract"), not exit 2
        raise typer.Exit(1)
