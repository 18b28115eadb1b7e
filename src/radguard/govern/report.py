"""``radguard govern report``: the governance report (HTML and PDF through the shared rendering layer),
OSCAL assessment results and POA&M (compliance-trestle models), and the POA&M as CSV.

>>> files = write_govern_report(open_store(), Path("out"), site="Radiology West")   # doctest: +SKIP
>>> sorted(p.name for p in files.paths())                                            # doctest: +SKIP
['assessment-results.json', 'governance.html', 'governance.pdf', 'poam.csv', 'poam.json']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radguard import catalog
from radguard.govern import oscal, risk
from radguard.govern.plan import PlanItem, plan_items, to_csv
from radguard.govern.questions import State
from radguard.govern.status import COUNTED_KINDS, GovernStatus, govern_status
from radguard.govern.training_phish import STEPS
from radguard.govern.training_status import TrainingSummary
from radguard.govern.training_status import summary as training_summary
from radguard.report import plots
from radguard.report.render import render_html, store_label, write_atomic, write_page
from radguard.store import Store

#: HIPAA Security Rule sections, in the order the report shows them
HIPAA_SECTIONS: tuple[tuple[str, str], ...] = (
    ("164.308", "Administrative safeguards (45 CFR 164.308)"),
    ("164.310", "Physical safeguards (45 CFR 164.310)"),
    ("164.312", "Technical safeguards (45 CFR 164.312)"),
    ("164.314", "Organizational requirements (45 CFR 164.314)"),
    ("164.316", "Policies, procedures and documentation (45 CFR 164.316)"),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class GovernFiles:
    html: Path
    pdf: Path | None
    assessment_results: Path
    poam_json: Path
    poam_csv: Path
    status: GovernStatus
    risks: tuple[risk.Risk, ...]
    items: tuple[PlanItem, ...]
    training: TrainingSummary | None = None

    def paths(self) -> list[Path]:
        return [p for p in (self.html, self.pdf, self.assessment_results, self.poam_json, self.poam_csv) if p]


def _closing(st: GovernStatus) -> list[dict[str, Any]]:
    rows = []
    for fw in st.frameworks:
        cov = st.coverage[fw]
        rows.append({"framework": fw, "name": catalog.load(fw).name, **cov, **st.counts(fw)})
    return rows


def governance_html(st: GovernStatus, risks: Sequence[risk.Risk], items: Sequence[PlanItem], *, site: str,
                    store_url: str, trend: Sequence[Mapping[str, Any]] = (),
                    training: TrainingSummary | None = None) -> str:
    """The governance report as one self-contained HTML page (heat maps inlined as SVG)."""
    matrix = [[int(c) for c in row] for row in risk.RISK_MATRIX]
    hipaa = [c for c in st.controls if c.ref.startswith("hipaa:")]
    sections = [(title, [c for c in hipaa if c.ref.startswith(f"hipaa:{prefix}")]) for prefix, title in HIPAA_SECTIONS]
    current = [r for r in risks if r.current]
    return render_html("govern.html.j2", {
        "site": site, "store_url": store_url, "generated": st.generated, "status": st,
        "hipaa_counts": st.counts("hipaa") if "hipaa" in st.frameworks else None,
        "sections": [(t, cs) for t, cs in sections if cs],
        "cpg": [c for c in st.controls if c.ref.startswith("cpg:") and c.kind in COUNTED_KINDS["cpg"]],
        "risks": current[:15], "risk_total": len(current), "items": items, "closing": _closing(st),
        "overdue": st.overdue, "obligations": st.obligations, "trend": list(trend),
        "training": next((o for o in st.obligations if o.obligation.id == "training"), None),
        "workforce": training if training is not None and training.people else None, "phish_steps": STEPS,
        "states": [s.value for s in (State.MET, State.PARTIAL, State.NOT_MET, State.UNKNOWN)],
        "plots": {
            "inherent": plots.risk_heatmap(risk.heat_cells(risks), matrix, title="Inherent risk"),
            "residual": plots.risk_heatmap(risk.heat_cells(risks, residual=True), matrix, title="Residual risk"),
        },
    })


def write_govern_report(store: Store, out_dir: Path, *, pdf: bool = True, site: str = "the department",
                        frameworks: Sequence[str] = ("hipaa", "csf", "hicp", "cpg"),
                        intervals: Mapping[str, int] | None = None) -> GovernFiles:
    """Compute status, register and plan from ``store`` and write the five files into ``out_dir``.

    The register's levels are kept as a snapshot (the trend of the next report starts from it).
    """
    st = govern_status(store, frameworks, intervals)
    risks = risk.register(store)
    last_exercise = store.latest_run("exercise")
    items = plan_items(st.controls, risks, exercise=last_exercise.summary
                       if last_exercise and last_exercise.status == "done" else None)
    history = risk.trend(store)
    trained = training_summary(store, st.generated)
    html = governance_html(st, risks, items, site=site, store_url=store_label(store.engine.url), trend=history,
                           training=trained)
    ar = oscal.to_json(oscal.assessment_results(st, risks, site=site))
    pm = oscal.to_json(oscal.poam(st, risks, items, site=site))
    html_path, pdf_path = write_page(html, out_dir, "governance", pdf=pdf)
    ar_path, pm_path, csv_path = out_dir / "assessment-results.json", out_dir / "poam.json", out_dir / "poam.csv"
    write_atomic(ar_path, ar.encode("utf-8"))
    write_atomic(pm_path, pm.encode("utf-8"))
    write_atomic(csv_path, to_csv(items).encode("utf-8"))
    risk.snapshot(store, risks, "govern report")
    return GovernFiles(html=html_path, pdf=pdf_path, assessment_results=ar_path, poam_json=pm_path,
                       poam_csv=csv_path, status=st, risks=tuple(risks), items=tuple(items), training=trained)
