"""The range report: the ``radguard.range/1`` results as one HTML page and the same as PDF, through the
shared rendering layer (:mod:`radguard.report.render`, ``templates/range.html.j2``, :mod:`radguard.report.plots`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from radguard.report import plots
from radguard.report.render import html_to_pdf, render_html, write_atomic


def range_html(doc: Mapping[str, Any], *, generated: datetime | None = None) -> str:
    """The range report of ``doc`` (a ``radguard.range/1`` document) as one self-contained HTML page."""
    attacks = list(doc.get("attacks", []))
    ttd_rows = [(a["attack"], {d["layer"]: float(d["time_to_detect_ms"]) for d in a["detected_by"]})
                for a in attacks if a["detected_by"]]
    impact_rows = [(a["attack"], {k: int(v) for k, v in a["impact"].items()
                                  if k.startswith("objects_") and int(v) > 0}) for a in attacks]
    fps = doc.get("benign", {}).get("false_positives", {})
    return render_html("range.html.j2", {
        "doc": doc,
        "generated": generated or datetime.now(UTC),
        "fp_total": sum(int(v) for v in fps.values()),
        "plots": {
            "ttd": plots.time_to_detect(ttd_rows, title="Time to detect, per attack and layer"),
            "impact": plots.impact_bars([r for r in impact_rows if r[1]], title="Impact with every layer on"),
        },
    })


def write_range_report(doc: Mapping[str, Any], out_dir: Path, *, pdf: bool = True,
                       name: str = "report") -> tuple[Path, Path | None]:
    """Write ``<name>.html`` (and ``<name>.pdf``) into ``out_dir``; returns their paths."""
    html = range_html(doc)
    html_path = out_dir / f"{name}.html"
    write_atomic(html_path, html.encode("utf-8"))
    pdf_path = None
    if pdf:
        pdf_path = out_dir / f"{name}.pdf"
        write_atomic(pdf_path, html_to_pdf(html, base_url=str(out_dir)))
    return html_path, pdf_path
