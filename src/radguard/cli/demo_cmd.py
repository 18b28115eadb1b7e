"""``radguard demo`` (what ``make demo`` runs): a simulated imaging department on loopback,
attacked and defended by every part of radguard (see :mod:`radguard.range.demo`).

Only typer and the standard library at import time; the range loads inside the command.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("demo", help="Attack and defend a simulated imaging department on loopback; results in demo-out/.")(
        demo_cmd)


def demo_cmd() -> None:
    """Start Orthanc, storescp and dcmqrscp on 127.0.0.1, run every drill, print the efficacy table.

    Everything the demo produced (store, JSON, SARIF, Zeek log) is written to ``demo-out/`` in the
    current directory. Exit 0 when every step succeeded, 1 when one failed, 2 when the department
    could not be started.
    """
    from radguard.range.demo import main

    raise typer.Exit(main())
