"""Governance in the console: control status from evidence, overdue obligations, the risk register, the
risks accepted here, the exercise runs and workforce training (the same shapes as ``radguard govern status
--json``, ``radguard risk --json`` and ``radguard train status --json``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from radguard.govern import risk
from radguard.govern.status import govern_status
from radguard.govern.training_status import TrainingSummary
from radguard.govern.training_status import summary as training_summary
from radguard.store import queries
from radguard.store.console import list_acceptances
from radguard.web.deps import console_of, render_view
from radguard.web.state import Console

router = APIRouter()
#: risks shown on the page (the API returns them all)
TOP_RISKS = 10


def governance(console: Console) -> dict[str, Any]:
    store = console.store()
    # not cached: answers, records and risk decisions change governance without a new run
    status = govern_status(store)
    register = risk.register(store)
    ranked = sorted(register, key=lambda r: (-r.residual.value, -r.inherent.value, r.id))
    _, exercises = queries.runs_page(store, kind="exercise", limit=20)
    return {"status": status, "summary": {fw: status.counts(fw) for fw in status.frameworks},
            "overdue": status.overdue, "obligations": status.obligations, "risks": ranked,
            "top_risks": ranked[:TOP_RISKS], "acceptances": list_acceptances(store, limit=200),
            "exercises": exercises, "training": training_summary(store, status.generated)}


def _training(st: TrainingSummary) -> dict[str, Any]:
    """The training status without the per-person due list (names and e-mails stay in ``radguard train due``)."""
    out = st.to_dict()
    out.pop("due")
    return out


@router.get("/governance", include_in_schema=False)
def governance_page(request: Request) -> Response:
    return render_view(request, "web/governance.html.j2", governance)


@router.get("/api/governance", tags=["governance"])
def governance_json(request: Request) -> dict[str, Any]:
    """Control status per framework (``summary``: met / partial / not met / unknown counts; ``status``: the
    shape of ``radguard govern status --json``), ``overdue`` obligation ids, ``risks`` (the shape of
    ``radguard risk --json``), ``acceptances`` (risks accepted in this console), ``exercises`` (runs) and
    ``training`` (``radguard train status --json`` without the per-person list)."""
    data = governance(console_of(request))
    return {"schema": "radguard.governance/1", "summary": data["summary"],
            "overdue": [o.obligation.id for o in data["overdue"]], "status": data["status"].to_dict(),
            "risks": [r.to_dict() for r in data["risks"]],
            "acceptances": [a.to_dict() for a in data["acceptances"]],
            "exercises": [r.to_dict() for r in data["exercises"]], "training": _training(data["training"])}
