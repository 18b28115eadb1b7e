"""The JSON API: one twin per page, the shapes of the CLI's ``--json`` output (``"schema": "radguard.<kind>/1"``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from radguard.audittrail.codes import EventTypeCode
from radguard.store.console import add_acceptance
from radguard.web import views
from radguard.web.deps import client_of, console_of, require, session_of
from radguard.web.security import Session

router = APIRouter(prefix="/api")


@router.get("/overview", tags=["posture"])
def overview(request: Request) -> dict[str, Any]:
    """Open findings by severity and layer, trend, rules, controls (as ``radguard report --json``), last dates."""
    return views.overview_json(views.overview(console_of(request)))


@router.get("/findings", tags=["findings"])
def findings(request: Request, severity: list[str] = Query([]), rule: str = "", kind: str = "", target: str = "",
             run: str = "", page: str = "1", after: str = "") -> dict[str, Any]:
    """Open findings (or one run's), filtered, worst first, one page at a time.

    ``next`` is the query string of the next page (keyset: ``after=<severity.run.id>``, cheap at any depth).
    """
    q = views.FindingsQuery.parse(severity, rule, kind, target, run, page, after)
    data = views.findings(console_of(request), q)
    p = data["page"]
    return {"schema": "radguard.findings/1", "run": data["run"].to_dict() if data["run"] else None,
            "total": p.total, "page": data["number"], "pages": data["pages"], "page_size": p.limit,
            "next": q.qs(page=data["number"] + 1, after=p.next_after) if p.next_after else None,
            "findings": [{**views.finding_json(i, data["kind_of"].get(i.run_id)),
                          "accepted": data["accepted"][(i.finding.rule, i.finding.target)].to_dict()
                          if (i.finding.rule, i.finding.target) in data["accepted"] else None}
                         for i in p.items]}


@router.get("/findings/diff", tags=["findings"])
def diff(request: Request, a: str = "", b: str = "") -> dict[str, Any]:
    """Findings new, fixed, unchanged and re-rated between runs ``a`` and ``b`` of the same kind."""
    return views.diff_json(views.diff(console_of(request), a, b))


@router.get("/findings/{finding_id}", tags=["findings"])
def finding(request: Request, finding_id: int) -> dict[str, Any]:
    """One finding with its run, controls and accepted-risk history."""
    d = views.finding_detail(console_of(request), finding_id)
    kind = d["run"].kind if d["run"] else None
    return {"schema": "radguard.finding/1", "finding": views.finding_json(d["item"], kind),
            "controls": [{"control": ref, "title": title, "framework": fw} for ref, title, fw in d["controls"]],
            "acceptances": [a.to_dict() for a in d["acceptances"]]}


class AcceptRequest(BaseModel):
    """Accept the risk of a finding's (rule, target) until ``expires`` (YYYY-MM-DD, within a year)."""

    reason: str = Field(max_length=2000)
    expires: str = Field(max_length=40)


@router.post("/findings/{finding_id}/accept", tags=["findings"])
def accept(request: Request, finding_id: int, body: AcceptRequest,
           session: Session = Depends(require("operator"))) -> dict[str, Any]:
    """Record an accepted risk (operator or admin); audited."""
    console = console_of(request)
    d = views.finding_detail(console, finding_id)
    text, until = views.parse_acceptance(body.reason, body.expires)
    f = d["item"].finding
    acc = add_acceptance(console.store(), rule=f.rule, target=f.target, finding_id=finding_id, reason=text,
                         expires=until, accepted_by=session.user.name)
    console.audit.action(session.user.name, client_of(request),
                         f"risk accepted: rule {f.rule} (finding #{finding_id}) until {until:%Y-%m-%d}",
                         kind=EventTypeCode.OBJECT_SECURITY_ATTRIBUTES_CHANGED)
    return {"schema": "radguard.acceptance/1", "acceptance": acc.to_dict()}


@router.get("/runs", tags=["runs"])
def runs(request: Request, kind: str = "", page: str = "1") -> dict[str, Any]:
    """Runs newest first (as ``radguard findings runs --json``), with their findings by severity."""
    data = views.runs(console_of(request), kind, page)
    return {"schema": "radguard.runs/1", "total": data["total"], "page": data["page"], "pages": data["pages"],
            "runs": [{**r.to_dict(), "findings": data["counts"][r.id]} for r in data["runs"]]}


@router.get("/runs/{run_id}", tags=["runs"])
def run(request: Request, run_id: int) -> dict[str, Any]:
    data = views.run_detail(console_of(request), run_id)
    return {"schema": "radguard.run/1", "run": data["run"].to_dict(), "findings": data["counts"]}


@router.get("/assets", tags=["assets"])
def assets(request: Request, page: str = "1") -> dict[str, Any]:
    """Assets seen by the latest finished run of each kind."""
    data = views.assets(console_of(request), page)
    return {"schema": "radguard.assets/1", "total": data["total"], "page": data["page"], "pages": data["pages"],
            "assets": [{"run": rid, "layer": data["kind_of"].get(rid), **a.to_dict()} for rid, a in data["assets"]]}


@router.get("/me", tags=["session"])
def me(request: Request) -> dict[str, Any]:
    """The logged-in user, their role and the CSRF token to send as ``X-CSRF-Token``."""
    s = session_of(request)
    return {"schema": "radguard.session/1", "user": s.user.to_dict(), "csrf": s.csrf}
