"""The range report: the ``radguard.range/1`` results as one HTML page and the same as PDF, through the
shared rendering layer (:mod:`radguard.report.render`, ``templates/range.html.j2`` and the range sections in
``templates/_range.j2`` that the posture report shows too, :mod:`radguard.report.plots`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radguard.report import plots
from radguard.report.render import render_html, write_page


def range_html(doc: Mapping[str, Any], *, generated: datetime | None = None) -> str:
    """The range report of ``doc`` (a ``radguard.range/1`` document) as one self-contained HTML page."""
    return render_html("range.html.j2", {
        "doc": doc,
        "generated": generated or datetime.now(UTC),
        "fp_total": plots.false_positive_total(doc),
        "plots": plots.range_plots(doc),
    })


def write_range_report(doc: Mapping[str, Any], out_dir: Path, *, pdf: bool = True,
                       name: str = "report") -> tuple[Path, Path | None]:
    """Write ``<name>.html`` (and ``<name>.pdf``) into ``out_dir``; returns their paths."""
    return write_page(range_html(doc), out_dir, name, pdf=pdf)


def store_results(doc: Mapping[str, Any], *, url: str | None = None) -> int:
    """Keep ``doc`` in the store as a finished ``range`` run (its summary), so ``radguard report``, the governance
    report and the console show the last measurement; returns the run id. ``url``: the store (default: RADGUARD_DB).
    """
    import json

    from radguard.store import open_store

    body = json.loads(json.dumps({k: v for k, v in doc.items() if k != "schema"}, default=str))
    store = open_store(url)
    try:
        params = {"attacks": len(body.get("attacks", [])), "ablation": bool(body.get("ablation"))}
        run = store.start_run("range", params)
        run.finish(summary=body)
        return run.id
    finally:
        store.close()
