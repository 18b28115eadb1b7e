"""``radguard policy learn|replay|diff``: least privilege learned from traffic, replayed through the gateway's
own policy engine before it is enforced, and compared with a running policy (see docs/policy.md).

Only typer and the standard library at import time; the policy code loads inside each command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radguard.cli.options import JsonOption, writable_file

policy_app = typer.Typer(help="Least-privilege gateway policy: learn from traffic, replay, diff.",
                         no_args_is_help=True)
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="gateway.toml (docs/gateway.md).")]


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")


@policy_app.command("learn")
def learn_cmd(
    captures: Annotated[list[Path] | None, typer.Argument(help="pcap/pcapng files (read as one capture).")] = None,
    from_store: bool = typer.Option(False, "--from-store", help="Learn from the monitor records in the store."),
    out: Annotated[Path | None, typer.Option("--out", "-o", callback=writable_file,
                                             help="Write the draft gateway.toml here (default: stdout).")] = None,
    nft_out: Annotated[Path | None, typer.Option("--nft", callback=writable_file,
                                                 help="Write the nftables ruleset here.")] = None,
    listen: str = typer.Option("0.0.0.0:11112", "--listen", help="The gateway's [gateway] listen IP:PORT."),
    min_associations: int = typer.Option(1, "--min-associations",
                                         help="Released associations before an (AE, host) pair is kept (>= 1)."),
    json_out: JsonOption = False,
) -> None:
    """Draft a least-privilege gateway.toml (and an nftables ruleset) from observed DICOM traffic."""
    from radguard.cli.output import finish
    from radguard.policy.run import check_learn_args, run_learn, traffic_of

    check_learn_args(listen, min_associations)  # before a long read
    learned = run_learn(traffic_of(captures or [], from_store), listen, min_associations)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(learned.config_text, encoding="utf-8")
    if nft_out is not None:
        nft_out.parent.mkdir(parents=True, exist_ok=True)
        nft_out.write_text(learned.nft_text, encoding="utf-8")
    for w in learned.warnings:
        typer.echo(f"warning: {w}", err=True)

    def human() -> None:
        if out is None:
            typer.echo(learned.config_text, nl=False)
        p = learned.policy
        typer.echo(f"{p.entries} entries learned: {len(p.peers)} peer(s), upstream {p.upstream_ae} at "
                   f"{p.upstream[0]}:{p.upstream[1]}; {len(p.held_back)} host(s) held back"
                   + (f"; wrote {out}" if out else "") + (f", {nft_out}" if nft_out else ""), err=True)

    extra = {**learned.summary(), "config": str(out) if out else None, "nft": str(nft_out) if nft_out else None}
    if out is None:
        extra["config_text"] = learned.config_text
    raise typer.Exit(finish("policy-learn", [], json_out=json_out, sarif=None, extra=extra, human=human))


@policy_app.command("replay")
def replay_cmd(
    capture: Annotated[list[Path], typer.Argument(help="pcap/pcapng files (read as one capture).")],
    config: ConfigOption,
    json_out: JsonOption = False,
) -> None:
    """Replay recorded traffic through the gateway's own policy engine: what would have been refused."""
    from radguard.cli.output import finish, stdout_console
    from radguard.policy.run import run_replay

    result = run_replay(capture, config)

    def human() -> None:
        con = stdout_console()
        con.print(f"{result.associations} association(s), {result.requests} request(s) replayed: "
                  f"{len(result.refused)} refused")
        for row in result.by_peer():
            con.print(f"  refused {row['count']}x {row['operation']} of {row['peer']}@{row['host']} "
                      f"({row['rule']})", markup=False, highlight=False)
        for why, n in result.skipped.items():
            con.print(f"  skipped {n}: {why}", markup=False, highlight=False)

    raise typer.Exit(finish("policy-replay", [], json_out=json_out, sarif=None, extra={
        "config": str(config), "captures": [str(c) for c in capture], **result.to_dict()}, human=human))


@policy_app.command("diff")
def diff_cmd(
    captures: Annotated[list[Path], typer.Argument(help="pcap/pcapng files (read as one capture).")],
    config: ConfigOption,
    json_out: JsonOption = False,
) -> None:
    """Entries of a gateway policy wider than the observed use (unused peers, hosts, services, ...)."""
    from radguard.cli.output import finish, stdout_console
    from radguard.policy.run import run_diff

    wider = run_diff(captures, config)

    def human() -> None:
        con = stdout_console()
        con.print(f"{len(wider)} entr{'y' if len(wider) == 1 else 'ies'} wider than observed use")
        for w in wider:
            con.print(f"  {w.peer}: {w.kind} {w.entry}: {w.detail}", markup=False, highlight=False)

    raise typer.Exit(finish("policy-diff", [], json_out=json_out, sarif=None, extra={
        "config": str(config), "captures": [str(c) for c in captures], "wider": [w.to_dict() for w in wider]},
        human=human))
