"""The console's pages (server-rendered, no script): overview, findings, diff, runs, assets, API index."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from radguard.audittrail.codes import EventTypeCode
from radguard.store.console import add_acceptance
from radguard.web import views
from radguard.web.deps import client_of, console_of, render_view, require
from radguard.web.security import Session

router = APIRouter(include_in_schema=False)


@router.get("/")
def overview_page(request: Request) -> Response:
    return render_view(request, "web/overview.html.j2", views.overview)


@router.get("/plots/{name}.svg")
def plot(request: Request, name: str) -> Response:
    return Response(views.plot_svg(console_of(request), name), media_type="image/svg+xml")


@router.get("/findings")
def findings_page(request: Request, severity: list[str] = Query([]), rule: str = "", kind: str = "",
                  target: str = "", run: str = "", page: str = "1", after: str = "") -> Response:
    q = views.FindingsQuery.parse(severity, rule, kind, target, run, page, after)
    return render_view(request, "web/findings.html.j2", views.findings, q)


@router.get("/findings/diff")
def diff_page(request: Request, a: str = "", b: str = "") -> Response:
    return render_view(request, "web/diff.html.j2", views.diff, a, b)


@router.get("/findings/{finding_id}")
def finding_page(request: Request, finding_id: int) -> Response:
    return render_view(request, "web/finding.html.j2", views.finding_detail, finding_id)


@router.post("/findings/{finding_id}/accept")
def accept_form(request: Request, finding_id: int, reason: str = Form("", max_length=2000),
                expires: str = Form("", max_length=40), session: Session = Depends(require("operator"))) -> Response:
    console = console_of(request)
    detail = views.finding_detail(console, finding_id)
    text, until = views.parse_acceptance(reason, expires)
    f = detail["item"].finding
    add_acceptance(console.store(), rule=f.rule, target=f.target, finding_id=finding_id, reason=text,
                   expires=until, accepted_by=session.user.name)
    console.audit.action(session.user.name, client_of(request),
                         f"risk accepted: rule {f.rule} (finding #{finding_id}) until {until:%Y-%m-%d}",
                         kind=EventTypeCode.OBJECT_SECURITY_ATTRIBUTES_CHANGED)
    return RedirectResponse(f"/findings/{finding_id}", status_code=303)


@router.get("/runs")
def runs_page(request: Request, kind: str = "", page: str = "1") -> Response:
    return render_view(request, "web/runs.html.j2", views.runs, kind, page)


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: int) -> Response:
    return render_view(request, "web/run.html.j2", views.run_detail, run_id)


@router.get("/assets")
def assets_page(request: Request, page: str = "1") -> Response:
    return render_view(request, "web/assets.html.j2", views.assets, page)


@router.get("/api")
def api_index(request: Request) -> Response:
    """A readable index of the JSON API (the OpenAPI document itself is /api/openapi.json)."""
    console = console_of(request)
    spec = request.app.openapi()
    ops = [(method.upper(), path, op.get("summary", ""), op.get("description", ""))
           for path, item in spec.get("paths", {}).items() for method, op in item.items()]
    return console.render("web/api.html.j2", {"ops": ops}, request=request)
