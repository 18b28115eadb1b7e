"""``radguard controls list|show``: browse the control catalogs findings cite.

The catalogs (HIPAA Security Rule 45 CFR 164.308/.310/.312/.314/.316, NIST CSF 2.0,
HHS 405(d) HICP, HPH Cybersecurity Performance Goals, DICOM PS3.15 profiles) are versioned data files in
:mod:`radguard.catalog`; see its ``README.md`` for editions and sources.
Only typer and the standard library are imported at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from radguard.cli.options import JsonOption

if TYPE_CHECKING:
    from radguard.catalog import Catalog, Control

controls_app = typer.Typer(
    help="Browse the control catalogs (HIPAA, NIST CSF 2.0, HICP, HPH CPGs, DICOM PS3.15) that findings cite.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(controls_app, name="controls")


def _catalog(framework: str) -> Catalog:
    from radguard import catalog
    from radguard.errors import UsageError

    try:
        return catalog.load(framework)
    except KeyError:
        raise UsageError(
            f"unknown control framework {framework!r} (have: {', '.join(catalog.frameworks())})"
        ) from None


def _control_dict(c: Control) -> dict[str, Any]:
    """The JSON form of a control: its reference, then its fields."""
    from dataclasses import asdict

    return {"ref": c.ref, **asdict(c)}


def _catalog_dict(cat: Catalog) -> dict[str, Any]:
    return {
        "framework": cat.framework,
        "name": cat.name,
        "edition": cat.edition,
        "source": cat.source,
        "count": len(cat.controls),
    }


def _hipaa_label(required: bool | None) -> str:
    """HIPAA implementation specifications are Required or Addressable (45 CFR 164.306(d))."""
    if required is None:
        return ""
    return "required" if required else "addressable"


def _short_ra(required: bool | None) -> str:
    return "" if required is None else ("R" if required else "A")


@controls_app.command("list")
def list_cmd(
    framework: list[str] = typer.Option(
        None, "--framework", "-f", help="Only this framework (repeatable): hipaa, csf, hicp, cpg, dicom."
    ),
    kind: str = typer.Option(
        None, "--kind", help="Only this kind, e.g. subcategory, category, standard, sub-practice, goal, profile."
    ),
    search: str = typer.Option(None, "--search", "-s", help="Only controls whose id or title contains this text."),
    json_out: JsonOption = False,
) -> None:
    """List controls of one or more catalogs."""
    from radguard import catalog
    from radguard.cli.output import emit_json, stdout_console

    names = list(framework) if framework else catalog.frameworks()
    cats = [_catalog(n) for n in names]
    needle = search.casefold() if search else None
    rows: list[Control] = []
    for cat in cats:
        for c in cat.controls.values():
            if kind is not None and c.kind != kind:
                continue
            if needle is not None and needle not in c.id.casefold() and needle not in c.title.casefold():
                continue
            rows.append(c)
    if json_out:
        emit_json(
            "controls",
            {"catalogs": [_catalog_dict(c) for c in cats], "controls": [_control_dict(c) for c in rows]},
        )
        return
    from rich.text import Text

    from radguard.cli.tables import Column, print_table

    with_req = any(c.required is not None for c in rows)
    columns = [Column("ref", "key"), Column("kind", "key"), Column("title")]
    if with_req:
        columns.append(Column("R/A", "key"))  # HIPAA: Required / Addressable implementation specification
    cells = [(Text(c.ref), c.kind, Text(c.title), *((_short_ra(c.required),) if with_req else ())) for c in rows]
    console = stdout_console()
    print_table(console, columns, cells, title="Controls",
                caption="\n".join(f"{c.framework}: {c.name}, {c.edition}" for c in cats))
    console.print(f"{len(rows)} control(s)")


@controls_app.command("show")
def show_cmd(
    ref: str = typer.Argument(..., help="A control reference, e.g. hipaa:164.312(e)(1), csf:PR.DS-02, hicp:6.M.B."),
    json_out: JsonOption = False,
) -> None:
    """Show one control, its parent and its children."""
    from radguard import catalog
    from radguard.cli.output import emit_json, stdout_console
    from radguard.errors import UsageError

    framework, sep, _ = ref.partition(":")
    if not sep:
        raise UsageError(f"control reference must look like 'framework:id', got {ref!r}")
    cat = _catalog(framework)
    try:
        control = catalog.resolve(ref)
    except KeyError:
        raise UsageError(f"{ref!r} is not in the {cat.name} catalog ({cat.edition})") from None
    parent = cat.controls.get(control.parent) if control.parent else None
    kids = catalog.children(ref)
    if json_out:
        emit_json(
            "control",
            {
                "catalog": _catalog_dict(cat),
                "control": _control_dict(control),
                "parent": _control_dict(parent) if parent else None,
                "children": [_control_dict(k) for k in kids],
            },
        )
        return
    console = stdout_console()
    console.print(f"[bold]{control.ref}[/bold]  {control.title}", highlight=False)
    console.print(f"kind: {control.kind}" + (f" ({_hipaa_label(control.required)})" if control.required is not None
                                             else ""), highlight=False)
    if control.text:
        console.print(control.text, highlight=False)
    if parent is not None:
        console.print(f"parent: {parent.ref}  {parent.title}", highlight=False)
    for k in kids:
        console.print(f"  - {k.ref}  {k.title}", highlight=False)
    console.print(f"source: {cat.name}, {cat.edition}; {cat.source}", highlight=False)
