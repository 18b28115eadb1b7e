"""``radguard report``: the posture report as one HTML file and the same as PDF.

>>> files = write_posture_report(open_store(), Path("out"))   # doctest: +SKIP
>>> files.html, files.pdf
(PosixPath('out/report.html'), PosixPath('out/report.pdf'))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from radguard.report import plots
from radguard.report.posture import SEVERITIES, Posture, build_posture
from radguard.report.render import render_html, store_label, write_page
from radguard.store import Store


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportFiles:
    """What a report run wrote, and the posture it showed."""

    html: Path
    pdf: Path | None
    posture: Posture


def posture_html(posture: Posture, *, site: str, store_url: str, findings_limit: int = 100) -> str:
    """The posture report as one self-contained HTML page (plots inlined as SVG)."""
    rows = [(lay.label, lay.counts) for lay in posture.layers]
    points = [(t.kind, t.started, t.counts) for t in posture.trend]
    return render_html("posture.html.j2", {
        "posture": posture,
        "site": site,
        "store_url": store_url,
        "generated": posture.generated,
        "severities": [s.value for s in SEVERITIES],
        "findings_limit": findings_limit,
        "plots": {
            "layers": plots.severity_bars(rows, title="Open findings by layer"),
            "trend": plots.trend_lines(points, title="Critical + high findings per run"),
        },
        "range_plots": plots.range_plots(posture.range.summary) if posture.range else {},
        "range_fp": plots.false_positive_total(posture.range.summary) if posture.range else 0,
    })


def write_posture_report(store: Store, out_dir: Path, *, pdf: bool = True, site: str = "the department",
                         findings_limit: int = 100) -> ReportFiles:
    """Build the posture from ``store`` and write ``report.html`` (and ``report.pdf``) into ``out_dir``."""
    posture = build_posture(store)
    html = posture_html(posture, site=site, store_url=store_label(store.engine.url), findings_limit=findings_limit)
    html_path, pdf_path = write_page(html, out_dir, "report", pdf=pdf)
    return ReportFiles(html=html_path, pdf=pdf_path, posture=posture)
