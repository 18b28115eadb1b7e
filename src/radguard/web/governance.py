"""Governance and exercises: a clearly labelled placeholder until ``radguard.govern`` exists.

The governance module (control status with evidence, risk register, obligations; ``radguard govern
status --json``) is being built; until it lands this page says so and shows what the store already
holds: the risks accepted in this console and the exercise runs (``radguard range``) with their dates.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from radguard.store import queries
from radguard.store.console import list_acceptances
from radguard.web.deps import console_of
from radguard.web.state import Console

router = APIRouter()
NOT_YET = ("Governance (control status with evidence, risk register, obligations) is not available in this "
           "installation yet: the radguard govern module has not been installed. Until then this page shows "
           "the risks accepted in this console and the exercise runs in the store.")


def governance(console: Console) -> dict[str, Any]:
    store = console.store()
    _, exercises = queries.runs_page(store, kind="exercise", limit=20)
    return {"available": False, "notice": NOT_YET, "acceptances": list_acceptances(store, limit=200),
            "exercises": exercises}


@router.get("/governance", include_in_schema=False)
def governance_page(request: Request) -> Response:
    console = console_of(request)
    return console.render("web/governance.html.j2", governance(console), request=request)


@router.get("/api/governance", tags=["governance"])
def governance_json(request: Request) -> dict[str, Any]:
    """Placeholder: ``available`` is false until ``radguard govern`` is installed; ``acceptances`` (the risks
    accepted in this console) and ``exercises`` (exercise runs) are real."""
    data = governance(console_of(request))
    return {"schema": "radguard.governance/1", "available": False, "notice": data["notice"],
            "acceptances": [a.to_dict() for a in data["acceptances"]],
            "exercises": [r.to_dict() for r in data["exercises"]]}
