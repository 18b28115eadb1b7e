"""``radguard gateway`` (run the DICOM security gateway) and ``radguard contain`` (incident containment)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from radguard.cli.options import JsonOption, writable_file

if TYPE_CHECKING:
    from radguard.gateway.config import GatewayConfig


def register(app: typer.Typer) -> None:
    app.command("gateway", help="Run the DICOM security gateway in front of a PACS (see docs/gateway.md).")(
        gateway_cmd)
    app.command("contain", help="Contain a running gateway: shut a peer out, read-only, downtime, release.")(
        contain_cmd)
    app.command("audit-fhir", help="Export a gateway audit file (JSON Lines) as a FHIR AuditEvent Bundle.")(
        audit_fhir_cmd)


def _load(config: Path) -> GatewayConfig:
    """:func:`radguard.gateway.config.load_config`, with a binary file as a one-line error (exit 2)."""
    from radguard.errors import ConfigError
    from radguard.gateway.config import load_config

    try:
        return load_config(config)
    except UnicodeDecodeError:
        raise ConfigError(f"{config}: not a text file (a TOML gateway configuration is expected)") from None


def _shown(value: str, limit: int = 40) -> str:
    """A user-supplied value for a message: printable, at most ``limit`` characters."""
    clean = "".join(c if c.isprintable() else "?" for c in value)
    return clean if len(clean) <= limit else f"{clean[:limit]}... ({len(value)} characters)"


def check_peer(cfg: GatewayConfig, peer: str) -> None:
    """``--peer`` must be an AE title (PS3.5 VR AE: at most 16 characters) of a configured ``[[peer]]``.

    During an incident a typo must not leave the real peer open while the command says "contained"
    (issue 16 item 5): an unknown AE is a usage error naming the known ones.
    """
    from radguard.errors import UsageError

    known = sorted(cfg.peers)
    listing = ", ".join(known) if known else "none (the configuration has no [[peer]])"
    if len(peer) > 16 or not peer.strip() or not peer.isprintable() or "\\" in peer:
        raise UsageError(f"--peer {_shown(peer)}: not an AE title (1-16 printable characters, PS3.5 VR AE); "
                         f"known peers: {listing}")
    if peer not in cfg.peers:
        import difflib

        close = difflib.get_close_matches(peer, known, n=1) or [k for k in known if k.lower() == peer.lower()]
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(f"--peer {peer}: not a [[peer]] of {cfg.source or 'the configuration'}{hint}; "
                         f"known peers: {listing}")


def _check(path: Path, cfg: GatewayConfig, json_out: bool) -> None:
    """``--check``: what a start does short of binding (:func:`radguard.gateway.startup.prepare`)."""
    from radguard.gateway.startup import prepare, unresolved_hosts

    startup = prepare(cfg, create=False)  # ConfigError: exit 2 with the key
    warnings = [*cfg.warnings, *unresolved_hosts(cfg)]
    holds = startup.containment.to_dict()["holds"]
    if json_out:
        from radguard.cli.output import emit_json

        emit_json("gateway-config", {
            "listen": cfg.listen, "listen_tls": cfg.listen_tls, "upstream": cfg.upstream,
            "upstream_ae": cfg.upstream_ae, "ae_title": cfg.ae_title, "peers": sorted(cfg.peers),
            "control": str(cfg.control), "containment": holds, "warnings": warnings})
        return
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)
    held = f"; {len(holds)} containment(s) in force at start" if holds else ""
    typer.echo(f"{path}: OK ({len(cfg.peers)} peers{held})", err=True)


def gateway_cmd(
    config: Path = typer.Option(..., "--config", "-c", help="gateway.toml (docs/gateway.md)."),
    check: bool = typer.Option(False, "--check", help="Do everything a start does short of listening, and exit."),
    json_out: bool = typer.Option(False, "--json", help="With --check: print the configuration as JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every association on stderr."),
) -> None:
    """Listen for DICOM (and DICOM TLS) associations and relay them to the upstream PACS under policy."""
    import asyncio
    import logging

    cfg = _load(config)
    if check:
        _check(config, cfg, json_out)
        raise typer.Exit(0)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("radguard.gateway").setLevel(logging.INFO)
    from radguard.gateway.server import run_gateway

    try:
        asyncio.run(run_gateway(cfg))
    except OSError as exc:
        from radguard.errors import UsageError

        raise UsageError(f"cannot start the gateway: {exc.strerror or exc}") from None


def contain_cmd(
    config: Path = typer.Option(..., "--config", "-c", help="The running gateway's gateway.toml."),
    peer: str = typer.Option(None, "--peer", help="AE title: shut it out (alone), or scope --read-only/--release."),
    read_only: bool = typer.Option(False, "--read-only", help="Refuse C-STORE (gateway-wide or for --peer)."),
    downtime: bool = typer.Option(False, "--downtime", help="Reject every new association, abort open ones."),
    release: bool = typer.Option(False, "--release", help="Lift containment (all, or for --peer)."),
    status: bool = typer.Option(False, "--status", help="Show the containment in force: what, who, since when."),
    json_out: JsonOption = False,
) -> None:
    """Talk to the running gateway over its control socket; takes effect at once and is audited."""
    from radguard.cli.output import emit_json
    from radguard.errors import UsageError
    from radguard.gateway.control import send_control

    modes = [m for m, on in (("read-only", read_only), ("downtime", downtime), ("release", release),
                             ("status", status)) if on]
    if len(modes) > 1:
        raise UsageError("choose one of --read-only, --downtime, --release, --status")
    if not modes and not peer:
        raise UsageError("nothing to do: give --peer AE, --read-only, --downtime, --release or --status")
    action = modes[0] if modes else "peer"
    if action in ("downtime", "status") and peer:
        raise UsageError(f"--{action} applies to the whole gateway; drop --peer")
    cfg = _load(config)
    if peer is not None:
        check_peer(cfg, peer)
    reply = send_control(cfg, action, peer)
    if json_out:
        emit_json("contain", {k: v for k, v in reply.items() if k != "ok"})
        return
    if reply.get("warning"):
        typer.echo(f"warning: containment {reply['warning']}: a restart would lose it", err=True)
    if action == "status":
        typer.echo(f"open associations: {reply['open_associations']}")
        typer.echo(_holds_text(reply["state"]))
    else:
        typer.echo(f"contain {action}{' ' + peer if peer else ''}: applied, {reply['aborted']} association(s) "
                   f"aborted")
        typer.echo(_holds_text(reply["state"]))


def _holds_text(state: dict[str, Any]) -> str:
    """The containments in force, one per line: what, who (OS user / console user), since when."""
    holds = state.get("holds") or []
    if not holds:
        return "containment: none"
    lines = [f"containment: {len(holds)} in force"]
    for h in holds:
        who = f"{h['console_user']} (console, as {h['by']})" if h.get("console_user") else h["by"]
        scope = f" {h['peer']}" if h.get("peer") else ""
        what = f"peer{scope} shut out" if h["kind"] == "peer" else f"{h['kind']}{scope}"
        lines.append(f"  {what:<28} by {who}, since {h['at']}")
    return "\n".join(lines)


def audit_fhir_cmd(
    audit_file: Path = typer.Argument(..., help="The gateway's [audit] file (JSON Lines)."),
    output: Annotated[Path | None, typer.Option("--output", "-o", callback=writable_file,
                                                help="Write the Bundle here instead of stdout.")] = None,
) -> None:
    """FHIR R4 AuditEvent resources (IHE BALP), one per audit record, in a collection Bundle."""
    import json

    from radguard.audittrail.fhir import json_to_fhir
    from radguard.errors import UsageError

    not_audit = f"{audit_file}: not a gateway audit file (JSON Lines text expected)"
    try:
        data = audit_file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {audit_file}: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise UsageError(not_audit)
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise UsageError(not_audit) from None
    entries, bad = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            entries.append({"resource": json_to_fhir(json.loads(line))})
        except (ValueError, TypeError, AttributeError):
            bad += 1
    if bad and not entries:
        raise UsageError(f"{not_audit}: none of its {bad} line(s) is an audit record")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    text = json.dumps(bundle, indent=1)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)
    if bad:
        typer.echo(f"warning: {bad} unreadable line(s) skipped", err=True)
