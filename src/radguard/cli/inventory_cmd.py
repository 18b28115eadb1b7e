"""``radguard inventory``: assets merged from scans, the gateway's audit trail and monitor records; network map."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radguard.cli.options import writable_file


def register(app: typer.Typer) -> None:
    app.command("inventory", help="Asset inventory and network map from what radguard saw (scan, gateway, "
                "monitor).")(inventory_cmd)


def inventory_cmd(
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object on stdout (assets under \"assets\")."),
    csv_out: Annotated[Path | None, typer.Option("--csv", callback=writable_file,
                                                 help="Also write the inventory as CSV.")] = None,
    map_out: Annotated[Path | None, typer.Option("--map", callback=writable_file,
                                                 help="Also write the network map (Graphviz SVG).")] = None,
    dot_out: Annotated[Path | None, typer.Option("--dot", callback=writable_file,
                                                 help="Also write the network map as Graphviz DOT.")] = None,
) -> None:
    """One entry per address: ports, AE titles, product, version, role, TLS, first and last seen; who talks to whom."""
    from radguard.cli.output import emit_json, stdout_console
    from radguard.errors import UsageError
    from radguard.govern import inventory as iv
    from radguard.report.render import write_atomic
    from radguard.store import open_store

    store = open_store()
    try:
        inv = iv.build_inventory(store)
    finally:
        store.close()
    dot = iv.to_dot(inv)
    outputs: list[tuple[Path | None, str]] = [(csv_out, "csv"), (dot_out, "dot"), (map_out, "svg")]
    for path, kind in outputs:
        if path is None:
            continue
        data = iv.to_csv(inv) if kind == "csv" else dot if kind == "dot" else iv.render_svg(dot)
        try:
            write_atomic(path, data.encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}") from None
    if json_out:
        emit_json("inventory", {**inv.to_dict(), "roles": iv.roles(inv)})
        return
    from rich.table import Table

    t = Table(title=f"Inventory ({len(inv.assets)} assets, {len(inv.edges)} conversations)")
    for col in ("address", "role", "ports", "AE titles", "product", "TLS", "seen by", "last seen"):
        t.add_column(col, overflow="fold")
    for a in inv.assets:
        t.add_row(a.address, a.role, " ".join(map(str, sorted(a.ports))), " ".join(sorted(a.ae_titles)),
                  " ".join(x for x in (a.product, a.version) if x), "—" if a.tls is None else "yes" if a.tls else "no",
                  ", ".join(sorted(a.sources)), a.last_seen.strftime("%Y-%m-%d %H:%M") if a.last_seen else "—")
    stdout_console().print(t)
